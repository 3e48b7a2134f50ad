import { and, asc, eq, gt, lt, type SQL, sql } from "drizzle-orm";
import { type Db, UNCACHED } from "../../db/client";
import { authEvents } from "../../db/schema";
import type { Deps } from "../../deps";
import {
  type Actor,
  type CREDENTIAL_CHANGES,
  type CREDENTIALS,
  EVENT_TYPES,
  type EventData,
  type EventPayload,
  type EventType,
  type RevokeReason,
  self,
} from "./types";
import { noteEventsWritten } from "./written";

/**
 * The outbox: identity events written IN THE TRANSACTION of the change they record, so an event
 * exists exactly when its change committed, and read back in commit order by the events feed
 * (GET /auth/events) and the webhooks.
 *
 * API for readers (the feed, the webhook dispatcher):
 *
 *   await sequenceEvents(db)                                  // give committed events their positions
 *   const rows = await eventsAfter(db, { after, limit, userId? })   // position > after, ascending
 *   rows.map(toPayload)                                       // {id, type, timestamp, position, data}
 *
 * `eventsAfter` runs `sequenceEvents` first, so a caller that only reads needs only it. A reader
 * keeps the last position it handled and asks for `after` it next time: it sees every event
 * exactly once, in order (per user too: `userId` reads one account's events).
 *
 * Writers call recordEvent(tx, ...) on the transaction of the change (or, where the change is
 * one statement, add revokedSessionEvents to it as a CTE). Never after the change: an event of a
 * change that rolled back must not exist, and a change that committed must not lack its event.
 *
 * Why positions are assigned by a separate, serialized step (sequenceEvents) rather than by a
 * sequence at insert time: a writer that took position 10 and commits after a writer that took 11
 * would let a reader that saw 11 move its cursor past 10 and never see it. Here an event gets its
 * position only once its transaction has committed (the step sees committed rows only), and steps
 * run one at a time (an advisory lock held to the step's commit): every position a step assigns is
 * larger than any assigned before, and a reader that sees a position sees every smaller one
 * (the earlier step committed before the later one could start). Rows a step cannot see yet (their
 * transaction still open) get a larger position from a later step. Within a step, rows are ordered
 * by insert order (`seq`), so two changes of one account that waited for each other's row lock
 * keep their order.
 */

export interface NewEvent<T extends EventType = EventType> {
  type: T;
  userId: string;
  actor: Actor;
  data: EventData<T>;
  at: Date;
}

/** The rows of events, validated against their type's schema (a field not declared there is refused). */
function rowsOf(events: NewEvent[]) {
  return events.map((e) => ({
    id: crypto.randomUUID(),
    type: e.type,
    at: e.at,
    userId: e.userId,
    actorType: e.actor.type,
    actorId: e.actor.id,
    data: (EVENT_TYPES[e.type].data as { parse: (v: unknown) => unknown }).parse(e.data) as Record<string, unknown>,
  }));
}

/**
 * recordEvent as a statement to add to the one that makes the change (a CTE): the event, validated
 * as recordEvent validates it, once per row of `from` (none when the change wrote no row).
 */
export function recordEventWith(from: SQL, e: NewEvent): SQL {
  const [r] = rowsOf([e]);
  noteEventsWritten();
  return sql`insert into ${authEvents} (id, type, at, user_id, actor_type, actor_id, data)
    select gen_random_uuid(), ${r.type}, ${r.at.toISOString()}::timestamptz, ${r.userId}::uuid, ${r.actorType}, ${r.actorId}::uuid,
           ${JSON.stringify(r.data)}::jsonb
      from ${from}`;
}

/** Write events on the change's transaction `tx` (or in the same statement's CTE: revokedSessionEvents). */
export async function recordEvent(tx: Db, ...events: NewEvent[]): Promise<void> {
  if (events.length === 0) return;
  noteEventsWritten();
  await tx.insert(authEvents).values(rowsOf(events));
}

/** An event, typed by its type (for call sites: `event("user.updated", {...})`). */
export const event = <T extends EventType>(type: T, e: Omit<NewEvent<T>, "type">): NewEvent => ({ type, ...e }) as NewEvent;

/** A `user.created` of a new account (by its owner: registration, a first social sign-in). */
export const userCreated = (deps: Pick<Deps, "now">, user: { id: string; role: string }, method: string): NewEvent =>
  event("user.created", { userId: user.id, actor: self(user.id), at: deps.now(), data: { role: user.role, method } });

/** A `user.email_verified` by the owner (who proved the address). */
export const emailVerified = (userId: string, at: Date): NewEvent =>
  event("user.email_verified", { userId, actor: self(userId), at, data: {} });

/**
 * An update that set `email_verified_at = coalesce(email_verified_at, now)` verified the address
 * (rather than finding it verified) when the value it returned is that `now`.
 */
export const newlyVerified = (verifiedAt: Date | null | undefined, now: Date) => verifiedAt?.getTime() === now.getTime();

/** A `credentials.changed` by the account's owner (the usual actor), now. */
export const credentialsChanged = (
  deps: Pick<Deps, "now">,
  userId: string,
  credential: (typeof CREDENTIALS)[number],
  change: (typeof CREDENTIAL_CHANGES)[number],
  provider?: string,
): NewEvent =>
  event("credentials.changed", {
    userId,
    actor: self(userId),
    at: deps.now(),
    data: { credential, change, ...(provider ? { provider } : {}) },
  });

