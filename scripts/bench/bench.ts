// npm run bench: throughput, latency and CPU per request against floors measured in the same run,
// and against better-auth (the peer, bench/peers/better-auth/) on the same harness.
//
//   1. bundle size (wrangler deploy --dry-run) and startup (wrangler check startup)
//   2. password-hash micro-benchmark inside workerd (bench/hash-worker.ts under wrangler dev)
//   3. the local stack (embedded Postgres + the Worker under wrangler dev) on free ports in a
//      temporary folder, users seeded through the API, and beside it, under the same wrangler dev
//      (same version, same frozen --no-bundle setup, own process): a bare Hono app with one
//      constant route (the floor), the app with REQUEST_LOG=all and with its console.log silenced
//      (what the request line costs), the app at the peer's hash parameters, and the peer;
//      then load from this process (autocannon) per scenario (scripts/bench/scenarios.ts) and
//      concurrency; CPU per request one request at a time; /auth/me while logins run (MIXED);
//      the probes (PROBES); CPU profiles through the inspector.
//   Results: bench-results/results.json, results.md (the targets table first, each pair of ours
//   and the peer's as a ratio) and two SVG charts. Everything started is stopped at the end, on
//   failure and on Ctrl-C.
//
// Options (flags or env): --duration=10 (BENCH_DURATION, seconds per run), --connections=8,32
// (BENCH_CONNECTIONS), --users=64 (BENCH_USERS), --only=live,me,... (BENCH_ONLY: scenario ids,
// "mixed", probe ids, or the groups "pairs" and "new-flows"), --hash-rounds=3, --startup-runs=3,
// --skip-static, --skip-hash, --skip-profile, --skip-peer, --profile=ids (BENCH_PROFILE),
// --out=bench-results, --charts=<dir> (also write the charts there, e.g. bench/charts for BENCHMARKS.md).

import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import autocannon from "autocannon";
import postgres from "postgres";
import { type PeerUser, peerRoutes, seedPeerUsers, startPeer } from "../../bench/peers/better-auth/runner.mjs";
import { freePort, ROOT } from "../stack/local-service.ts";
import { startPwnedServer } from "../stack/pwned-stub.ts";
import { startStack } from "../stack/stack.ts";
import { readWranglerConfig, writeWranglerConfig } from "../stack/wrangler-config.ts";
import { freezeWorker, startWranglerDev } from "../stack/wrangler-dev.ts";
import { cleanupOnExit } from "./cleanup.ts";
import type * as flows from "./flows.ts";
import { runHashBench, type ScryptParams } from "./hash.ts";
import { type CpuMs, type CpuProbe, cpuProbe, diffCpu, postmasterPid, procAvailable } from "./proc-cpu.ts";
import { profileWhile } from "./profile.ts";
import { renderCharts, renderMarkdown } from "./report.ts";
import type { BenchResults, CpuPerRequest, LoadResult } from "./results.ts";
import {
  type BenchContext,
  expandOnly,
  GOOGLE_CLIENT,
  MIXED,
  measuringOrder,
  PAIRS,
  PASSWORD,
  PEER_SCRYPT,
  PROBES,
  SCENARIOS,
  type Scenario,
  type Seed,
  type ServerName,
} from "./scenarios.ts";
import { measureBundle, measureStartup } from "./static.ts";

// ---------------------------------------------------------------------------------------------
// Options
const argv = Object.fromEntries(
  process.argv.slice(2).map((a) => {
    const m = /^--([^=]+)(?:=(.*))?$/.exec(a);
    if (!m) throw new Error(`unknown argument ${a}`);
    return [m[1], m[2] ?? "true"];
  }),
);
const opt = (name: string, env: string, fallback: string | number) => argv[name] ?? process.env[env] ?? fallback;
const options: BenchResults["options"] = {
  duration: Number(opt("duration", "BENCH_DURATION", 10)),
  connections: String(opt("connections", "BENCH_CONNECTIONS", "8,32"))
    .split(",")
    .map(Number)
    .filter(Boolean),
  users: Number(opt("users", "BENCH_USERS", 64)),
  only: expandOnly(opt("only", "BENCH_ONLY", "") ? String(opt("only", "BENCH_ONLY", "")).split(",") : null),
  hashRounds: Number(opt("hash-rounds", "BENCH_HASH_ROUNDS", 3)),
  startupRuns: Number(opt("startup-runs", "BENCH_STARTUP_RUNS", 3)),
  skipStatic: opt("skip-static", "BENCH_SKIP_STATIC", "false") === "true",
  skipHash: opt("skip-hash", "BENCH_SKIP_HASH", "false") === "true",
  skipProfile: opt("skip-profile", "BENCH_SKIP_PROFILE", "false") === "true",
  skipPeer: opt("skip-peer", "BENCH_SKIP_PEER", "false") === "true",
  profile: opt("profile", "BENCH_PROFILE", "") ? String(opt("profile", "BENCH_PROFILE", "")).split(",") : null,
  out: path.resolve(ROOT, String(opt("out", "BENCH_OUT", "bench-results"))),
  charts: opt("charts", "BENCH_CHARTS", "") ? path.resolve(ROOT, String(opt("charts", "BENCH_CHARTS", ""))) : null,
};
// The configured password parameters (wrangler.toml [vars] may override the code defaults).
const SCRYPT: ScryptParams = { logN: 14, r: 8, p: 5 };
{
  const vars = readWranglerConfig().vars ?? {};
  for (const [k, v] of [
    ["SCRYPT_LOG_N", "logN"],
    ["SCRYPT_R", "r"],
    ["SCRYPT_P", "p"],
  ] as const)
    if (vars[k] !== undefined) SCRYPT[v] = Number(vars[k]);
}
// SCENARIOS, PAIRS, MIXED and PROBES: scripts/bench/scenarios.ts (a new flow is an entry there).
// Scenarios whose CPU profile the report shows (where a request's CPU goes). Not REQUEST_LOG=all:
// under the profiler its console.log dominates (51-63% of busy time in trial runs) and once made the
// Worker fall minutes behind.
const PROFILED = options.profile ?? ["bare", "live", "me", "peer-session"];
const wanted = (id: string) => (!options.only || options.only.includes(id)) && !(options.skipPeer && id.startsWith("peer-"));

