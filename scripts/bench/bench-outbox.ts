// npm run bench:outbox: what the identity-event outbox adds to an audited change. The same app is
// built twice: as it is, and with the outbox's writes left out (a bench-only copy of src/ in which
// recordEvent writes nothing and the session.revoked insert of a revocation statement is `select 1`;
// every other line identical). Both are served under wrangler dev (frozen bundles, --no-bundle) on
// one throwaway PostgreSQL, and each scenario sends requests one at a time to one and then the
// other, alternating rounds; per request: workerd CPU and PostgreSQL CPU (from /proc) and the
// wall time seen by this process.
//
//   scenarios  profile: POST /auth/update-profile (a new name: one user.updated in its transaction)
//              logout:  POST /auth/logout (one session.revoked in the revoking statement)
//   options    BENCH_OUTBOX_REQUESTS (per round and server, default 100), BENCH_OUTBOX_ROUNDS (default 3)
//   output     bench-results/outbox.json, and a table here

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import postgres from "postgres";
import { freePort, ROOT } from "../stack/local-service.ts";
import { startStack } from "../stack/stack.ts";
import { readWranglerConfig, writeWranglerConfig } from "../stack/wrangler-config.ts";
import { freezeWorker } from "../stack/wrangler-dev.ts";
import { type CpuProbe, cpuProbe, diffCpu, postmasterPid, procAvailable } from "./proc-cpu.ts";

const REQUESTS = Number(process.env.BENCH_OUTBOX_REQUESTS ?? 100);
const ROUNDS = Number(process.env.BENCH_OUTBOX_ROUNDS ?? 3);
const PASSWORD = "Vivid-Quartz-Lantern-2026";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = (msg: string) => console.log(msg);

