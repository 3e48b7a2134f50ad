// Smoke test of the better-auth peer, end to end on this machine:
//   npx node bench/peers/better-auth/smoke.mjs [--duration=2] [--connections=8] [--users=16]
//                                              [--auth-scope=isolate|request] [--rate-limit=off|per-ip]
// (npx: Node 22 from the project's devDependencies). Starts an embedded PostgreSQL and the peer
// on free ports, checks sign-up, sign-in, the session and the constant route, then loads each
// route briefly with autocannon and prints req/s and workerd CPU per request. Stops everything
// it started, also on failure and on Ctrl-C; exits non-zero when a check fails.
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import autocannon from "autocannon";
import { diffCpu, freePort, postmasterPid, startPostgres } from "./harness.mjs";
import { PEER_PASSWORD, peerRequest, peerRoutes, seedPeerUsers, startPeer } from "./runner.mjs";

const argv = Object.fromEntries(
  process.argv.slice(2).map((a) => {
    const m = /^--([^=]+)(?:=(.*))?$/.exec(a);
    if (!m) throw new Error(`unknown argument ${a}`);
    return [m[1], m[2] ?? "true"];
  }),
);
const options = {
  duration: Number(argv.duration ?? 2),
  connections: Number(argv.connections ?? 8),
  users: Number(argv.users ?? 16),
  authScope: argv["auth-scope"] ?? "isolate",
  rateLimit: argv["rate-limit"] ?? "off",
};
const log = (...a) => console.log(...a);
let peerOutput = () => "";

const cleanups = [];
let cleaning;
const cleanup = () =>
  (cleaning ??= (async () => {
    for (const c of cleanups.reverse()) {
      try {
        await c();
      } catch {}
    }
  })());
for (const sig of ["SIGINT", "SIGTERM"])
  process.on(sig, async () => {
    log(`\n${sig}: stopping what the smoke test started...`);
    await cleanup();
    process.exit(130);
  });

/**
 * One autocannon run on a route. req/s as the bench counts it: connections ÷ mean latency (on a
 * hash-bound route, 2xx ÷ duration would count the time its queue takes to fill); workerd and
 * postgres CPU over the whole run ÷ the 2xx answers.
 */
async function load(peer, route, duration) {
  const before = peer.cpu?.();
  const r = await new Promise((resolve, reject) => {
    autocannon(
      {
        url: peer.url,
        connections: options.connections,
        duration,
        timeout: 60,
        requests: [
          {
            method: "GET",
            path: "/",
            setupRequest: (req) => {
              const d = route.request();
              return {
                ...req,
                method: d.method,
                path: d.path,
                headers: { ...d.headers, "cf-connecting-ip": nextIp() },
                body: d.body === undefined ? undefined : JSON.stringify(d.body),
              };
            },
          },
        ],
      },
      (err, res) => (err ? reject(err) : resolve(res)),
    );
  });
  const cpu = before && peer.cpu ? diffCpu(peer.cpu(), before) : null;
  const ok = r["2xx"];
  return {
    durationS: r.duration,
    reqPerSec: r.latency.mean > 0 ? (options.connections * 1000 * (ok / Math.max(1, r.requests.total))) / r.latency.mean : 0,
    p50: r.latency.p50,
    p99: r.latency.p99,
    ok,
    non2xx: r.non2xx,
    errors: r.errors + r.timeouts,
    workerdMs: cpu && ok ? cpu.workerd / ok : null,
    postgresMs: cpu && ok ? cpu.postgres / ok : null,
  };
}

