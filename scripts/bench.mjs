// npm run bench: throughput, latency and CPU per request against floors measured in the same run.
//
//   1. bundle size (wrangler deploy --dry-run) and startup (wrangler check startup)
//   2. password-hash micro-benchmark inside workerd (bench/hash-worker.ts under wrangler dev)
//   3. the local stack (embedded Postgres + the Worker under wrangler dev) on free ports in a
//      temporary folder, users seeded through the API, then load from this process (autocannon)
//      at each concurrency for a fixed duration: the constant floor, the select-1 floor, JWKS,
//      /auth/me, login, refresh, register, and /auth/me while logins run.
//   Results: bench-results/results.json and bench-results/results.md. Everything started is
//   stopped at the end, on failure and on Ctrl-C.
//
// Options (flags or env): --duration=10 (BENCH_DURATION, seconds per run), --connections=8,32
// (BENCH_CONNECTIONS), --users=64 (BENCH_USERS), --only=live,me,... (BENCH_ONLY), --hash-rounds=3,
// --startup-runs=3, --skip-static, --skip-hash, --out=bench-results.

import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import autocannon from "autocannon";
import postgres from "postgres";
import { runHashBench } from "./lib/bench-hash.mjs";
import { renderMarkdown } from "./lib/bench-report.mjs";
import { measureBundle, measureStartup } from "./lib/bench-static.mjs";
import { cpuProbe, diffCpu, postmasterPid, procAvailable } from "./lib/proc-cpu.mjs";
import { startPwnedServer } from "./lib/pwned-stub.mjs";
import { freePort, ROOT, startStack } from "./lib/stack.mjs";
import { readWranglerConfig } from "./lib/wrangler-config.mjs";
import { freezeWorker } from "./lib/wrangler-dev.mjs";

// ---------------------------------------------------------------------------------------------
// Options
const argv = Object.fromEntries(
  process.argv.slice(2).map((a) => {
    const m = /^--([^=]+)(?:=(.*))?$/.exec(a);
    if (!m) throw new Error(`unknown argument ${a}`);
    return [m[1], m[2] ?? "true"];
  }),
);
const opt = (name, env, fallback) => argv[name] ?? process.env[env] ?? fallback;
const options = {
  duration: Number(opt("duration", "BENCH_DURATION", 10)),
  connections: String(opt("connections", "BENCH_CONNECTIONS", "8,32"))
    .split(",")
    .map(Number)
    .filter(Boolean),
  users: Number(opt("users", "BENCH_USERS", 64)),
  only: opt("only", "BENCH_ONLY", "") ? String(opt("only", "BENCH_ONLY", "")).split(",") : null,
  hashRounds: Number(opt("hash-rounds", "BENCH_HASH_ROUNDS", 3)),
  startupRuns: Number(opt("startup-runs", "BENCH_STARTUP_RUNS", 3)),
  skipStatic: opt("skip-static", "BENCH_SKIP_STATIC", "false") === "true",
  skipHash: opt("skip-hash", "BENCH_SKIP_HASH", "false") === "true",
  out: path.resolve(ROOT, String(opt("out", "BENCH_OUT", "bench-results"))),
};
// The configured password parameters (wrangler.toml [vars] may override the code defaults).
const SCRYPT = { logN: 14, r: 8, p: 5 };
{
  const vars = readWranglerConfig().vars ?? {};
  for (const [k, v] of [
    ["SCRYPT_LOG_N", "logN"],
    ["SCRYPT_R", "r"],
    ["SCRYPT_P", "p"],
  ])
    if (vars[k] !== undefined) SCRYPT[v] = Number(vars[k]);
}
const PASSWORD = "Vivid-Quartz-Lantern-2026";
const SCENARIOS = ["live", "select1", "jwks", "me", "login", "refresh", "register", "mixed"];
const wanted = (s) => !options.only || options.only.includes(s);

const log = (...a) => console.log(...a);
let wranglerStderr = "";
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------
// Cleanup on every exit path
const cleanups = [];
let cleaning = false;
async function cleanup() {
  if (cleaning) return;
  cleaning = true;
  for (const c of cleanups.reverse()) {
    try {
      await c();
    } catch {}
  }
}
for (const sig of ["SIGINT", "SIGTERM"])
  process.on(sig, async () => {
    log(`\n${sig}: stopping everything the bench started...`);
    await cleanup();
    process.exit(130);
  });

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

function pkgVersion(p) {
  try {
    return JSON.parse(fs.readFileSync(path.join(ROOT, "node_modules", p, "package.json"), "utf8")).version;
  } catch {
    return null;
  }
}

