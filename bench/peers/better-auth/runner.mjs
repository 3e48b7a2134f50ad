// The peer for `npm run bench`: better-auth (README.md) under the same wrangler dev as our Worker
// (offline, local mode, a frozen bundle served with --no-bundle, free ports, its own process
// group), on a database of the bench's embedded PostgreSQL, with its schema made by
// better-auth's own migrator. API (types in runner.d.mts):
//
//   await ensurePeerInstalled()                         npm install in this folder when missing
//   const peer = await startPeer({ dbUrl })             { url, pid, pgid, cpu, dbUrl, versions, stop }
//   const users = await seedPeerUsers(peer.url, 64)     [{ email, password, cookie, token }]
//   peerRoutes(peer.url).signIn(user)                   { method, path, headers, body } per route
//   await peer.stop()
import { execFile } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import postgres from "postgres";
import { cpuProbe, freePort, freezeWorker, procAvailable, ROOT, readStat, startWranglerDev } from "./harness.mjs";

export const PEER_DIR = path.dirname(fileURLToPath(import.meta.url));
export const PEER_NAME = "better-auth";
/** The password every seeded peer user gets (at least better-auth's minimum of 8 characters). */
export const PEER_PASSWORD = "Vivid-Quartz-Lantern-2026";
/** The peer's database in the bench's PostgreSQL server, beside ours. */
export const PEER_DATABASE = "better_auth_peer";

const installed = () => fs.existsSync(path.join(PEER_DIR, "node_modules", "better-auth", "package.json"));

/** Install the peer's pinned packages (package-lock.json) into this folder when they are missing. */
export async function ensurePeerInstalled({ log = () => {} } = {}) {
  if (installed()) return false;
  log(`installing the peer's packages (npm install --prefix ${path.relative(ROOT, PEER_DIR)})...`);
  await promisify(execFile)("npm", ["install", "--prefix", PEER_DIR, "--no-fund", "--no-audit"], {
    cwd: ROOT,
    maxBuffer: 16 * 1024 * 1024,
  });
  if (!installed()) throw new Error(`npm install did not install better-auth into ${PEER_DIR}/node_modules`);
  return true;
}

const pkgVersion = (name) => {
  try {
    return JSON.parse(fs.readFileSync(path.join(PEER_DIR, "node_modules", name, "package.json"), "utf8")).version;
  } catch {
    return null;
  }
};

/** The peer's installed versions (what it runs, not what package.json asks for). */
export function peerVersions() {
  return Object.fromEntries(["better-auth", "better-call", "kysely", "pg"].map((p) => [p, pkgVersion(p)]));
}

