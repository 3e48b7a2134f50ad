// Shared by the local stand-ins (PostgreSQL, mail capture, S3, wrangler dev): free ports, and
// start-up failures as one line a newcomer can act on, with the detail in a log file.
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { inspect } from "node:util";

/** A path as short as it can be shown: relative when under the current folder. */
export function displayPath(p) {
  const rel = path.relative(process.cwd(), p);
  return rel && !rel.startsWith("..") && !path.isAbsolute(rel) ? rel : p;
}

/**
 * A local service that could not start. `message` is one line: which service, why, what to do,
 * and where the detail is: "PostgreSQL failed to start: port 54329 is in use: set DB_PORT to a
 * free port (log: .data/logs/postgres.log)".
 */
export class ServiceError extends Error {
  constructor(service, reason, { hint, logFile, cause } = {}) {
    const oneLine = (s) =>
      String(s)
        .replace(/\s*\n\s*/g, " ")
        .trim();
    super(
      `${service} failed to start: ${oneLine(reason)}${hint ? `: ${oneLine(hint)}` : ""}${logFile ? ` (log: ${displayPath(logFile)})` : ""}`,
      { cause },
    );
    this.name = "ServiceError";
    this.service = service;
    this.reason = reason;
    this.hint = hint;
    this.logFile = logFile;
  }
}

export const portInUse = (port) =>
  new Promise((resolve) => {
    const sock = net.connect({ port, host: "127.0.0.1" });
    sock.once("connect", () => {
      sock.destroy();
      resolve(true);
    });
    sock.once("error", () => resolve(false));
  });

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

/** `n` distinct free ports: all held at once while picking, so no two are the same. */
export async function freePorts(n) {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise((resolve, reject) => {
          const srv = net.createServer();
          srv.on("error", reject);
          srv.listen(0, "127.0.0.1", () => resolve(srv));
        }),
    ),
  );
  const ports = servers.map((s) => s.address().port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

export function isAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: alive, but owned by another user (e.g. a postmaster running as "postgres").
    return err.code === "EPERM";
  }
}

export const portHint = (envName) => (envName ? `set ${envName} to a free port` : "choose another port");

/** Fail early, with the setting to change, when a port the service needs is taken. */
export async function assertPortFree(service, port, envName, logFile) {
  if (!port || !(await portInUse(port))) return;
  logError(logFile, `${service}: another program already accepts connections on 127.0.0.1:${port}`);
  throw new ServiceError(service, `port ${port} is in use`, { hint: portHint(envName), logFile });
}

/** Append an error with its stack and causes to a log file; never throws. */
export function logError(logFile, err) {
  if (!logFile) return;
  try {
    fs.mkdirSync(path.dirname(logFile), { recursive: true });
    const text = typeof err === "string" ? err : inspect(err, { depth: 6 });
    fs.appendFileSync(logFile, `${new Date().toISOString()} ${text}\n`);
  } catch {}
}

/**
 * Start an in-process service (mail capture, S3). Whatever goes wrong becomes a ServiceError
 * naming the service; listen errors say which port setting to change.
 */
export async function startService(service, { port, envName, logFile }, start) {
  try {
    return await start();
  } catch (err) {
    if (err instanceof ServiceError) throw err;
    logError(logFile, err);
    const opts = { logFile, cause: err };
    if (err?.code === "EADDRINUSE") throw new ServiceError(service, `port ${port} is in use`, { ...opts, hint: portHint(envName) });
    if (err?.code === "EACCES" && err?.syscall === "listen")
      throw new ServiceError(service, `not allowed to listen on port ${port}`, { ...opts, hint: `set ${envName} to a port above 1023` });
    throw new ServiceError(service, String(err?.message ?? err).split("\n")[0], opts);
  }
}
