// Avatar processing with the Cloudflare Images binding: CPU ms per upload for a 12 MP phone photo
// of about 5 MB and a typical ~300 KB photo (synthetic photo-like JPEGs with EXIF orientation 6 and
// GPS, made here with sharp, so nothing is downloaded or committed). Runs bench/image-worker.ts
// under `wrangler dev` and reads CPU from /proc, per process:
//   workerd   the Worker itself: header check, the binding calls, output check and metadata strip.
//             This is what counts against a Worker's CPU limit.
//   wrangler  wrangler's Node process, where miniflare emulates the binding with sharp (decode,
//             orient, resize, encode). In production this work is done by Cloudflare Images,
//             outside the Worker; here it only shows what the emulation costs on this machine.
// With --memory, a fresh workerd per input reports its peak RSS (VmHWM) after one upload minus
// the peak after a no-op request.
//
//   npm run bench:image -- [--rounds=5] [--memory]
//
// Prints a table and writes bench-results/image.json. Linux only (/proc).

import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import sharp from "sharp";
import { freePort, listeningPort, ROOT } from "../stack/local-service.ts";
import { type FrozenWorker, freezeWorker, startWranglerDev, type WranglerDev } from "../stack/wrangler-dev.ts";
import { cpuProbe, procAvailable } from "./proc-cpu.ts";

const argv = Object.fromEntries(
  process.argv.slice(2).map((a) => {
    const m = /^--([^=]+)(?:=(.*))?$/.exec(a);
    if (!m) throw new Error(`unknown argument ${a}`);
    return [m[1], m[2] ?? "true"];
  }),
);
const rounds = Number(argv.rounds ?? 5);
const memory = argv.memory === "true";
const out = path.resolve(ROOT, String(argv.out ?? "bench-results"));

// 4032 x 3024 is a 12 MP phone camera; noise tuned so the JPEGs weigh ~5 MB and ~300 KB.
interface Input {
  id: string;
  w: number;
  h: number;
  noise: number;
  q: number;
}
const INPUTS: Input[] = [
  { id: "phone-5mb", w: 4032, h: 3024, noise: 20, q: 93 },
  { id: "photo-300kb", w: 1600, h: 1200, noise: 11, q: 85 },
];

/** A deterministic picture with smooth shading, edges and sensor-like noise (the JPEG grows with `noise`). */
function synthetic(w: number, h: number, noise: number) {
  const data = Buffer.alloc(w * h * 3);
  let seed = 0x2545f491;
  const rnd = () => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return ((seed >>> 0) / 0xffffffff - 0.5) * 2;
  };
  const clamp = (v: number) => Math.max(0, Math.min(255, v));
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = (y * w + x) * 3;
      const u = x / w;
      const v = y / h;
      const base = 110 + 60 * Math.sin(u * 7 + v * 3) + 30 * Math.cos(v * 11);
      const edge = ((x >> 6) + (y >> 6)) & 1 ? 25 : -25;
      const n = rnd() * noise;
      data[i] = clamp(base + edge + n + 20 * u);
      data[i + 1] = clamp(base * 0.9 + edge + n * 0.8);
      data[i + 2] = clamp(base * 0.7 - edge + n * 1.1 + 40 * v);
    }
  }
  return data;
}

/** Stored as a phone does: pixels turned, EXIF orientation 6, GPS position. */
const phoneJpeg = (i: Input) =>
  sharp(synthetic(i.w, i.h, i.noise), { raw: { width: i.w, height: i.h, channels: 3 } })
    .withExif({ IFD0: { Make: "BenchPhone", Model: "B1" }, IFD3: { GPSLatitudeRef: "N", GPSLatitude: "48/1 51/1 2400/100" } })
    .withMetadata({ orientation: 6 })
    .jpeg({ quality: i.q })
    .toBuffer();

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** The workerd that runs the Worker (not wrangler's proxy on the public port) in a process group. */
function workerdPid(pgid: number, port: number): number | undefined {
  for (const name of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, "utf8");
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(f[2]) !== pgid) continue;
      const cmd = fs.readFileSync(`/proc/${name}/cmdline`, "utf8").replace(/\0/g, " ");
      if (/workerd/.test(stat) && / serve /.test(cmd) && !cmd.includes(`entry=127.0.0.1:${port} `)) return Number(name);
    } catch {}
  }
  return undefined;
}