function versions() {
  let wrangler = null;
  try {
    wrangler = execFileSync("npx", ["wrangler", "--version"], { cwd: ROOT, env: { ...process.env, WRANGLER_SEND_METRICS: "false" } })
      .toString()
      .trim()
      .split("\n")
      .pop();
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

async function api(apiUrl, method, p, body, headers = {}) {
  const res = await fetch(apiUrl + p, {
    method,
    headers: { ...jsonHeaders, "cf-connecting-ip": nextIp(), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let data;
  try {
    data = JSON.parse(text);
  } catch {
    data = text;
  }
  return { status: res.status, data };
}

async function pool(items, concurrency, fn) {
  const out = [];
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
 */
async function load({ apiUrl, request, connections, duration, cpu }) {
  const url = new URL(apiUrl);
  let cpu0, cpu1, m0, m1, g0, g1, w0, w1;
  const instance = autocannon({
    url: apiUrl,
    connections,
    duration,
    timeout: 120,
    requests: [{ ...request, hostname: url.hostname, port: Number(url.port) }],
  });
  const t1 = setTimeout(
    () => {
      cpu0 = cpu?.();
      m0 = machineCpu();
      g0 = process.cpuUsage();
      w0 = performance.now();
    },
    duration * 1000 * 0.2,
  );
  const t2 = setTimeout(
    () => {
      cpu1 = cpu?.();
      m1 = machineCpu();
      g1 = process.cpuUsage(g0);
      w1 = performance.now();
    },
    duration * 1000 * 0.9,
  );
  const r = await new Promise((resolve, reject) => {
    instance.on("done", resolve);
    instance.on("error", reject);
  });
  clearTimeout(t1);
  clearTimeout(t2);
  const okShare = r.requests.total ? r["2xx"] / r.requests.total : 0;
  const sustained = r.latency.mean > 0 ? (connections * 1000 * okShare) / r.latency.mean : 0;
  const result = {
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
    const served = (sustained * windowMs) / 1000;
    const d = diffCpu(cpu1, cpu0);
    const per = Object.fromEntries(Object.entries(d).map(([k, v]) => [k, v / served]));
    per.total = (d.workerd + d.proxy + d.wrangler + d.postgres) / served;
    per.loadGenerator = (g1.user + g1.system) / 1000 / served;
    const ours = d.workerd + d.proxy + d.wrangler + d.postgres + (g1.user + g1.system) / 1000;
    result.cpu = {
      windowMs,
      windowRequests: served,
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
async function serialCpu({ cpu, n, send }) {
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
  const per = {};
  for (const k of Object.keys(d)) per[k] = Math.max(0, d[k] - (idle[k] * elapsed) / idleMs) / Math.max(1, ok);
  per.total = per.workerd + per.proxy + per.wrangler + per.postgres;
  return { n, ok, msPerRequest: per, wallMsPerRequest: elapsed / n };
}

/** Wait until the Worker has finished what the last run left in flight. */
async function waitIdle(cpu, maxMs = 60_000) {
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
async function main() {
  const started = Date.now();
  fs.mkdirSync(options.out, { recursive: true });
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "edge-auth-bench-"));
  cleanups.push(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const results = {
    startedAt: new Date().toISOString(),
    command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(" ")}` : ""}`,
    options: { ...options, out: path.relative(ROOT, options.out) },
    machine: machine(),
    versions: versions(),
    scrypt: SCRYPT,
    rateLimits: "production bindings kept; every request carries its own CF-Connecting-IP",
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
    log("startup floor: an empty Worker with the same compatibility settings...");
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
  const dataDir = path.join(tmp, "stack");
  const stack = await startStack({
    dataDir,
    persistent: false,
    port,
    dbPort: await freePort(),
    mailPort: await freePort(),
    s3Port: await freePort(),
    oidcPort: await freePort(),
    vars: { PWNED_PASSWORDS_URL: pwned.url },
    config: frozen.config,
    wranglerArgs: ["--no-bundle", "--inspector-port", String(await freePort())],
    inheritOutput: false,
    log: () => {},
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
  const cpu = procAvailable()
    ? cpuProbe({ wranglerPgid: stack.wrangler.pid, publicPort: port, postmasterPid: postmasterPid(path.join(dataDir, "postgres")) })
    : null;

  // Seed users through the API (hashes made by the Worker).
  log(`seeding ${options.users} users through POST /auth/register...`);
  const runId = Date.now().toString(36);
  const seeds = (
    await pool(
      Array.from({ length: options.users }, (_, i) => i),
      2,
      async (i) => {
        const email = `bench-${runId}-seed-${i}@example.com`;
        const r = await api(apiUrl, "POST", "/auth/register", { full_name: `Bench User ${i}`, email, password: PASSWORD, role: "student" });
        if (r.status !== 201) throw new Error(`seeding failed: ${r.status} ${JSON.stringify(r.data)}`);
        return { email, access: r.data.access_token, refresh: r.data.refresh_token };
      },
    )
  ).filter(Boolean);
  // Warm up every route once (JIT, connection setup) before measuring.
  for (const s of seeds.slice(0, 4)) {
    await api(apiUrl, "GET", "/health/live");
    await api(apiUrl, "GET", "/health");
    await api(apiUrl, "GET", "/.well-known/jwks.json");
    await api(apiUrl, "GET", "/auth/me", undefined, { authorization: `Bearer ${s.access}` });
  }

  // Request factories. Each returns an autocannon request with setupRequest (per request).
  let seq = 0;
  const withIp = (req, extra = {}) => ({ ...req, ...extra, headers: { ...req.headers, ...extra.headers, "cf-connecting-ip": nextIp() } });
  const refreshPool = [];
  const requests = {
    live: () => ({ method: "GET", path: "/health/live", headers: jsonHeaders, setupRequest: (r) => withIp(r) }),
    select1: () => ({ method: "GET", path: "/health", headers: jsonHeaders, setupRequest: (r) => withIp(r) }),
    jwks: () => ({ method: "GET", path: "/.well-known/jwks.json", headers: jsonHeaders, setupRequest: (r) => withIp(r) }),
    me: () => ({
      method: "GET",
      path: "/auth/me",
      headers: jsonHeaders,
      setupRequest: (r) => withIp(r, { headers: { authorization: `Bearer ${seeds[seq++ % seeds.length].access}` } }),
    }),
    login: ({ collect = true } = {}) => ({
      method: "POST",
      path: "/auth/login",
      headers: jsonHeaders,
      setupRequest: (r) => withIp(r, { body: JSON.stringify({ email: seeds[seq++ % seeds.length].email, password: PASSWORD }) }),
      ...(collect
        ? {
            onResponse: (status, body) => {
              if (status === 200 && refreshPool.length < 4096) refreshPool.push(JSON.parse(body).refresh_token);
            },
          }
        : {}),
    }),
    // Each refresh consumes its token; the successor goes back to the pool (a chain per session).
    refresh: () => ({
      method: "POST",
      path: "/auth/refresh",
      headers: jsonHeaders,
      setupRequest: (r, ctx) => {
        ctx.token = refreshPool.shift() ?? "exhausted-pool";
        return withIp(r, { body: JSON.stringify({ refresh_token: ctx.token }) });
      },
      onResponse: (status, body) => {
        if (status === 200) refreshPool.push(JSON.parse(body).refresh_token);
      },
    }),
    register: () => ({
      method: "POST",
      path: "/auth/register",
      headers: jsonHeaders,
      setupRequest: (r) =>
        withIp(r, {
          body: JSON.stringify({
            full_name: "Bench Register",
            email: `bench-${runId}-r${seq++}@example.com`,
            password: PASSWORD,
            role: "student",
          }),
        }),
    }),
  };
  const titles = {
    live: "GET /health/live (constant floor)",
    select1: "GET /health (select 1 floor)",
    jwks: "GET /.well-known/jwks.json",
    me: "GET /auth/me",
    login: "POST /auth/login",
    refresh: "POST /auth/refresh",
    register: "POST /auth/register",
  };

  // Hash-bound routes answer only once c requests have queued on the one thread that hashes:
  // they run for the duration plus that fill time, so the steady state lasts the full duration.
  const hashMs = results.hash?.rows.find((r) => r.impl === "app")?.verifyMs ?? 250;
  const durationFor = (name, c) =>
    ["login", "register", "mixed"].includes(name)
      ? Math.ceil(options.duration + Math.min(120, (c * hashMs * 1.5) / 1000))
      : options.duration;

  results.scenarios = [];
  const machineLoad = [];
  for (const name of SCENARIOS.filter((s) => s !== "mixed" && wanted(s))) {
    for (const connections of options.connections) {
      if (name === "refresh") {
        // Enough live sessions for every connection (logins also feed the pool).
        const need = connections * 2 - refreshPool.length;
        if (need > 0)
          await pool(
            Array.from({ length: need }, (_, i) => i),
            4,
            async (i) => {
              const r = await api(apiUrl, "POST", "/auth/login", { email: seeds[i % seeds.length].email, password: PASSWORD });
              if (r.status === 200) refreshPool.push(r.data.refresh_token);
            },
          );
      }
      await waitIdle(cpu);
      const duration = durationFor(name, connections);
      process.stdout.write(`  ${titles[name].padEnd(36)} c=${String(connections).padEnd(3)} ${duration}s ... `);
      const r = await load({ apiUrl, request: requests[name](), connections, duration, cpu });
      results.scenarios.push({ name, title: titles[name], ...r });
      if (r.cpu?.otherCores != null) machineLoad.push(r.cpu.otherCores);
      log(
        `${r.reqPerSec.toFixed(1)} req/s  p50 ${r.latency.p50} ms  p99 ${r.latency.p99} ms  non-2xx ${r.non2xx}  errors ${r.errors + r.timeouts}` +
          (r.cpu ? `  cpu ${r.cpu.msPerRequest.workerd.toFixed(2)}+${r.cpu.msPerRequest.postgres.toFixed(2)} ms` : ""),
      );
    }
  }

  // Exact CPU per request, one request at a time (the load runs above estimate it under load).
  if (cpu) {
    log("CPU per request, one request at a time...");
    const ok = (r) => r.status >= 200 && r.status < 300;
    const serial = {
      live: { n: 200, send: async () => ok(await api(apiUrl, "GET", "/health/live")) },
      select1: { n: 200, send: async () => ok(await api(apiUrl, "GET", "/health")) },
      jwks: { n: 200, send: async () => ok(await api(apiUrl, "GET", "/.well-known/jwks.json")) },
      me: {
        n: 200,
        send: async (i) =>
          ok(await api(apiUrl, "GET", "/auth/me", undefined, { authorization: `Bearer ${seeds[i % seeds.length].access}` })),
      },
      login: {
        n: 20,
        send: async (i) => ok(await api(apiUrl, "POST", "/auth/login", { email: seeds[i % seeds.length].email, password: PASSWORD })),
      },
      refresh: {
        n: 100,
        send: async () => {
          const r = await api(apiUrl, "POST", "/auth/refresh", { refresh_token: refreshPool.shift() ?? "exhausted-pool" });
          if (ok(r)) refreshPool.push(r.data.refresh_token);
          return ok(r);
        },
      },
      register: {
        n: 20,
        send: async () =>
          ok(
            await api(apiUrl, "POST", "/auth/register", {
              full_name: "Bench Serial",
              email: `bench-${runId}-s${seq++}@example.com`,
              password: PASSWORD,
              role: "student",
            }),
          ),
      },
    };
    results.serial = [];
    for (const name of SCENARIOS.filter((x) => x !== "mixed" && wanted(x))) {
      if (name === "refresh" && refreshPool.length === 0) {
        const r = await api(apiUrl, "POST", "/auth/login", { email: seeds[0].email, password: PASSWORD });
        if (r.status === 200) refreshPool.push(r.data.refresh_token);
      }
      const r = await serialCpu({ cpu, ...serial[name] });
      results.serial.push({ name, title: titles[name], ...r });
      const c = r.msPerRequest;
      log(
        `  ${titles[name].padEnd(36)} ${r.ok}/${r.n} ok  workerd ${c.workerd.toFixed(2)}  proxy ${c.proxy.toFixed(2)}  postgres ${c.postgres.toFixed(2)} ms/req`,
      );
    }
  }

  if (wanted("mixed")) {
    results.mixed = [];
    for (const connections of options.connections) {
      await waitIdle(cpu);
      const duration = durationFor("mixed", 8);
      process.stdout.write(`  GET /auth/me c=${connections} while POST /auth/login c=8, ${duration}s ... `);
      const [me, login] = await Promise.all([
        load({ apiUrl, request: requests.me(), connections, duration, cpu: null }),
        load({ apiUrl, request: requests.login({ collect: false }), connections: 8, duration, cpu: null }),
      ]);
      results.mixed.push({ connections, me, login });
      log(`me ${me.reqPerSec.toFixed(1)} req/s p99 ${me.latency.p99} ms; login ${login.reqPerSec.toFixed(1)} req/s`);
    }
  }
  await waitIdle(cpu);

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
  const md = renderMarkdown(results);
  fs.writeFileSync(path.join(options.out, "results.md"), md);
  log(`\n${md}`);
  log(`written: ${path.relative(ROOT, options.out)}/results.json and results.md (${results.elapsedS.toFixed(0)} s)`);
}

try {
  await main();
  await cleanup();
  process.exit(0);
} catch (err) {
  console.error(`bench failed: ${err?.stack ?? err}`);
  if (err?.detail) console.error(`--- output (tail) ---\n${err.detail.slice(-4000)}`);
  if (wranglerStderr) console.error(`--- wrangler dev stderr (tail) ---\n${wranglerStderr.slice(-4000)}`);
  await cleanup();
  process.exit(1);
}