/** CPU per request one request at a time: n requests, minus what the processes burn idle meanwhile. */
async function serialCpu(peer, route, n) {
  if (!peer.cpu) return null;
  await waitIdle(peer);
  const i0 = peer.cpu();
  const it = performance.now();
  await sleep(1000);
  const idle = diffCpu(peer.cpu(), i0);
  const idleMs = performance.now() - it;
  const c0 = peer.cpu();
  const t0 = performance.now();
  let ok = 0;
  for (let i = 0; i < n; i++) {
    const r = await peerRequest(peer.url, route.request());
    if (r.status === 200) ok++;
  }
  const elapsed = performance.now() - t0;
  const d = diffCpu(peer.cpu(), c0);
  const per = (k) => Math.max(0, d[k] - (idle[k] * elapsed) / idleMs) / Math.max(1, ok);
  return { n, ok, workerdMs: per("workerd"), postgresMs: per("postgres"), wallMs: elapsed / n };
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Wait until the Worker has finished what the last run left in flight (hashes still queued). */
async function waitIdle(peer, maxMs = 60_000) {
  if (!peer.cpu) return sleep(1000);
  const until = Date.now() + maxMs;
  let prev = peer.cpu();
  for (;;) {
    await sleep(500);
    const cur = peer.cpu();
    const busy = cur.workerd - prev.workerd + cur.postgres - prev.postgres;
    prev = cur;
    if (busy < 60 || Date.now() > until) return;
  }
}
const f2 = (x) => (x == null ? "n/a" : x.toFixed(2));
let ipCounter = 0;
const nextIp = () => {
  ipCounter = (ipCounter + 1) % 16_000_000;
  return `10.${(ipCounter >> 16) & 255}.${(ipCounter >> 8) & 255}.${ipCounter & 255}`;
};

async function main() {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "better-auth-smoke-"));
  cleanups.push(() => fs.rmSync(tmp, { recursive: true, force: true }));

  log("starting an embedded PostgreSQL...");
  const dataDir = path.join(tmp, "postgres");
  const pg = await startPostgres({
    dataDir,
    port: await freePort(),
    persistent: false,
    database: "auth",
    logFile: path.join(tmp, "postgres.log"),
  });
  cleanups.push(() => pg.stop());

  log(`starting the peer (auth scope ${options.authScope}, rate limit ${options.rateLimit})...`);
  const t0 = performance.now();
  const peer = await startPeer({
    dbUrl: pg.url,
    authScope: options.authScope,
    rateLimit: options.rateLimit,
    postmasterPid: postmasterPid(pg.dataDir),
    tmpDir: path.join(tmp, "peer"),
    log,
  });
  cleanups.push(() => peer.stop());
  peerOutput = peer.output;
  log(`  ${peer.url} (workerd pid ${peer.pid}, wrangler group ${peer.pgid}) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  log(
    `  versions: ${Object.entries(peer.versions)
      .map(([k, v]) => `${k} ${v}`)
      .join(", ")}`,
  );

  // The checks: each route does what the bench relies on.
  const routes = peerRoutes(peer.url);
  const email = `smoke-${Date.now().toString(36)}@example.com`;
  const live = await peerRequest(peer.url, routes.live());
  assert.equal(live.status, 200);
  assert.deepEqual(live.data, { status: "ok" });
  const ok = await peerRequest(peer.url, routes.ok());
  assert.equal(ok.status, 200);
  assert.deepEqual(ok.data, { ok: true });
  const signUp = await peerRequest(peer.url, routes.signUp({ email }));
  assert.equal(signUp.status, 200, `sign-up: ${JSON.stringify(signUp.data)}`);
  assert.equal(signUp.data.user.email, email);
  assert.ok(signUp.cookie, "sign-up sets the session cookie");
  const again = await peerRequest(peer.url, routes.signUp({ email }));
  assert.equal(again.status, 422, `a second sign-up with the same email: ${again.status} ${JSON.stringify(again.data)}`);
  const s0 = performance.now();
  const signIn = await peerRequest(peer.url, routes.signIn({ email }));
  const signInMs = performance.now() - s0;
  assert.equal(signIn.status, 200, `sign-in: ${JSON.stringify(signIn.data)}`);
  assert.ok(signIn.cookie && signIn.data.token, "sign-in answers a token and sets the cookie");
  const wrong = await peerRequest(peer.url, routes.signIn({ email, password: `${PEER_PASSWORD}-wrong` }));
  assert.equal(wrong.status, 401, `sign-in with a wrong password: ${wrong.status}`);
  const session = await peerRequest(peer.url, routes.session({ cookie: signIn.cookie }));
  assert.equal(session.status, 200);
  assert.equal(session.data?.user?.email, email, `get-session: ${JSON.stringify(session.data)}`);
  assert.equal(session.data.session.token, signIn.data.token);
  const anonymous = await peerRequest(peer.url, routes.session({ cookie: "better-auth.session_token=forged.value" }));
  assert.equal(anonymous.data, null, "get-session with a forged cookie answers null");
  log(
    "  checks passed: sign-up, duplicate sign-up (422), sign-in, wrong password (401), get-session, forged cookie (null), constant routes",
  );

  // The stored hash: better-auth's scrypt format (16-byte salt hex : 64-byte key hex).
  {
    const postgres = (await import("postgres")).default;
    const sql = postgres(peer.dbUrl, { max: 1, onnotice: () => {} });
    const [row] = await sql`select a.password from account a join "user" u on u.id = a."userId" where u.email = ${email}`;
    await sql.end();
    assert.match(row.password, /^[0-9a-f]{32}:[0-9a-f]{128}$/);
  }

  log(`seeding ${options.users} users through the peer's sign-up...`);
  const users = await seedPeerUsers(peer.url, options.users);
  let n = 0;
  const user = () => users[n++ % users.length];
  let seq = 0;
  const runId = Date.now().toString(36);

  // Hash-bound routes answer only once c requests have queued behind the one thread that hashes:
  // their runs last longer by that fill time (as in the bench), from one sign-in's wall time.
  const hashMs = signInMs;
  const ROUTES = [
    { title: "GET /health/live", request: () => routes.live(), serial: 100 },
    { title: "GET /api/auth/ok", request: () => routes.ok(), serial: 100 },
    { title: "GET /api/auth/get-session", request: () => routes.session(user()), serial: 100 },
    { title: "POST /api/auth/sign-in/email", hashBound: true, request: () => routes.signIn(user()), serial: 10 },
    {
      title: "POST /api/auth/sign-up/email",
      hashBound: true,
      request: () => routes.signUp({ email: `load-${runId}-${seq++}@example.com` }),
      serial: 10,
    },
  ];
  log(
    `load: c=${options.connections}, ${options.duration} s per route (hash-bound: + the queue's fill time, from one sign-in of ${hashMs.toFixed(0)} ms)`,
  );
  log("  req/s = c ÷ mean latency; CPU ms per 2xx answer over the whole run; then CPU one request at a time");
  const rows = [];
  for (const route of ROUTES) {
    const duration = route.hashBound
      ? Math.ceil(options.duration + Math.min(60, (options.connections * hashMs * 1.5) / 1000))
      : options.duration;
    await waitIdle(peer);
    const r = await load(peer, route, duration);
    const one = await serialCpu(peer, route, route.serial);
    rows.push({ route: route.title, ...r, serial: one });
    log(
      `  ${route.title.padEnd(30)} ${r.reqPerSec.toFixed(1).padStart(6)} req/s (${duration} s)  p50 ${String(r.p50).padStart(4)} ms  p99 ${String(r.p99).padStart(4)} ms` +
        `  2xx ${String(r.ok).padStart(4)}  non-2xx ${r.non2xx}  errors ${r.errors}` +
        `  | load: workerd ${f2(r.workerdMs)} postgres ${f2(r.postgresMs)} ms/req` +
        `  | one at a time (${one?.ok}/${one?.n}): workerd ${f2(one?.workerdMs)} postgres ${f2(one?.postgresMs)} ms/req, ${f2(one?.wallMs)} ms wall`,
    );
  }
  const failed = rows.filter((r) => r.ok === 0 || r.non2xx > 0 || r.errors > 0 || (r.serial && r.serial.ok !== r.serial.n));
  if (failed.length) throw new Error(`routes with failures: ${failed.map((r) => r.route).join(", ")}`);
  return rows;
}

try {
  await main();
  await cleanup();
  log("smoke test passed; everything it started is stopped");
  process.exit(0);
} catch (err) {
  console.error(`smoke test failed: ${err?.stack ?? err}`);
  const output = err?.detail ?? peerOutput();
  if (output) console.error(`--- the peer's wrangler dev output (tail) ---\n${output.slice(-4000)}`);
  await cleanup();
  process.exit(1);
}
