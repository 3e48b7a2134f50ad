// Password-hash micro-benchmark inside workerd: runs bench/hash-worker.ts under `wrangler dev`
// and times each implementation from outside (wall clock around the request, and the CPU of
// the workerd process that runs the Worker, from /proc).

import path from "node:path";
import { freePort } from "../stack/local-service.ts";
import { freezeWorker, startWranglerDev, type WranglerDev } from "../stack/wrangler-dev.ts";
import { cpuProbe, procAvailable } from "./proc-cpu.ts";

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : NaN;
};

const IMPLS = [
  { id: "native", label: "node:crypto scrypt (native, workerd)" },
  { id: "noble-async", label: "@noble/hashes scryptAsync (asyncTick 10 ms)" },
  { id: "noble-sync", label: "@noble/hashes scrypt (sync)" },
  { id: "wasm", label: "scrypt-wasm (SIMD ROMix, sliced)" },
  { id: "app", label: "app: hashPassword / verifyPassword" },
];

export interface ScryptParams {
  logN: number;
  r: number;
  p: number;
}

interface HashRow {
  impl: string;
  label: string;
  n: number;
  rounds: number;
  hashMs: number;
  verifyMs: number;
  hashCpuMs: number;
  verifyCpuMs: number;
  blocking: { maxMs: number; p99Ms: number; p50Ms: number; beats: number; hashes: number; cpuPerBlockMs: number | null };
}

export interface HashBenchResult {
  params: ScryptParams;
  noopWallMs: number;
  noopCpuMs: number;
  rows: HashRow[];
  probes: (ScryptParams & { cost: number; ok: boolean; error: string | null })[];
  logLine: { buildUs: number; writeUs: number };
  perRequest: { bareUs: number; appUs: number; appWithConsoleUs: number };
}

/** What bench/hash-worker.ts answers (the fields of its several routes). */
type HashWorkerAnswer = Record<string, any>;

/**
 * Per implementation: wall and CPU per hash and per verify, and the longest time one hash held the
 * isolate's thread (a setTimeout(0) heartbeat beside it inside the Worker; its longest gap).
 */