/**
 * The insert of one event of `type` per row of a CTE named `from` (which has a `user_id` column),
 * to add to the statement that makes the change (`with changed as (update ... returning ...),
 * ev as (<this>) select ...`). `data` is a jsonb expression over the row; the actor is the row's
 * own account unless `actor` is given. These rows skip recordEvent's schema check: keep `data` to
 * the type's fields (the tests read them back).
 */
function eventsFromRows(from: SQL, type: EventType, data: SQL, at: Date, actor?: Actor): SQL {
  const actorType = actor ? sql`${actor.type}` : sql`'self'`;
  const actorId = actor ? sql`${actor.id}::uuid` : sql`${from}.user_id`;
  noteEventsWritten();
  return sql`insert into ${authEvents} (id, type, at, user_id, actor_type, actor_id, data)
    select gen_random_uuid(), ${type}, ${at.toISOString()}::timestamptz, ${from}.user_id, ${actorType}, ${actorId}, ${data}
      from ${from}`;
}

/** One `session.revoked` per ended session: `from` has the session's `id` and `user_id`. */
export const revokedSessionEvents = (from: SQL, reason: RevokeReason, actor: Actor, at: Date) =>
  eventsFromRows(from, "session.revoked", sql`jsonb_build_object('sid', ${from}.id, 'reason', ${reason}::text)`, at, actor);

/** One `credentials.changed` (identity linked, by the owner) per linked identity row of `from`. */
export const linkedIdentityEvent = (from: SQL, provider: string, at: Date) =>
  eventsFromRows(
    from,
    "credentials.changed",
    sql`jsonb_build_object('credential', 'identity', 'change', 'linked', 'provider', ${provider}::text)`,
    at,
  );

/** The advisory lock that makes sequencing steps take turns (any fixed 64-bit key). */
const SEQUENCER_LOCK = "7305813118006001";
/** Rows positioned per step; a larger backlog takes several steps (each reader runs one). */
const SEQUENCE_BATCH = 5000;

/**
 * One sequencing step: every committed event without a position gets the next ones, in insert
 * order. Returns how many. Safe to run from any number of requests at once (they take turns).
 * The base is the largest position ever given: the purge never deletes the newest event, so it
 * never goes back.
 */
export async function sequenceEvents(db: Db): Promise<number> {
  return db.transaction(async (tx) => {
    await tx.execute(sql`select pg_advisory_xact_lock(${SEQUENCER_LOCK}::bigint)`);
    // A new statement, so a new snapshot: taken after the lock, it sees the previous step's commit.
    const rows = await tx.execute<{ n: number }>(sql`
      with ready as (
        select seq, row_number() over (order by seq) as n
          from (select seq from ${authEvents} where position is null order by seq limit ${SEQUENCE_BATCH}) r
      ), base as (
        select coalesce(max(position), 0) as b from ${authEvents}
      ), positioned as (
        update ${authEvents} e set position = base.b + ready.n from ready, base where e.seq = ready.seq returning 1
      )
      select count(*)::int as n from positioned`);
    return rows[0]?.n ?? 0;
  });
}

export type EventRow = typeof authEvents.$inferSelect;

/** Events with a position greater than `after`, ascending (one account's with `userId`), after a sequencing step. */
export async function eventsAfter(db: Db, q: { after: number; limit: number; userId?: string }): Promise<EventRow[]> {
  await sequenceEvents(db);
  const rows = await db
    .select({ e: authEvents, fresh: UNCACHED })
    .from(authEvents)
    .where(and(gt(authEvents.position, q.after), q.userId ? eq(authEvents.userId, q.userId) : undefined))
    .orderBy(asc(authEvents.position))
    .limit(q.limit);
  return rows.map((r) => r.e);
}

/** An event row as the feed and the webhooks deliver it. */
export function toPayload(e: EventRow): EventPayload {
  if (e.position === null) throw new Error("an event is delivered only once it has a position");
  return {
    id: e.id,
    type: e.type as EventType,
    timestamp: e.at.toISOString(),
    position: e.position,
    data: { ...(e.data as Record<string, unknown>), user_id: e.userId, actor: { type: e.actorType as Actor["type"], id: e.actorId } },
  };
}

/** Purge batch size and budget per run, as for the audit log (src/auth/account/owned-data.ts). */
const PURGE_BATCH = 5000;
const PURGE_BATCHES = 100;

/**
 * EVENT_RETENTION_DAYS: positioned events older than that are deleted, in batches, except the
 * newest one (it keeps the largest position, which the next step counts on).
 */
export async function purgeOldEvents(deps: Deps, now: Date): Promise<number> {
  // Old events nobody read since they were written get their positions first (they are purged alike).
  await sequenceEvents(deps.db);
  const cutoff = new Date(now.getTime() - deps.config.EVENT_RETENTION_DAYS * 86400 * 1000);
  const e = authEvents;
  let deleted = 0;
  for (let batch = 1; ; batch++) {
    const rows = await deps.db.execute<{ id: string }>(sql`
      delete from ${e} where ${e.id} in (
        select id from ${e}
         where ${lt(e.at, cutoff)} and ${e.position} < (select max(position) from ${e})
         limit ${PURGE_BATCH})
      returning ${e.id}`);
    deleted += rows.length;
    if (rows.length < PURGE_BATCH) break;
    if (batch >= PURGE_BATCHES) {
      deps.log("warn", "event retention stopped after its batch budget; the rest waits for the next run", { deleted });
      break;
    }
  }
  return deleted;
}
