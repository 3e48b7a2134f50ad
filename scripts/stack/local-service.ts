// Shared by the local stand-ins (PostgreSQL, mail capture, S3, wrangler dev): free ports, and
// start-up failures as one line a newcomer can act on, with the detail in a log file.
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { inspect } from "node:util";

/** The checkout's root folder. */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

/** A path as short as it can be shown: relative when under the current folder. */
export function displayPath(p: string): string {
  const rel = path.relative(process.cwd(), p);
  return rel && !rel.startsWith("..") && !path.isAbsolute(rel) ? rel : p;
}

/** An error of a Node API (errno code, failed system call). */
export type SystemError = Error & { code?: string; syscall?: string };

/**
 * A local service that could not start. `message` is one line: which service, why, what to do,
 * and where the detail is: "PostgreSQL failed to start: port 54329 is in use: set DB_PORT to a
 * free port (log: .data/logs/postgres.log)".
 */
export class ServiceError extends Error {
  service: string;
  reason: string;
  hint?: string;
  logFile?: string;
  /** The tail of the service's output, for callers without a log file. */
  detail?: string;

  constructor(service: string, reason: string, { hint, logFile, cause }: { hint?: string; logFile?: string; cause?: unknown } = {}) {
    const oneLine = (s: string) =>
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

export const portInUse = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const sock = net.connect({ port, host: "127.0.0.1" });
    sock.once("connect", () => {
      sock.destroy();
      resolve(true);
    });
    sock.once("error", () => resolve(false));
  });

/** The port a listening server got (it listens on TCP, so the address is never a pipe name). */
export const listeningPort = (server: net.Server): number => (server.address() as net.AddressInfo).port;

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const port = listeningPort(srv);
      srv.close(() => resolve(port));
    });
  });
}

/** `n` distinct free ports: all held at once while picking, so no two are the same. */
export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<net.Server>((resolve, reject) => {
          const srv = net.createServer();
          srv.on("error", reject);
          srv.listen(0, "127.0.0.1", () => resolve(srv));
        }),
    ),
  );
  const ports = servers.map(listeningPort);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: alive, but owned by another user (e.g. a postmaster running as "postgres").
    return (err as SystemError).code === "EPERM";
  }
}

export const portHint = (envName: string | undefined): string => (envName ? `set ${envName} to a free port` : "choose another port");

/** Fail early, with the setting to change, when a port the service needs is taken. */
export async function assertPortFree(service: string, port: number | undefined, envName?: string, logFile?: string): Promise<void> {
  if (!port || !(await portInUse(port))) return;
  logError(logFile, `${service}: another program already accepts connections on 127.0.0.1:${port}`);
  throw new ServiceError(service, `port ${port} is in use`, { hint: portHint(envName), logFile });
}

/** Append an error with its stack and causes to a log file; never throws. */
export function logError(logFile: string | undefined, err: unknown): void {
  if (!logFile) return;
  try {
    fs.mkdirSync(path.dirname(logFile), { recursive: true });
    const text = typeof err === "string" ? err : inspect(err, { depth: 6 });
    fs.appendFileSync(logFile, `${new Date().toISOString()} ${text}\n`);
  } catch {}
}

/** The first line of an error's message (or of whatever was thrown). */
export const firstLine = (err: unknown): string => String((err as Error)?.message ?? err).split("\n")[0];

/**
 * Start an in-process service (mail capture, S3). Whatever goes wrong becomes a ServiceError
 * naming the service; listen errors say which port setting to change.
 */
export async function startService<T>(
  service: string,
  { port, envName, logFile }: { port: number; envName: string; logFile: string },
  start: () => Promise<T>,
): Promise<T> {
  try {
    return await start();
  } catch (err) {
    if (err instanceof ServiceError) throw err;
    logError(logFile, err);
    const opts = { logFile, cause: err };
    const code = (err as SystemError)?.code;
    if (code === "EADDRINUSE") throw new ServiceError(service, `port ${port} is in use`, { ...opts, hint: portHint(envName) });
    if (code === "EACCES" && (err as SystemError)?.syscall === "listen")
      throw new ServiceError(service, `not allowed to listen on port ${port}`, { ...opts, hint: `set ${envName} to a port above 1023` });
    throw new ServiceError(service, firstLine(err), opts);
  }
}