/** The outbox's writes, each replaced by nothing (the rest of src/ is copied as it is). */
const WITHOUT_OUTBOX: [RegExp, string][] = [
  [/ {2}await tx\.insert\(authEvents\)\.values\(rowsOf\(events\)\);/, "  void tx;\n  void rowsOf;"],
  [
    / {2}return sql`insert into \$\{authEvents\} \(id, type, at, user_id, actor_type, actor_id, data\)[^`]*`;/,
    "  void [from, type, data, at, actorType, actorId];\n  return sql`select 1`;",
  ],
];

/**
 * A copy of the app without the outbox writes, next to src/ (the shims import node_modules by a
 * relative path), with a config of its own. Only the build reads it: removed once frozen.
 */
function appWithoutOutbox(): { config: string; remove: () => void } {
  const src = path.join(ROOT, `.bench-outbox-src-${process.pid}`);
  const file = path.join(ROOT, `.bench-outbox-${process.pid}.toml`);
  const remove = () => {
    fs.rmSync(src, { recursive: true, force: true });
    fs.rmSync(file, { force: true });
  };
  remove();
  fs.cpSync(path.join(ROOT, "src"), src, { recursive: true });
  const outbox = path.join(src, "auth/events/outbox.ts");
  let text = fs.readFileSync(outbox, "utf8");
  for (const [from, to] of WITHOUT_OUTBOX) {
    if (!from.test(text)) throw new Error(`bench-outbox: src/auth/events/outbox.ts changed; update WITHOUT_OUTBOX (${from.source})`);
    text = text.replace(from, () => to);
  }
  fs.writeFileSync(outbox, text);
  const { build: _build, ...config } = readWranglerConfig(path.join(ROOT, "wrangler.toml"));
  const alias = Object.fromEntries(
    Object.entries((config.alias ?? {}) as Record<string, string>).map(([k, v]) => [
      k,
      `./${path.relative(ROOT, path.join(src, path.relative("src", v)))}`,
    ]),
  );
  writeWranglerConfig(file, { ...config, main: `./${path.relative(ROOT, path.join(src, "index.ts"))}`, alias });
  return { config: file, remove };
}

interface Server {
  name: string;
  url: string;
  cpu: CpuProbe | null;
}

interface Sample {
  workerdMs: number;
  postgresMs: number;
  wallMsMedian: number;
  ok: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
let ip = 0;
const nextIp = () => `10.77.${(++ip >> 8) & 255}.${ip & 255}`;

async function call(url: string, p: string, init: { token?: string; json?: unknown; form?: FormData } = {}) {
  const headers: Record<string, string> = { "cf-connecting-ip": nextIp() };
  if (init.token) headers.authorization = `Bearer ${init.token}`;
  if (init.json !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(url + p, {
    method: "POST",
    headers,
    body: init.form ?? (init.json !== undefined ? JSON.stringify(init.json) : undefined),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

/** Requests one at a time, CPU from /proc before and after (idle burn over the same time subtracted). */
async function serial(server: Server, n: number, send: (i: number) => Promise<boolean>): Promise<Sample> {
  await sleep(1000);
  const i0 = server.cpu?.();
  await sleep(1000);
  const idle = server.cpu && i0 ? diffCpu(server.cpu(), i0) : null;
  const c0 = server.cpu?.();
  const t0 = performance.now();
  const walls: number[] = [];
  let ok = 0;
  for (let i = 0; i < n; i++) {
    const s = performance.now();
    if (await send(i)) ok++;
    walls.push(performance.now() - s);
  }
  const elapsed = performance.now() - t0;
  const d = server.cpu && c0 ? diffCpu(server.cpu(), c0) : null;
  const per = (k: "workerd" | "postgres") => (d && idle ? Math.max(0, d[k] - (idle[k] * elapsed) / 1000) / Math.max(1, ok) : NaN);
  return { workerdMs: per("workerd"), postgresMs: per("postgres"), wallMsMedian: median(walls), ok };
}

interface Scenario {
  id: string;
  title: string;
  /** Per round and server: what the requests need (made before the measurement). */
  prepare(server: Server, n: number): Promise<(i: number) => Promise<boolean>>;
}

async function account(server: Server) {
  const email = `outbox-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}@example.com`;
  const reg = await call(server.url, "/auth/register", { json: { full_name: "Bench", email, password: PASSWORD } });
  if (reg.status !== 201) throw new Error(`register: ${reg.status} ${JSON.stringify(reg.body)}`);
  return { email, token: reg.body.access_token as string };
}

const SCENARIOS: Scenario[] = [
  {
    id: "profile",
    title: "POST /auth/update-profile (new name: audited, one user.updated)",
    prepare: async (server) => {
      const { token } = await account(server);
      return async (i) => {
        const form = new FormData();
        form.append("full_name", `Bench ${i % 2 ? "A" : "B"}`);
        return (await call(server.url, "/auth/update-profile", { token, form })).status === 200;
      };
    },
  },
  {
    id: "logout",
    title: "POST /auth/logout (audited, one session.revoked)",
    prepare: async (server, n) => {
      const { email } = await account(server);
      const tokens: string[] = [];
      for (let i = 0; i < n; i++) {
        const res = await call(server.url, "/auth/login", { json: { email, password: PASSWORD } });
        if (res.status !== 200) throw new Error(`login: ${res.status}`);
        tokens.push(res.body.access_token);
      }
      return async (i) => (await call(server.url, "/auth/logout", { token: tokens[i] })).status === 200;
    },
  },
];

async function main() {
  const cleanups: (() => unknown)[] = [];
  const cleanup = async () => {
    for (const c of cleanups.reverse()) {
      try {
        await c();
      } catch {}
    }
    cleanups.length = 0;
  };
  process.on("SIGINT", () => void cleanup().then(() => process.exit(130)));
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "edge-auth-bench-outbox-"));
  cleanups.push(() => fs.rmSync(tmp, { recursive: true, force: true }));
  try {
    log("building the app, and the app without the outbox writes...");
    const app = await freezeWorker({ config: "wrangler.toml", outdir: path.join(tmp, "app") });
    cleanups.push(() => app.remove());
    const copy = appWithoutOutbox();
    cleanups.push(() => copy.remove());
    const bare = await freezeWorker({ config: copy.config, outdir: path.join(tmp, "without") }).finally(copy.remove);
    cleanups.push(() => bare.remove());

    log("starting PostgreSQL and both Workers under wrangler dev...");
    const port = await freePort();
    const dataDir = path.join(tmp, "stack");
    const stack = await startStack({
      dataDir,
      persistent: false,
      port,
      dbPort: await freePort(),
      mailPort: await freePort(),
      s3Port: await freePort(),
      oidcPort: await freePort(),
      // Cheap hashes: the seeding logs in often; the measured routes hash nothing.
      vars: { SCRYPT_LOG_N: "10", SCRYPT_R: "8", SCRYPT_P: "1" },
      config: app.config,
      wranglerArgs: ["--no-bundle"],
      inheritOutput: false,
    });
    cleanups.push(() => stack.stop());
    const pg = postmasterPid(path.join(dataDir, "postgres"));
    const otherPort = await freePort();
    const other = await stack.startWorker({ config: bare.config, port: otherPort, extraArgs: ["--no-bundle"] });
    cleanups.push(() => other.stop());
    const probe = (pgid: number | undefined, p: number) =>
      procAvailable() ? cpuProbe({ wranglerPgid: pgid, publicPort: p, postmasterPid: pg }) : null;
    const servers: Server[] = [
      { name: "with outbox", url: stack.apiUrl, cpu: probe(stack.wrangler.pid, port) },
      { name: "without outbox", url: other.url, cpu: probe(other.pgid, otherPort) },
    ];

    const results: Record<string, Record<string, Sample[]>> = {};
    for (const sc of SCENARIOS) {
      results[sc.id] = Object.fromEntries(servers.map((s) => [s.name, []]));
      for (let round = 0; round < ROUNDS; round++) {
        // Alternate which goes first, so a drift of the machine's load falls on both.
        for (const server of round % 2 ? [...servers].reverse() : servers) {
          const send = await sc.prepare(server, REQUESTS);
          await send(0); // warm
          const sample = await serial(server, REQUESTS - 1, (i) => send(i + 1));
          results[sc.id][server.name].push(sample);
          log(
            `  ${sc.id} round ${round + 1} ${server.name}: workerd ${sample.workerdMs.toFixed(2)} ms, postgres ${sample.postgresMs.toFixed(2)} ms, wall ${sample.wallMsMedian.toFixed(1)} ms (${sample.ok} ok)`,
          );
        }
      }
    }
    const sql = postgres(stack.dbUrl, { max: 1, onnotice: () => {} });
    const [{ n }] = await sql`select count(*)::int as n from auth_events`;
    await sql.end();

    const summary = SCENARIOS.map((sc) => {
      const of = (name: string, k: keyof Sample) => median(results[sc.id][name].map((s) => s[k]));
      const row = {
        scenario: sc.id,
        title: sc.title,
        withWorkerdMs: of("with outbox", "workerdMs"),
        withoutWorkerdMs: of("without outbox", "workerdMs"),
        withPostgresMs: of("with outbox", "postgresMs"),
        withoutPostgresMs: of("without outbox", "postgresMs"),
        withWallMs: of("with outbox", "wallMsMedian"),
        withoutWallMs: of("without outbox", "wallMsMedian"),
      };
      return row;
    });
    console.log("");
    console.log(
      "| scenario | workerd CPU/request with / without | PostgreSQL CPU/request with / without | median latency with / without |",
    );
    console.log("| --- | --- | --- | --- |");
    for (const r of summary)
      console.log(
        `| ${r.title} | ${r.withWorkerdMs.toFixed(2)} / ${r.withoutWorkerdMs.toFixed(2)} ms | ${r.withPostgresMs.toFixed(2)} / ${r.withoutPostgresMs.toFixed(2)} ms | ${r.withWallMs.toFixed(1)} / ${r.withoutWallMs.toFixed(1)} ms |`,
      );
    console.log(
      `(${ROUNDS} rounds of ${REQUESTS} requests per server, medians; events written by the run: ${n}; load ${os
        .loadavg()
        .map((x) => x.toFixed(1))
        .join(" ")})`,
    );
    const out = path.join(ROOT, "bench-results");
    fs.mkdirSync(out, { recursive: true });
    fs.writeFileSync(
      path.join(out, "outbox.json"),
      JSON.stringify({ requests: REQUESTS, rounds: ROUNDS, loadavgEnd: os.loadavg(), nproc: os.cpus().length, summary, results }, null, 2),
    );
    log("written: bench-results/outbox.json");
  } finally {
    await cleanup();
  }
}

await main();
