import postgres from "postgres";
import { inject } from "vitest";
import { CLIENT_OPTIONS, type Db, drizzleOver } from "../../src/db/client";
import { withDb } from "./db";

/** An event as stored (what the outbox wrote), without the columns the sequencer fills. */
export interface StoredEvent {
  id: string;
  type: string;
  user_id: string;
  actor_type: string;
  actor_id: string | null;
  data: Record<string, unknown>;
}

/** Every event about an account, in the order they were written. */
export const eventsOf = (userId: string) =>
  withDb(
    (sql) =>
      sql<StoredEvent[]>`select id, type, user_id, actor_type, actor_id, data from auth_events where user_id = ${userId} order by seq`,
  ).then((rows) => [...rows]);

/** The types of an account's events, in order. */
export const typesOf = async (userId: string) => (await eventsOf(userId)).map((e) => e.type);

/** The account's `session.revoked` events as `sid:reason`, sorted. */
export const revokedOf = async (userId: string) =>
  (await eventsOf(userId))
    .filter((e) => e.type === "session.revoked")
    .map((e) => `${e.data.sid}:${e.data.reason}`)
    .sort();

/**
 * Drizzle over a direct connection of its own (the same options as the Worker's clients), to run
 * the outbox's functions from a test (an open transaction, a reader): end it with `end()`.
 */
export function directDb(): { db: Db; end: () => Promise<void> } {
  const client = postgres(inject("dbUrl"), CLIENT_OPTIONS);
  return { db: drizzleOver(client), end: () => client.end({ timeout: 0 }) };
}