const log = (...a: unknown[]) => console.log(...a);
const f2 = (x: number | null | undefined) => (x == null ? "n/a" : x.toFixed(2));
let wranglerStderr = "";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------
// Cleanup on every exit path
const { cleanups, cleanup } = cleanupOnExit(log);

// ---------------------------------------------------------------------------------------------
// Machine and versions
function machine() {
  const cpus = os.cpus();
  return {
    nproc: cpus.length,
    cpuModel: cpus[0]?.model?.trim() ?? "unknown",
    ramGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    kernel: `${os.type()} ${os.release()}`,
    loadavgStart: os.loadavg(),
  };
}

function pkgVersion(p: string): string | null {
  try {
    return JSON.parse(fs.readFileSync(path.join(ROOT, "node_modules", p, "package.json"), "utf8")).version;
  } catch {
    return null;
  }
}

function versions(): BenchResults["versions"] {
  let wrangler: string | null = null;
  try {
    wrangler = execFileSync("npx", ["wrangler", "--version"], { cwd: ROOT, env: { ...process.env, WRANGLER_SEND_METRICS: "false" } })
      .toString()
      .trim()
      .split("\n")
      .pop()!;
  } catch {}
  return {
    node: process.version,
    wrangler,
    workerdWranglerDev: pkgVersion("wrangler/node_modules/workerd") ?? pkgVersion("workerd"),
    workerdVitest: pkgVersion("workerd"),
    autocannon: pkgVersion("autocannon"),
    noble: pkgVersion("@noble/hashes"),
    hono: pkgVersion("hono"),
  };
}

