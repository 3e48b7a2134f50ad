import { drizzle, type PostgresJsDatabase } from "drizzle-orm/postgres-js";
import postgres from "postgres";
import * as schema from "./schema";

export type Db = PostgresJsDatabase<typeof schema>;

/**
 * A Drizzle client over a per-request postgres.js client. Hyperdrive pools the real
 * connections, so the Worker opens a cheap connection per request and does not end it
 * (ending it inside workerd raises porsager/postgres#1202; the socket closes with the request).
 * One connection: queries issued together (Promise.all) are pipelined on it in one round trip,
 * where a larger pool would open a second connection (another handshake) for them. Code inside
 * a transaction must use the transaction's handle only (it holds the connection).
 */
export function createDb(connectionString: string): Db {
  const client = postgres(connectionString, {
    max: 1,
    fetch_types: false,
    connect_timeout: 5,
    idle_timeout: 0,
    onnotice: () => {},
  });
  clientHooks.created?.(client);
  return drizzle(client, { schema });
}

/**
 * Tests only (unset in production): told about every client created. A test harness that
 * calls the Worker's fetch directly runs outside a real request context, so sockets do not
 * close with the request; test/helpers.ts uses this to end them after each call.
 */
export const clientHooks: { created?: (client: postgres.Sql) => void } = {};

const UNAVAILABLE_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENOTFOUND",
  "CONNECT_TIMEOUT",
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "57P01", // admin_shutdown
  "57P03", // cannot_connect_now
  "53300", // too_many_connections
]);

/** True when an error means "the database cannot be reached" rather than a bug. */
export function isDbUnavailable(err: unknown): boolean {
  for (let e: any = err, depth = 0; e && depth < 4; e = e.cause, depth++) {
    if (typeof e.code === "string" && UNAVAILABLE_CODES.has(e.code)) return true;
    const msg = String(e.message ?? "");
    if (/connect|socket|network|stream was cancelled|closed/i.test(msg) && !/violates|syntax/i.test(msg)) return true;
  }
  return false;
}

/** Postgres unique_violation, possibly wrapped by Drizzle. */
export function isUniqueViolation(err: unknown): boolean {
  for (let e: any = err, depth = 0; e && depth < 4; e = e.cause, depth++) {
    if (e.code === "23505") return true;
  }
  return false;
}
