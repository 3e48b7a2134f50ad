import { sql } from "drizzle-orm";
import { drizzle, type PostgresJsDatabase } from "drizzle-orm/postgres-js";
import postgres from "postgres";

/**
 * Drizzle's query builder over the request's connection. Without the relational query API
 * (`db.query.*`, unused here): given the schema, drizzle() walks every table and relation to build
 * that API, on every request, since the client is per request.
 */
export type Db = PostgresJsDatabase;

/**
 * postgres.js options for a per-request client. Hyperdrive pools the real connections, so the
 * Worker opens a cheap connection per request and does not end it (ending it inside workerd
 * raises porsager/postgres#1202; the socket closes with the request). One connection: queries
 * issued together (Promise.all) are pipelined on it in one round trip, where a larger pool would
 * open a second connection (another handshake) for them. Code inside a transaction must use the
 * transaction's handle only (it holds the connection).
 */
export const CLIENT_OPTIONS = {
  max: 1,
  fetch_types: false,
  // Generous: a connect is only started once the request's own work (e.g. a password hash) is
  // done, and the timer must not fire because other requests kept the isolate busy meanwhile.
  connect_timeout: 15,
  idle_timeout: 0,
  onnotice: () => {},
} satisfies postgres.Options<Record<string, never>>;

/** Drizzle over a postgres.js client. */
export const drizzleOver = (client: postgres.Sql): Db => drizzle(client);

/** The production database of a request: Drizzle over a fresh postgres.js client. */
export function createDb(connectionString: string): Db {
  return drizzleOver(postgres(connectionString, CLIENT_OPTIONS));
}

/**
 * A read that decides access (login state, sessions, codes, throttles, account status) must never
 * be answered from Hyperdrive's query cache, which serves read-only queries for up to 60 s + 15 s
 * stale by default. Cloudflare's documentation (Hyperdrive, "Query caching") states that mutating
 * queries and "queries that use functions designated as volatile or stable by PostgreSQL are not
 * cached". clock_timestamp() is volatile (pg_proc.provolatile = 'v'), so selecting it makes any
 * such read uncacheable whatever the Hyperdrive configuration. Prefer a write (the throttle
 * reservation) where the read is followed by one anyway. test/db/uncached.test.ts records every
 * statement the Worker sends and checks this holds.
 */
export const UNCACHED = sql<string>`clock_timestamp()`;

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