/** Busy and total CPU ms of the whole machine (from /proc/stat), to tell how loaded it was. */
function machineCpu() {
  try {
    const f = fs.readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
    const tick = 10; // USER_HZ 100
    const idle = (f[3] + (f[4] ?? 0)) * tick;
    const total = f.slice(0, 8).reduce((a, b) => a + b, 0) * tick;
    return { busy: total - idle, total };
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------------------------
// Requests: every request comes from its own CF-Connecting-IP, so the per-IP Rate Limiting
// bindings of wrangler.toml stay exactly as in production and never trigger.
let ipCounter = 0;
function nextIp() {
  ipCounter = (ipCounter + 1) % 16_000_000;
  return `10.${(ipCounter >> 16) & 255}.${(ipCounter >> 8) & 255}.${ipCounter & 255}`;
}
const jsonHeaders = { "content-type": "application/json", "user-agent": "edge-auth-bench" };

async function api(
  apiUrl: string,
  method: string,
  p: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<flows.ApiAnswer> {
  const send = () =>
    fetch(apiUrl + p, {
      method,
      headers: { ...jsonHeaders, "cf-connecting-ip": nextIp(), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  let res: Response;
  try {
    res = await send();
  } catch (err) {
    // A kept-alive connection the server closed as this request went out (setup requests only:
    // none of them is single-use before it is answered). Once more on a new connection.
    if (!(err instanceof TypeError)) throw err;
    const cause = err.cause as { code?: string; message?: string } | undefined;
    log(`  (${method} ${p}: ${cause?.code ?? cause?.message ?? err.message}; sent again)`);
    res = await send();
  }
  const text = await res.text();
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    data = text;
  }
  return { status: res.status, data };
}

async function pool<T, R>(items: T[], concurrency: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  let i = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (i < items.length) {
        const k = i++;
        out[k] = await fn(items[k], k);
      }
    }),
  );
  return out;
}

// ---------------------------------------------------------------------------------------------
// Load runs
/**
 * One autocannon run (closed loop: each connection sends its next request when the last one is
 * answered).
 * - req/s is the sustained rate by Little's law: connections ÷ mean latency. On hash-bound
 *   routes every request waits for the c hashes queued before it on the one thread that runs
 *   them, answers arrive in bursts, and 2xx ÷ duration counts the time to fill the queue and
 *   loses the requests cut off at the end; c ÷ mean latency does not. autocannon's own
 *   2xx ÷ duration is kept as `rawReqPerSec` (the two agree on the fast routes).
 * - CPU per request: process CPU from /proc between 20% and 90% of the run ÷ (req/s × that time).
 * - With `amount` (a batch of single-use state) it sends exactly that many requests instead of
 *   running for `duration`, and CPU is measured over the whole run ÷ the 2xx answers.
 */
async function load({
  apiUrl,
  request,
  connections,
  duration,
  amount,
  cpu,
}: {
  apiUrl: string;
  request: autocannon.Request;
  connections: number;
  duration: number;
  amount?: number;
  cpu: CpuProbe | null;
}): Promise<LoadResult> {
  const url = new URL(apiUrl);
  let cpu0: CpuMs | undefined;
  let cpu1: CpuMs | undefined;
  let m0: ReturnType<typeof machineCpu> | undefined;
  let m1: ReturnType<typeof machineCpu> | undefined;
  let g0: NodeJS.CpuUsage | undefined;
  let g1: NodeJS.CpuUsage = { user: 0, system: 0 };
  let w0 = 0;
  let w1 = 0;
  const begin = () => {
    cpu0 = cpu?.();
    m0 = machineCpu();
    g0 = process.cpuUsage();
    w0 = performance.now();
  };
  const end = () => {
    cpu1 = cpu?.();
    m1 = machineCpu();
    g1 = process.cpuUsage(g0);
    w1 = performance.now();
  };
  if (amount) begin();
  const run = autocannon({
    url: apiUrl,
    connections,
    ...(amount ? { amount } : { duration }),
    timeout: 120,
    requests: [{ ...request, hostname: url.hostname, port: Number(url.port) } as autocannon.Request],
  });
  const t1 = amount ? undefined : setTimeout(begin, duration * 1000 * 0.2);
  const t2 = amount ? undefined : setTimeout(end, duration * 1000 * 0.9);
  const r = await run;
  if (amount) end();
  clearTimeout(t1);
  clearTimeout(t2);
  const okShare = r.requests.total ? r["2xx"] / r.requests.total : 0;
  const sustained = r.latency.mean > 0 ? (connections * 1000 * okShare) / r.latency.mean : 0;
  const result: LoadResult = {
    connections,
    durationS: r.duration,
    total: r.requests.total,
    ok: r["2xx"],
    non2xx: r.non2xx,
    errors: r.errors,
    timeouts: r.timeouts,
    statusCodes: r.statusCodeStats,
    reqPerSec: sustained,
    rawReqPerSec: r["2xx"] / r.duration,
    latency: { p50: r.latency.p50, p90: r.latency.p90, p99: r.latency.p99, max: r.latency.max, mean: r.latency.mean },
  };
  if (cpu0 && cpu1 && sustained > 0) {
    const windowMs = w1 - w0;
    // A fixed batch is measured over the whole run: exactly its 2xx answers were served.
    const served = amount ? r["2xx"] : (sustained * windowMs) / 1000;
    const d = diffCpu(cpu1, cpu0);
    const per: CpuPerRequest = {
      workerd: d.workerd / served,
      proxy: d.proxy / served,
      wrangler: d.wrangler / served,
      postgres: d.postgres / served,
      total: (d.workerd + d.proxy + d.wrangler + d.postgres) / served,
      loadGenerator: (g1.user + g1.system) / 1000 / served,
    };
    const ours = d.workerd + d.proxy + d.wrangler + d.postgres + (g1.user + g1.system) / 1000;
    result.cpu = {
      windowMs,
      windowRequests: served,
      windowCpuMs: d,
      msPerRequest: per,
      // Cores busy with other work (other helpers' test runs, ...) while this ran.
      otherCores: m0 && m1 ? Math.max(0, (m1.busy - m0.busy - ours) / windowMs) : null,
    };
  }
  return result;
}

/**
 * CPU per request with an exact count: n requests one after another, CPU from /proc before and
 * after, minus what the processes burn when idle over the same time.
 */
async function serialCpu({ cpu, n, send }: { cpu: CpuProbe; n: number; send: (i: number) => Promise<boolean> }) {
  await waitIdle(cpu);
  const i0 = cpu();
  const it = performance.now();
  await sleep(1000);
  const idle = diffCpu(cpu(), i0);
  const idleMs = performance.now() - it;
  const c0 = cpu();
  const t0 = performance.now();
  let ok = 0;
  for (let i = 0; i < n; i++) if (await send(i)) ok++;
  const elapsed = performance.now() - t0;
  const d = diffCpu(cpu(), c0);
  const one = (k: keyof CpuMs) => Math.max(0, d[k] - (idle[k] * elapsed) / idleMs) / Math.max(1, ok);
  const per: CpuPerRequest = {
    workerd: one("workerd"),
    proxy: one("proxy"),
    wrangler: one("wrangler"),
    postgres: one("postgres"),
    total: 0,
  };
  per.total = per.workerd + per.proxy + per.wrangler + per.postgres;
  return { n, ok, msPerRequest: per, wallMsPerRequest: elapsed / n };
}

/** Wait until the Worker has finished what the last run left in flight. */
async function waitIdle(cpu: CpuProbe | null | undefined, maxMs = 60_000) {
  if (!cpu) return sleep(1000);
  const until = Date.now() + maxMs;
  let prev = cpu();
  for (;;) {
    await sleep(500);
    const cur = cpu();
    const busy = cur.workerd - prev.workerd + cur.postgres - prev.postgres;
    prev = cur;
    if (busy < 60 || Date.now() > until) return;
  }
}

// ---------------------------------------------------------------------------------------------
/** An autocannon request that asks the scenario for each request. */
function autocannonRequest(sc: Scenario, ctx: BenchContext): autocannon.Request {
  const onResponse = sc.onResponse;
  return {
    method: "GET",
    path: "/",
    setupRequest: (req) => {
      const d = sc.request(ctx);
      return {
        ...req,
        method: d.method,
        path: d.path,
        headers: { ...jsonHeaders, ...d.headers, "cf-connecting-ip": nextIp() },
        body: d.body === undefined ? undefined : JSON.stringify(d.body),
      };
    },
    ...(onResponse ? { onResponse: (status: number, body: string) => onResponse(status, body, ctx) } : {}),
  };
}

/** One request of a scenario with fetch (the one-at-a-time CPU measurement). */
async function sendOne(sc: Scenario, ctx: BenchContext, url: string) {
  const d = sc.request(ctx);
  const res = await fetch(url + d.path, {
    method: d.method,
    headers: { ...jsonHeaders, ...d.headers, "cf-connecting-ip": nextIp() },
    body: d.body === undefined ? undefined : JSON.stringify(d.body),
  });
  const text = await res.text();
  sc.onResponse?.(res.status, text, ctx);
  return res.status >= 200 && res.status < 300;
}

async function main() {
  const started = Date.now();
  fs.mkdirSync(options.out, { recursive: true });
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "edge-auth-bench-"));
  cleanups.push(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const results: BenchResults = {
    startedAt: new Date().toISOString(),
    command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(" ")}` : ""}`,
    options: { ...options, out: path.relative(ROOT, options.out), charts: options.charts && path.relative(ROOT, options.charts) },
    machine: machine(),
    versions: versions(),
    scrypt: SCRYPT,
    rateLimits: "production bindings kept; every request carries its own CF-Connecting-IP",
    pairs: PAIRS,
  };
  log(
    `bench: ${results.machine.nproc} x ${results.machine.cpuModel}, load ${results.machine.loadavgStart.map((x) => x.toFixed(2)).join(" ")}`,
  );

  // The app is built once and served from that bundle, so edits to the tree during the run
  // (wrangler dev would reload) cannot change the code under test. The same build gives the size.
  log("building the Worker (wrangler deploy --dry-run)...");
  const metafile = path.join(tmp, "bundle-meta.json");
  const frozen = await freezeWorker({ config: "wrangler.toml", outdir: path.join(tmp, "dist"), metafile });
  cleanups.push(() => frozen.remove());
  results.bundle = measureBundle({ ...frozen, metafile });
  log(`  ${results.bundle.wranglerTotalKiB} KiB / gzip ${results.bundle.wranglerGzipKiB} KiB`);
  if (!options.skipStatic) {
    log(`startup (wrangler check startup x${options.startupRuns})...`);
    results.startup = await measureStartup(tmp, { runs: options.startupRuns, sourceMap: path.join(frozen.outdir, "index.js.map") });
    log(`  active (median) ${results.startup.activeMedianMs} ms`);
    log("startup floor: a bare Hono app with the same compatibility settings...");
    results.startupEmpty = await measureStartup(tmp, { runs: options.startupRuns, config: "bench/wrangler.empty.toml", label: "empty" });
    log(`  active (median) ${results.startupEmpty.activeMedianMs} ms`);
  }

  if (!options.skipHash) {
    log(`password hashing inside workerd (scrypt ln=${SCRYPT.logN} r=${SCRYPT.r} p=${SCRYPT.p})...`);
    results.hash = await runHashBench({ params: SCRYPT, tmpDir: tmp, rounds: options.hashRounds, log });
  }

  // The stack, on free ports, in a temporary folder.
  log("starting the local stack (Postgres, wrangler dev)...");
  const pwned = await startPwnedServer({});
  cleanups.push(() => pwned.stop());
  const port = await freePort();
  const inspectorPort = await freePort();
  const dataDir = path.join(tmp, "stack");
  const stack = await startStack({
    dataDir,
    persistent: false,
    port,
    dbPort: await freePort(),
    mailPort: await freePort(),
    s3Port: await freePort(),
    oidcPort: await freePort(),
    // Google sign-in with the local OpenID provider, whatever a .dev.vars says (the bench mints the ID tokens).
    vars: { PWNED_PASSWORDS_URL: pwned.url, GOOGLE_CLIENT_IDS: GOOGLE_CLIENT, GOOGLE_CLIENT_SECRET: "bench-google-secret" },
    config: frozen.config,
    wranglerArgs: ["--no-bundle", "--inspector-port", String(inspectorPort)],
    inheritOutput: false,
  });
  cleanups.push(() => stack.stop());
  // Keep reading wrangler's stderr (a full pipe would stall it); its tail explains failures.
  stack.wrangler.stderr?.on("data", (d) => (wranglerStderr = (wranglerStderr + d).slice(-20_000)));
  const { apiUrl } = stack;
  {
    const sql = postgres(stack.dbUrl, { max: 1, onnotice: () => {} });
    results.versions.postgres = (await sql`select version()`)[0].version;
    await sql.end();
  }
  const pgPid = postmasterPid(path.join(dataDir, "postgres"));
  interface Server {
    url: string;
    inspectorPort: number;
    sourceMap?: string;
    cpu: CpuProbe | null;
  }
  const servers: Partial<Record<ServerName, Server>> & { app: Server } = {
    app: {
      url: apiUrl,
      inspectorPort,
      cpu: procAvailable() ? cpuProbe({ wranglerPgid: stack.wrangler.pid, publicPort: port, postmasterPid: pgPid }) : null,
    },
  };
  const needed = new Set(SCENARIOS.filter((sc) => wanted(sc.id)).map((sc) => sc.server ?? "app"));
  if (needed.has("bare") || needed.has("bareNoAssets")) {
    // The floor: a bare Hono app, frozen and served exactly like the app (with the app's [assets]),
    // and the same without [assets] (what wrangler's asset router in front of each request costs).
    const bare = await freezeWorker({ config: "bench/wrangler.empty.toml", outdir: path.join(tmp, "bare") });
    cleanups.push(() => bare.remove());
    const noAssets = bare.config.replace(/\.toml$/, "-noassets.toml");
    const { assets, ...withoutAssets } = readWranglerConfig(bare.config);
    // The app's own run_worker_first (wrangler.toml), so the floor's constant route skips the asset lookup as the app's does.
    const { run_worker_first } = readWranglerConfig().assets as { run_worker_first: string[] };
    writeWranglerConfig(bare.config, { ...withoutAssets, assets: { ...assets, run_worker_first } });
    writeWranglerConfig(noAssets, withoutAssets);
    cleanups.push(() => fs.rmSync(noAssets, { force: true }));
    for (const [name, config] of [
      ["bare", bare.config],
      ["bareNoAssets", noAssets],
    ] as const) {
      if (!needed.has(name)) continue;
      const p = await freePort();
      const insp = await freePort();
      const w = await startWranglerDev({
        config,
        port: p,
        readyPath: "/health/live",
        extraArgs: ["--no-bundle", "--inspector-port", String(insp)],
      });
      cleanups.push(() => w.stop());
      servers[name] = {
        url: w.url,
        inspectorPort: insp,
        sourceMap: path.join(bare.outdir, "empty-worker.js.map"),
        cpu: procAvailable() ? cpuProbe({ wranglerPgid: w.pgid, publicPort: p }) : null,
      };
    }
  }
  /** Another wrangler dev of the same bundle on the same stack, with a config of its own and these vars. */
  const appVariant = async (name: string, config: string, vars: Record<string, string>): Promise<Server> => {
    const p = await freePort();
    const insp = await freePort();
    const varArgs = Object.entries(vars).flatMap(([k, v]) => ["--var", `${k}:${v}`]);
    const w = await stack.startWorker({ config, port: p, extraArgs: ["--no-bundle", "--inspector-port", String(insp), ...varArgs] });
    cleanups.push(() => w.stop());
    log(`  ${name}: ${w.url}`);
    return {
      url: w.url,
      inspectorPort: insp,
      cpu: procAvailable() ? cpuProbe({ wranglerPgid: w.pgid, publicPort: p, postmasterPid: pgPid }) : null,
    };
  };
  if (needed.has("logall")) servers.logall = await appVariant("the app with REQUEST_LOG=all", frozen.config, { REQUEST_LOG: "all" });
  if (needed.has("eqhash")) servers.eqhash = await appVariant("the app at the peer's hash parameters", frozen.config, PEER_SCRYPT);
  if (needed.has("nolog")) {
    // The same bundle with console.log silenced once it has loaded (a wrapper module: no change to the
    // app), and every request line asked for: what the line's building costs without its writing.
    const wrapper = path.join(frozen.outdir, "bench-nolog.js");
    fs.writeFileSync(
      wrapper,
      'import worker from "./index.js";\nexport * from "./index.js";\n// Bench-only: what the per-request log line costs under wrangler dev.\nconsole.log = () => {};\nexport default worker;\n',
    );
    const config = frozen.config.replace(/\.toml$/, "-nolog.toml");
    // --no-bundle uploads the entry only, unless told to pick up the bundle's other modules too.
    const modules = `find_additional_modules = true\nbase_dir = ${JSON.stringify(frozen.outdir)}\nrules = [{ type = "ESModule", globs = ["**/*.js"] }]`;
    fs.writeFileSync(
      config,
      fs.readFileSync(frozen.config, "utf8").replace(/^main\s*=.*$/m, `main = ${JSON.stringify(wrapper)}\n${modules}`),
    );
    cleanups.push(() => fs.rmSync(config, { force: true }));
    servers.nolog = await appVariant("the app without console.log", config, { REQUEST_LOG: "all" });
  }
  let peer: Awaited<ReturnType<typeof startPeer>> | undefined;
  if (needed.has("peer")) {
    log("starting the peer (better-auth, bench/peers/better-auth/)...");
    peer = await startPeer({ dbUrl: stack.dbUrl, postmasterPid: pgPid, tmpDir: path.join(tmp, "peer"), log });
    cleanups.push(() => peer?.stop());
    results.versions.peer = peer.versions;
    results.peerSettings = peer.settings;
    log(
      `  ${peer.url} (${Object.entries(peer.versions)
        .map(([k, v]) => `${k} ${v}`)
        .join(", ")})`,
    );
    servers.peer = { url: peer.url, inspectorPort: peer.inspectorPort, sourceMap: peer.sourceMap, cpu: peer.cpu };
  }

  // Seed users through the API (hashes made by the Worker): ours, ours at the peer's hash, the peer's.
  const runId = Date.now().toString(36);
  const seedThrough = async (url: string, kind: string): Promise<Seed[]> => {
    log(`seeding ${options.users} users through POST /auth/register${url === apiUrl ? "" : ` (${kind})`}...`);
    return pool(
      Array.from({ length: options.users }, (_, i) => i),
      2,
      async (i) => {
        const email = `bench-${runId}-${kind}-${i}@example.com`;
        const r = await api(url, "POST", "/auth/register", { full_name: `Bench User ${i}`, email, password: PASSWORD, role: "student" });
        if (r.status !== 201) throw new Error(`seeding failed: ${r.status} ${JSON.stringify(r.data)}`);
        return { id: r.data.user.id, email, access: r.data.access_token, refresh: r.data.refresh_token };
      },
    );
  };
  const seeds = await seedThrough(apiUrl, "seed");
  let seededAt = Date.now();
  const eqSeeds = servers.eqhash ? await seedThrough(servers.eqhash.url, "eqhash") : [];
  let peerUsers: PeerUser[] = [];
  if (peer) {
    log(`seeding ${options.users} users through the peer's sign-up...`);
    peerUsers = await seedPeerUsers(peer.url, options.users, { password: PASSWORD, prefix: `peer-${runId}` });
  }
  let next = 0;
  let nextEq = 0;
  let nextPeer = 0;
  const ctx: BenchContext = {
    apiUrl,
    runId,
    seq: 0,
    refreshPool: [],
    seed: () => seeds[next++ % seeds.length],
    eqSeed: () => eqSeeds[nextEq++ % eqSeeds.length],
    peer: peer && { routes: peerRoutes(peer.url), user: () => peerUsers[nextPeer++ % peerUsers.length] },
    freshSeeds: async (maxAgeMs) => {
      if (Date.now() - seededAt < maxAgeMs) return;
      // A refresh per seed (no hash): a new access token and the next refresh token of its session.
      await pool(seeds, 4, async (s) => {
        const r = await api(apiUrl, "POST", "/auth/refresh", { refresh_token: s.refresh });
        if (r.status !== 200) throw new Error(`refreshing a seed failed: ${r.status} ${JSON.stringify(r.data)}`);
        s.access = r.data.access_token;
        s.refresh = r.data.refresh_token;
      });
      seededAt = Date.now();
    },
    // What the flows' state needs (flows.ts).
    api: (method, p, body, headers) => api(apiUrl, method, p, body, headers),
    pool,
    mailUrl: stack.mailUrl,
    oidcUrl: stack.oidcUrl,
    dbUrl: stack.dbUrl,
    password: PASSWORD,
    googleClientId: GOOGLE_CLIENT,
    appCpu: servers.app.cpu,
    nextIp,
  };
  // Warm up every server and route once (JIT, connection setup) before measuring.
  for (const sc of SCENARIOS.filter((x) => wanted(x.id) && !x.hashBound && x.id !== "refresh")) {
    const warm = 4;
    await sc.prepare?.(ctx, { connections: 1, requests: sc.batch ? warm : null });
    for (let i = 0; i < warm; i++) await sendOne(sc, ctx, servers[sc.server ?? "app"]!.url);
  }

  // Hash-bound routes answer only once c requests have queued on the one thread that hashes:
  // they run for the duration plus that fill time, so the steady state lasts the full duration.
  const hashMs = results.hash?.rows.find((r) => r.impl === "app")?.verifyMs ?? 250;
  const durationFor = (sc: Scenario, c: number) =>
    sc.hashBound ? Math.ceil(options.duration + Math.min(120, (c * hashMs * 1.5) / 1000)) : options.duration;

  results.scenarios = [];
  const machineLoad: number[] = [];
  for (const sc of measuringOrder(SCENARIOS.filter((x) => wanted(x.id)))) {
    const server = servers[sc.server ?? "app"]!;
    for (const connections of options.connections) {
      await sc.prepare?.(ctx, { connections, requests: sc.batch ?? null });
      await waitIdle(server.cpu);
      const duration = durationFor(sc, connections);
      process.stdout.write(
        `  ${sc.title.padEnd(44)} c=${String(connections).padEnd(3)} ${sc.batch ? `${sc.batch} req` : `${duration}s`} ... `,
      );
      const r = await load({
        apiUrl: server.url,
        request: autocannonRequest(sc, ctx),
        connections,
        duration,
        amount: sc.batch,
        cpu: server.cpu,
      });
      results.scenarios!.push({
        name: sc.id,
        title: sc.title,
        server: sc.server ?? "app",
        hashBound: !!sc.hashBound,
        newFlow: !!sc.newFlow,
        ...r,
      });
      if (r.cpu?.otherCores != null) machineLoad.push(r.cpu.otherCores);
      log(
        `${r.reqPerSec.toFixed(1)} req/s  p50 ${r.latency.p50} ms  p99 ${r.latency.p99} ms  non-2xx ${r.non2xx}  errors ${r.errors + r.timeouts}` +
          (r.cpu
            ? `  cpu ${r.cpu.msPerRequest.workerd.toFixed(2)}+${r.cpu.msPerRequest.postgres.toFixed(2)} ms  other load ${f2(r.cpu.otherCores)}`
            : ""),
      );
    }
  }

  // Exact CPU per request, one request at a time (the load runs above estimate it under load).
  if (servers.app.cpu) {
    log("CPU per request, one request at a time...");
    results.serial = [];
    for (const sc of measuringOrder(SCENARIOS.filter((x) => wanted(x.id)))) {
      const server = servers[sc.server ?? "app"]!;
      await sc.prepare?.(ctx, { connections: 1, requests: sc.batch ? sc.serial : null });
      const r = await serialCpu({ cpu: server.cpu!, n: sc.serial, send: () => sendOne(sc, ctx, server.url) });
      results.serial!.push({
        name: sc.id,
        title: sc.title,
        server: sc.server ?? "app",
        newFlow: !!sc.newFlow,
        ...(sc.noTarget ? { noTarget: sc.noTarget } : {}),
        ...r,
      });
      const c = r.msPerRequest;
      log(
        `  ${sc.title.padEnd(44)} ${r.ok}/${r.n} ok  workerd ${c.workerd.toFixed(2)}  proxy ${c.proxy.toFixed(2)}  postgres ${c.postgres.toFixed(2)} ms/req`,
      );
    }
  }

  if (wanted("mixed")) {
    results.mixed = [];
    for (const mx of MIXED) {
      const fg = SCENARIOS.find((x) => x.id === mx.foreground)!;
      const bg = SCENARIOS.find((x) => x.id === mx.background)!;
      for (const connections of options.connections) {
        await waitIdle(servers.app.cpu);
        const duration = durationFor(bg, mx.backgroundConnections);
        process.stdout.write(`  ${fg.title} c=${connections} while ${bg.title} c=${mx.backgroundConnections}, ${duration}s ... `);
        // CPU over the common window (both runs start together and last as long).
        const [me, login] = await Promise.all([
          load({ apiUrl, request: autocannonRequest(fg, ctx), connections, duration, cpu: servers.app.cpu }),
          load({
            apiUrl,
            request: autocannonRequest({ ...bg, onResponse: undefined }, ctx),
            connections: mx.backgroundConnections,
            duration,
            cpu: null,
          }),
        ]);
        results.mixed!.push({ id: mx.id, foreground: fg.id, background: bg.id, connections, me, login });
        if (me.cpu?.otherCores != null) machineLoad.push(me.cpu.otherCores);
        log(
          `${fg.id} ${me.reqPerSec.toFixed(1)} req/s p99 ${me.latency.p99} ms; ${bg.id} ${login.reqPerSec.toFixed(1)} req/s; other load ${f2(me.cpu?.otherCores)}`,
        );
      }
    }
  }

  // What is not one answer per request (scenarios.ts PROBES).
  const probes = PROBES.filter((x) => wanted(x.id));
  if (probes.length) results.probes = [];
  for (const probe of probes) {
    await waitIdle(servers.app.cpu);
    log(`  ${probe.title} ...`);
    results.probes!.push(await probe.run(ctx));
  }

  // Where a request's CPU goes: a CPU profile through the inspector while it is under load.
  if (!options.skipProfile) {
    results.profile = {};
    for (const sc of SCENARIOS.filter((x) => PROFILED.includes(x.id) && wanted(x.id))) {
      const server = servers[sc.server ?? "app"]!;
      // Its state, as before a load run (a batch's single-use codes and tokens: else the profile would be
      // of the exhausted pool's refusals).
      await sc.prepare?.(ctx, { connections: 8, requests: sc.batch ?? null });
      await waitIdle(server.cpu);
      const duration = Math.min(5, options.duration);
      process.stdout.write(`  CPU profile: ${sc.title} c=8 ${sc.batch ? `${sc.batch} req` : `${duration}s`} ... `);
      let p: Awaited<ReturnType<typeof profileWhile<LoadResult>>>;
      try {
        p = await profileWhile({
          inspectorPort: server.inspectorPort,
          sourceMap: server.sourceMap ?? path.join(frozen.outdir, "index.js.map"),
          work: () =>
            load({ apiUrl: server.url, request: autocannonRequest(sc, ctx), connections: 8, duration, amount: sc.batch, cpu: server.cpu }),
        });
      } catch (err) {
        log(`failed: ${(err as Error).message}`);
        continue;
      }
      const { workResult, raw, ...profile } = p;
      // The raw profile, for Chrome DevTools or a closer look, with the bundle's source map beside it.
      fs.writeFileSync(path.join(options.out, `profile-${sc.id}.cpuprofile`), JSON.stringify(raw));
      const map = server.sourceMap ?? path.join(frozen.outdir, "index.js.map");
      fs.copyFileSync(map, path.join(options.out, path.basename(map)));
      results.profile[sc.id] = {
        title: sc.title,
        reqPerSec: workResult.reqPerSec,
        requests: workResult.ok,
        otherCores: workResult.cpu?.otherCores,
        ...profile,
      };
      log(`${workResult.reqPerSec.toFixed(1)} req/s under the profiler, ${profile.sampledMs.toFixed(0)} ms sampled`);
    }
  }
  await waitIdle(servers.app.cpu);

  results.machine.loadavgEnd = os.loadavg();
  results.machine.otherCoresBusy = machineLoad.length
    ? {
        min: Math.min(...machineLoad),
        median: machineLoad.sort((a, b) => a - b)[Math.floor(machineLoad.length / 2)],
        max: Math.max(...machineLoad),
      }
    : null;
  results.elapsedS = (Date.now() - started) / 1000;

  fs.writeFileSync(path.join(options.out, "results.json"), JSON.stringify(results, null, 2));
  const charts = renderCharts(results);
  for (const dir of [options.out, options.charts].filter((d): d is string => Boolean(d))) {
    fs.mkdirSync(dir, { recursive: true });
    for (const [name, svg] of Object.entries(charts)) fs.writeFileSync(path.join(dir, name), svg);
  }
  const md = renderMarkdown(results, { chartsDir: options.charts ? path.relative(ROOT, options.charts) : "." });
  fs.writeFileSync(path.join(options.out, "results.md"), md);
  log(`\n${md}`);
  log(
    `written: ${path.relative(ROOT, options.out)}/results.json, results.md, ${Object.keys(charts).join(", ")} (${results.elapsedS.toFixed(0)} s)`,
  );
}

try {
  await main();
  await cleanup();
  process.exit(0);
} catch (err) {
  const e = err as { stack?: string; detail?: string } | undefined;
  console.error(`bench failed: ${e?.stack ?? err}`);
  if (e?.detail) console.error(`--- output (tail) ---\n${e.detail.slice(-4000)}`);
  if (wranglerStderr) console.error(`--- wrangler dev stderr (tail) ---\n${wranglerStderr.slice(-4000)}`);
  await cleanup();
  process.exit(1);
}