/** `dbUrl` pointing at another database of the same server, created when missing. */
async function peerDatabase(dbUrl, database) {
  if (!database) return dbUrl;
  const sql = postgres(dbUrl, { max: 1, onnotice: () => {} });
  try {
    const rows = await sql`select 1 from pg_database where datname = ${database}`;
    if (!rows.length) await sql.unsafe(`create database "${database.replace(/"/g, '""')}"`);
  } finally {
    await sql.end();
  }
  const url = new URL(dbUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

/** The workerd that runs the Worker in a wrangler dev process group (not the proxy on the public port). */
function userWorkerdPid(pgid, publicPort) {
  for (const name of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const s = readStat(Number(name));
    if (!s || s.pgrp !== pgid) continue;
    let cmd = "";
    try {
      cmd = fs.readFileSync(`/proc/${name}/cmdline`, "utf8").replace(/\0/g, " ");
    } catch {}
    if ((/workerd/.test(s.comm) || /\/workerd serve/.test(cmd)) && !cmd.includes(`entry=127.0.0.1:${publicPort} `)) return s.pid;
  }
  return null;
}

/**
 * Start the peer. `dbUrl`: any database URL of the bench's PostgreSQL server; the peer uses the
 * database `database` of that server (created when missing; null: `dbUrl` itself), migrated by
 * better-auth. `port` and `inspectorPort` default to free ports. `rateLimit`: "off" (default) or
 * "per-ip" (auth-options.mjs). `authScope`: "isolate" (default) or "request" (worker.mjs).
 * `postmasterPid` adds the database's CPU to `cpu()`. Anything started is stopped on failure.
 */
export async function startPeer({
  dbUrl,
  port,
  inspectorPort,
  database = PEER_DATABASE,
  rateLimit = "off",
  authScope = "isolate",
  postmasterPid,
  tmpDir,
  log = () => {},
}) {
  if (!dbUrl) throw new Error("startPeer: dbUrl is required");
  await ensurePeerInstalled({ log });
  const stops = [];
  const stop = async () => {
    for (const s of stops.splice(0).reverse()) {
      try {
        await s();
      } catch {}
    }
  };
  try {
    const ownTmp = !tmpDir;
    const dir = tmpDir ?? fs.mkdtempSync(path.join(os.tmpdir(), "better-auth-peer-"));
    if (ownTmp) stops.push(() => fs.rmSync(dir, { recursive: true, force: true }));

    const url = await peerDatabase(dbUrl, database);
    const { migratePeer } = await import("./migrate.mjs");
    const migration = await migratePeer(url);
    log(`  peer schema: ${migration.created.length ? `created ${migration.created.join(", ")}` : "up to date"}`);

    // Built once and served as built, like our Worker in the bench.
    const frozen = await freezeWorker({ config: path.join(PEER_DIR, "wrangler.toml"), outdir: path.join(dir, "dist") });
    stops.push(() => frozen.remove());
    port ??= await freePort();
    inspectorPort ??= await freePort();
    const baseURL = `http://127.0.0.1:${port}`;
    const vars = {
      BETTER_AUTH_SECRET: crypto.randomBytes(32).toString("base64url"),
      BETTER_AUTH_URL: baseURL,
      PEER_RATE_LIMIT: rateLimit,
      PEER_AUTH_SCOPE: authScope,
    };
    const w = await startWranglerDev({
      config: frozen.config,
      port,
      inspectorPort,
      readyPath: "/health/live",
      env: { CLOUDFLARE_HYPERDRIVE_LOCAL_CONNECTION_STRING_HYPERDRIVE: url },
      extraArgs: ["--no-bundle", ...Object.entries(vars).flatMap(([k, v]) => ["--var", `${k}:${v}`])],
      onStarting: (stopIt) => stops.push(stopIt),
    });
    // Keep reading its output (a full pipe would stall it); the tail explains failures.
    let output = "";
    const keep = (d) => (output = (output + d).slice(-20_000));
    w.child.stdout?.on("data", keep);
    w.child.stderr?.on("data", keep);
    return {
      url: w.url,
      port,
      inspectorPort,
      pid: userWorkerdPid(w.pgid, port),
      pgid: w.pgid,
      sourceMap: path.join(frozen.outdir, "worker.js.map"),
      cpu: procAvailable() ? cpuProbe({ wranglerPgid: w.pgid, publicPort: port, postmasterPid }) : null,
      dbUrl: url,
      migration,
      settings: { rateLimit, authScope },
      versions: peerVersions(),
      output: () => output,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Requests in the bench's shape ({ method, path, headers, body: object }), per route. */
export function peerRoutes(url) {
  // A browser's POST carries its Origin; better-auth checks it against its base URL.
  const post = (p, body) => ({ method: "POST", path: p, headers: { "content-type": "application/json", origin: url }, body });
  return {
    live: () => ({ method: "GET", path: "/health/live", headers: {} }),
    ok: () => ({ method: "GET", path: "/api/auth/ok", headers: {} }),
    signUp: ({ email, password = PEER_PASSWORD, name = "Bench Peer" }) => post("/api/auth/sign-up/email", { name, email, password }),
    signIn: ({ email, password = PEER_PASSWORD }) => post("/api/auth/sign-in/email", { email, password }),
    session: ({ cookie }) => ({ method: "GET", path: "/api/auth/get-session", headers: { cookie } }),
  };
}

let ipCounter = 0;
/** A client address of its own for each request (10.128.0.0/9), as the bench gives each of its requests. */
export function nextPeerIp() {
  ipCounter = (ipCounter + 1) % 8_000_000;
  return `10.${128 + ((ipCounter >> 16) & 127)}.${(ipCounter >> 8) & 255}.${ipCounter & 255}`;
}

/**
 * Send one route request with fetch, from its own CF-Connecting-IP (so better-auth's limiter,
 * when on, never refuses): { status, data, cookie } (cookie: the session cookie it set, if any).
 * Throws after `timeoutMs`.
 */
export async function peerRequest(url, { method, path: p, headers = {}, body }, { timeoutMs = 60_000 } = {}) {
  const res = await fetch(url + p, {
    method,
    headers: { "cf-connecting-ip": nextPeerIp(), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await res.text();
  let data;
  try {
    data = JSON.parse(text);
  } catch {
    data = text;
  }
  const session = res.headers.getSetCookie().find((c) => /^(__Secure-)?better-auth\.session_token=/.test(c));
  return { status: res.status, data, cookie: session?.split(";")[0] ?? null };
}

/**
 * `n` users signed up through the peer's API (hashes made by the Worker), each with the session
 * cookie and token of its sign-up. Emails are unique per call (`prefix`).
 */
export async function seedPeerUsers(
  url,
  n,
  { password = PEER_PASSWORD, prefix = `peer-${Date.now().toString(36)}`, concurrency = 2 } = {},
) {
  const routes = peerRoutes(url);
  const users = new Array(n);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, n) }, async () => {
      while (next < n) {
        const i = next++;
        const email = `${prefix}-${i}@example.com`;
        const r = await peerRequest(url, routes.signUp({ email, password, name: `Peer User ${i}` }));
        if (r.status !== 200 || !r.cookie) throw new Error(`peer sign-up failed: ${r.status} ${JSON.stringify(r.data)}`);
        users[i] = { email, password, cookie: r.cookie, token: r.data.token };
      }
    }),
  );
  return users;
}