export async function runHashBench({
  params,
  tmpDir,
  rounds = 3,
  targetRoundMs = 1200,
  log = console.log,
}: {
  params: ScryptParams;
  tmpDir: string;
  rounds?: number;
  targetRoundMs?: number;
  log?: (...a: unknown[]) => void;
}): Promise<HashBenchResult> {
  const port = await freePort();
  const frozen = await freezeWorker({ config: "bench/wrangler.toml", outdir: path.join(tmpDir, "hash-worker") });
  let worker: WranglerDev | undefined;
  try {
    worker = await startWranglerDev({
      config: frozen.config,
      port,
      inspectorPort: await freePort(),
      readyPath: "/noop",
      extraArgs: ["--no-bundle"],
    });
    const cpu = procAvailable() ? cpuProbe({ wranglerPgid: worker.pgid, publicPort: port }) : null;
    const q = (o: Record<string, unknown>) =>
      new URLSearchParams(Object.entries(o).map(([k, v]): [string, string] => [k, String(v)])).toString();
    const url = worker.url;
    const timed = async (path: string) => {
      const c0 = cpu?.();
      const t0 = performance.now();
      const res = await fetch(url + path);
      const body = (await res.json()) as HashWorkerAnswer;
      const wall = performance.now() - t0;
      const c1 = cpu?.();
      if (!res.ok || !body.ok) throw new Error(`${path}: ${res.status} ${JSON.stringify(body)}`);
      return { wall, cpu: c0 && c1 ? c1.workerd - c0.workerd : NaN, body };
    };
    const p = { logN: params.logN, r: params.r, p: params.p };
    // Baseline: the cost of a request that does nothing.
    const noops: Awaited<ReturnType<typeof timed>>[] = [];
    for (let i = 0; i < 5; i++) noops.push(await timed("/noop"));
    const noopWall = median(noops.map((x) => x.wall));
    const noopCpu = median(noops.map((x) => x.cpu));

    const rows: HashRow[] = [];
    for (const { id, label } of IMPLS) {
      const warm = await timed(`/hash?${q({ impl: id, n: 1, ...p })}`);
      const stored = warm.body.stored;
      await timed(`/verify?${q({ impl: id, n: 1, stored })}`);
      const n = Math.max(1, Math.min(20, Math.round(targetRoundMs / Math.max(1, warm.wall - noopWall))));
      const hash: typeof noops = [];
      const verify: typeof noops = [];
      for (let i = 0; i < rounds; i++) {
        hash.push(await timed(`/hash?${q({ impl: id, n, ...p })}`));
        verify.push(await timed(`/verify?${q({ impl: id, n, stored })}`));
      }
      const per = (xs: typeof noops, k: "wall" | "cpu", base: number) => median(xs.map((x) => (x[k] - base) / n));
      const blocking = (await timed(`/blocking?${q({ impl: id, n: Math.max(2, Math.min(n, 4)), ...p })}`)).body;
      const row: HashRow = {
        impl: id,
        blocking: {
          maxMs: blocking.maxMs,
          p99Ms: blocking.p99Ms,
          p50Ms: blocking.p50Ms,
          beats: blocking.beats,
          hashes: blocking.n,
          // Independent of other load on the machine: a hash's CPU ÷ the blocks it ran in.
          cpuPerBlockMs: null,
        },
        label,
        n,
        rounds,
        hashMs: per(hash, "wall", noopWall),
        verifyMs: per(verify, "wall", noopWall),
        hashCpuMs: per(hash, "cpu", noopCpu),
        verifyCpuMs: per(verify, "cpu", noopCpu),
      };
      // n native hashes in a row never yield in between (one beat): count at least one block per hash.
      row.blocking.cpuPerBlockMs = (row.hashCpuMs * row.blocking.hashes) / Math.max(row.blocking.hashes, row.blocking.beats);
      rows.push(row);
      log(
        `  ${label.padEnd(40)} hash ${row.hashMs.toFixed(1)} ms (cpu ${row.hashCpuMs.toFixed(1)})  verify ${row.verifyMs.toFixed(1)} ms (cpu ${row.verifyCpuMs.toFixed(1)})  longest block ${row.blocking.maxMs} ms  [${n} x ${rounds}]`,
      );
    }

    // Does the local runtime refuse large scrypt costs (N*r*p) like production refuses PBKDF2 > 100k?
    const probes: HashBenchResult["probes"] = [];
    for (const pp of [
      { logN: 14, r: 8, p: 5 },
      { logN: 14, r: 8, p: 8 },
      { logN: 14, r: 8, p: 9 },
      { logN: 15, r: 8, p: 5 },
      { logN: 17, r: 8, p: 1 },
    ]) {
      const res = await fetch(`${url}/probe?${q(pp)}`);
      const body = (await res.json()) as HashWorkerAnswer;
      probes.push({ ...pp, cost: 2 ** pp.logN * pp.r * pp.p, ok: !!body.ok, error: body.error ?? null });
    }
    // What one request log line costs inside the Worker: building it, and writing it with console.log.
    const line = async (c: number, n: number): Promise<number> => (await timed(`/logline?console=${c}&n=${n}`)).body.usPerLine;
    await line(0, 2000);
    await line(1, 200);
    const logLine = {
      buildUs: median([await line(0, 20000), await line(0, 20000), await line(0, 20000)]),
      writeUs: median([await line(1, 1000), await line(1, 1000), await line(1, 1000)]),
    };
    log(
      `  one request log line: built ${logLine.buildUs.toFixed(1)} us, built and written with console.log ${logLine.writeUs.toFixed(1)} us`,
    );
    // The middleware chain's own cost: GET /health/live handed to the app's fetch (and to a bare
    // Hono app) inside the isolate, no network, no proxy; the fastest of 5 rounds (least disturbed).
    const inproc = async (target: string, c: number, n: number) => {
      const xs: number[] = [];
      for (let i = 0; i < 5; i++) xs.push((await timed(`/inproc?target=${target}&console=${c}&n=${n}`)).body.usPerRequest);
      return Math.min(...xs);
    };
    await inproc("app", 0, 500);
    const perRequest = {
      bareUs: await inproc("bare", 0, 5000),
      appUs: await inproc("app", 0, 2000),
      appWithConsoleUs: await inproc("app", 1, 300),
    };
    log(
      `  GET /health/live inside the isolate: bare Hono ${perRequest.bareUs.toFixed(1)} us, app ${perRequest.appUs.toFixed(1)} us (console.log silenced), app with its log line ${perRequest.appWithConsoleUs.toFixed(1)} us`,
    );
    return { params: p, noopWallMs: noopWall, noopCpuMs: noopCpu, rows, probes, logLine, perRequest };
  } finally {
    await worker?.stop();
    frozen.remove();
  }
}