const peakMb = (pid: number | undefined) => Number(/VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"))![1]) / 1024;

async function withWorker<T>(frozen: FrozenWorker, fn: (worker: WranglerDev, port: number) => Promise<T>): Promise<T> {
  const port = await freePort();
  const worker = await startWranglerDev({
    config: frozen.config,
    port,
    inspectorPort: await freePort(),
    readyPath: "/noop",
    extraArgs: ["--no-bundle"],
  });
  try {
    return await fn(worker, port);
  } finally {
    await worker.stop();
  }
}

/** What bench/image-worker.ts answers. */
interface ImageWorkerAnswer {
  ok: boolean;
  sizes?: number[];
}

async function post(url: string, bytes: Buffer): Promise<ImageWorkerAnswer> {
  const res = await fetch(url, { method: "POST", body: bytes });
  const body = (await res.json()) as ImageWorkerAnswer;
  if (!res.ok || !body.ok) throw new Error(`${url}: ${res.status} ${JSON.stringify(body)}`);
  return body;
}

async function main() {
  if (!procAvailable()) throw new Error("needs /proc (Linux)");
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "bench-image-"));
  const frozen = await freezeWorker({ config: "bench/wrangler.image.toml", outdir: path.join(tmp, "worker") });
  const results = { machine: { cpu: os.cpus()[0]?.model, nproc: os.cpus().length }, rows: [] as Record<string, unknown>[] };
  try {
    const inputs: Record<string, Buffer> = {};
    for (const i of INPUTS) {
      inputs[i.id] = await phoneJpeg(i);
      console.log(`input ${i.id}: ${i.w}x${i.h}, ${(inputs[i.id].length / 1e6).toFixed(2)} MB`);
    }

    // A sink for /send: reads the body and answers 200.
    const sink = http.createServer((req, res) => {
      req.resume();
      req.on("end", () => res.writeHead(200).end("ok"));
    });
    await new Promise<void>((r) => sink.listen(0, "127.0.0.1", r));
    const sinkUrl = encodeURIComponent(`http://127.0.0.1:${listeningPort(sink)}/`);

    // CPU: one wrangler dev for everything, warm-up first, then `rounds` timed requests of n uploads.
    await withWorker(frozen, async (worker, port) => {
      const cpu = cpuProbe({ wranglerPgid: worker.pgid, publicPort: port });
      const noop = { workerd: [] as number[], wrangler: [] as number[] };
      for (let r = 0; r < 5; r++) {
        const c0 = cpu();
        await fetch(`${worker.url}/noop`).then((x) => x.arrayBuffer());
        const c1 = cpu();
        noop.workerd.push(c1.workerd - c0.workerd);
        noop.wrangler.push(c1.wrangler - c0.wrangler);
      }
      const base = { workerd: median(noop.workerd), wrangler: median(noop.wrangler) };
      for (const stage of ["header", "send", "process"])
        for (const i of INPUTS) {
          const url = (n: number) => `${worker.url}/${stage}?n=${n}&to=${sinkUrl}`;
          const warm = await post(url(1), inputs[i.id]);
          const n = stage === "send" ? 1 : i.id === "phone-5mb" ? 2 : 5;
          const samples = { workerd: [] as number[], wrangler: [] as number[], wall: [] as number[] };
          for (let r = 0; r < rounds; r++) {
            const c0 = cpu();
            const t0 = performance.now();
            await post(url(n), inputs[i.id]);
            samples.wall.push((performance.now() - t0) / n);
            const c1 = cpu();
            samples.workerd.push((c1.workerd - c0.workerd - base.workerd) / n);
            samples.wrangler.push((c1.wrangler - c0.wrangler - base.wrangler) / n);
          }
          const row = {
            stage,
            input: i.id,
            inputBytes: inputs[i.id].length,
            workerdCpuMs: median(samples.workerd),
            sharpSideCpuMs: median(samples.wrangler),
            wallMs: median(samples.wall),
            outputBytes: warm.sizes,
          };
          results.rows.push(row);
          console.log(
            `${stage.padEnd(8)} ${i.id.padEnd(12)} workerd cpu ${row.workerdCpuMs.toFixed(1)} ms  sharp side (wrangler node) cpu ${row.sharpSideCpuMs.toFixed(0)} ms  wall ${row.wallMs.toFixed(0)} ms${warm.sizes ? `  out ${warm.sizes.join("/")} B` : ""}`,
          );
        }
    });
    await new Promise((r) => sink.close(r));

    if (memory) {
      for (const i of INPUTS)
        await withWorker(frozen, async (worker, port) => {
          const pid = workerdPid(worker.pgid, port);
          await fetch(`${worker.url}/noop`).then((x) => x.arrayBuffer());
          const idle = peakMb(pid);
          await post(`${worker.url}/process?n=1`, inputs[i.id]);
          const peak = peakMb(pid);
          results.rows.push({ stage: "memory", input: i.id, idlePeakMb: idle, uploadPeakMb: peak, addedMb: peak - idle });
          console.log(
            `memory   ${i.id.padEnd(12)} workerd peak RSS idle ${idle.toFixed(0)} MB, after one upload ${peak.toFixed(0)} MB (+${(peak - idle).toFixed(0)})`,
          );
        });
    }
    fs.mkdirSync(out, { recursive: true });
    fs.writeFileSync(path.join(out, "image.json"), `${JSON.stringify(results, null, 2)}\n`);
  } finally {
    frozen.remove();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

await main();
