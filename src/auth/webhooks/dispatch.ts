import { and, eq, sql } from "drizzle-orm";
import { UNCACHED } from "../../db/client";
import { authEvents, webhookDeliveries, webhookEndpoints } from "../../db/schema";
import type { Deps } from "../../deps";
import { describeError } from "../../log";
import { sequenceEvents } from "../events/outbox";
import { type Budget, deliverPair } from "./delivery";
import { type Pair, pairKey, type WebhookMessage, wakePairs } from "./queue";

/**
 * The webhook dispatcher: the Worker's queue() handler (deliverBatch) and the cron's sweep.
 *
 * Fan-out: committed events become delivery rows, one per event and subscribed endpoint, by a
 * cursor per endpoint over the outbox's positions (src/auth/events/outbox.ts: a reader that has
 * seen a position has seen every smaller one, so a cursor misses nothing). The endpoint's row is
 * locked while its cursor moves, so two dispatchers take turns and the second continues where
 * the first stopped; the inserts are idempotent besides (one row per event and endpoint).
 *
 * Then each (endpoint, account) pair with something due is delivered in order (delivery.ts),
 * several pairs at a time, within an allowance of attempts per invocation; pairs left over are
 * woken again through the Queue.
 */

const e = authEvents;
const d = webhookDeliveries;
const w = webhookEndpoints;

/** Events read per fan-out step, and steps per endpoint per run (a larger backlog waits for the next run). */
const FAN_OUT_BATCH = 1000;
const FAN_OUT_STEPS = 20;
/** Pairs delivered at once in one invocation (a Worker invocation holds at most 6 connections, one of them the database's). */
const CONCURRENCY = 4;
/** Attempts per invocation; the rest is woken again. */
const ATTEMPTS_PER_INVOCATION = 500;
/** A head this long past due and unclaimed lost its wake-up: the sweep wakes it. */
const OVERDUE_MS = 30_000;
/** Pairs the sweep wakes per run. */
const SWEEP_MAX_PAIRS = 5000;

/** Turn one endpoint's new events into deliveries; the pairs that got some. */
async function fanOutEndpoint(deps: Deps, endpointId: string): Promise<Pair[]> {
  return deps.db.transaction(async (tx) => {
    const [ep] = await tx
      .select({ cursor: w.cursor, fresh: UNCACHED })
      .from(w)
      .where(and(eq(w.id, endpointId), eq(w.status, "active")))
      .for("update");
    if (!ep) return [];
    const now = deps.now().toISOString();
    const users = new Set<string>();
    let cursor = ep.cursor;
    for (let step = 0; step < FAN_OUT_STEPS; step++) {
      const [range] = await tx.execute<{ upto: string | null; n: number }>(sql`
        select max(position) as upto, count(*)::int as n
          from (select position from ${e} where position > ${cursor} order by position limit ${FAN_OUT_BATCH}) s`);
      if (!range?.upto) break;
      const upto = Number(range.upto);
      const inserted = await tx.execute<{ user_id: string }>(sql`
        insert into ${d} (id, endpoint_id, event_id, user_id, position, status, window_started_at, next_attempt_at, created_at)
        select gen_random_uuid(), ep.id, ev.id, ev.user_id, ev.position, 'pending', ${now}::timestamptz, ${now}::timestamptz, ${now}::timestamptz
          from ${e} ev join ${w} ep on ep.id = ${endpointId}::uuid
         where ev.position > ${cursor} and ev.position <= ${upto} and ev.type = any(ep.event_types)
        on conflict do nothing
        returning user_id`);
      for (const r of inserted) users.add(r.user_id);
      cursor = upto;
      if (range.n < FAN_OUT_BATCH) break;
    }
    if (cursor !== ep.cursor) await tx.update(w).set({ cursor }).where(eq(w.id, endpointId));
    return [...users].map((user) => ({ endpoint: endpointId, user }));
  });
}

/** Fan-out for every active endpoint (after positioning committed events); the pairs that got deliveries. */
async function fanOut(deps: Deps): Promise<Pair[]> {
  await sequenceEvents(deps.db);
  const endpoints = await deps.db.select({ id: w.id, fresh: UNCACHED }).from(w).where(eq(w.status, "active"));
  const pairs: Pair[] = [];
  for (const { id } of endpoints) pairs.push(...(await fanOutEndpoint(deps, id)));
  return pairs;
}

/**
 * Deliver pairs, CONCURRENCY at a time, within one invocation's allowance; pairs left over are
 * woken again. Each lane has deps of its own (`open`): its own database connection, so that one
 * lane's statements never wait behind another's.
 */
async function deliverPairs(deps: Deps, open: () => Deps, pairs: Pair[]): Promise<void> {
  const budget: Budget = { left: ATTEMPTS_PER_INVOCATION };
  const leftOver: Pair[] = [];
  const failures: unknown[] = [];
  let next = 0;
  const lane = async (laneDeps: Deps) => {
    while (next < pairs.length) {
      const pair = pairs[next++];
      if (budget.left <= 0) {
        leftOver.push(pair);
        continue;
      }
      try {
        if ((await deliverPair(laneDeps, pair, budget)) === "more") leftOver.push(pair);
      } catch (err) {
        failures.push(err);
        deps.log("error", "webhook delivery failed", { webhookId: pair.endpoint, ...describeError(err) });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, pairs.length) }, (_, i) => lane(i === 0 ? deps : open())));
  await wakePairs(deps, leftOver);
  // A fault (the database unreachable, say): the Queue retries the batch; what was done stays done.
  if (failures.length) throw failures[0];
}

const isMessage = (m: unknown): m is WebhookMessage =>
  typeof m === "object" &&
  m !== null &&
  ((m as WebhookMessage).kind === "events" ||
    ((m as WebhookMessage).kind === "pair" &&
      typeof (m as { endpoint?: unknown }).endpoint === "string" &&
      typeof (m as { user?: unknown }).user === "string"));

/**
 * The Queue consumer: one batch of wake-ups (queue.ts), coalesced: one fan-out, each pair once.
 * `open` makes the invocation's deps (each call its own database connection).
 */
export async function deliverBatch(open: () => Deps, bodies: unknown[]): Promise<void> {
  const deps = open();
  const messages = bodies.filter(isMessage);
  const pairs = new Map<string, Pair>();
  for (const m of messages) if (m.kind === "pair") pairs.set(pairKey(m), { endpoint: m.endpoint, user: m.user });
  if (messages.some((m) => m.kind === "events")) for (const p of await fanOut(deps)) pairs.set(pairKey(p), p);
  await deliverPairs(deps, open, [...pairs.values()]);
}

/**
 * Pairs whose head is due for longer than OVERDUE_MS and not claimed (or its claim expired): its
 * wake-up was lost (a failed send, a consumer that died mid-attempt).
 */
async function overduePairs(deps: Deps, now: Date): Promise<Pair[]> {
  const cutoff = new Date(now.getTime() - OVERDUE_MS).toISOString();
  const rows = await deps.db.execute<{ endpoint_id: string; user_id: string }>(sql`
    select p.endpoint_id, p.user_id
      from (select distinct endpoint_id, user_id from ${d}
             where status = 'pending' and next_attempt_at < ${cutoff}::timestamptz limit ${SWEEP_MAX_PAIRS}) p
      join ${w} ep on ep.id = p.endpoint_id and ep.status = 'active'
      join lateral (
        select h.next_attempt_at, h.lease_until from ${d} h
         where h.endpoint_id = p.endpoint_id and h.user_id = p.user_id and h.status = 'pending'
         order by h.position limit 1
      ) head on true
     where head.next_attempt_at < ${cutoff}::timestamptz
       and (head.lease_until is null or head.lease_until < ${now.toISOString()}::timestamptz)`);
  return rows.map((r) => ({ endpoint: r.endpoint_id, user: r.user_id }));
}

/**
 * The cron's catch-up, so that nothing is lost when a wake-up is: events no request announced (its
 * send failed, or an operator's command wrote them) become deliveries, and every pair with
 * something overdue is woken. Returns how many pairs it woke.
 */
export async function sweepWebhooks(deps: Deps): Promise<number> {
  const pairs = new Map<string, Pair>();
  for (const p of await fanOut(deps)) pairs.set(pairKey(p), p);
  for (const p of await overduePairs(deps, deps.now())) pairs.set(pairKey(p), p);
  await wakePairs(deps, [...pairs.values()]);
  return pairs.size;
}

/** Wake every pair of an endpoint with a pending delivery (it was enabled again). */
export async function wakeEndpoint(deps: Deps, endpointId: string): Promise<void> {
  const rows = await deps.db.execute<{ user_id: string }>(sql`
    select distinct user_id from ${d} where endpoint_id = ${endpointId}::uuid and status = 'pending' limit ${SWEEP_MAX_PAIRS}`);
  await wakePairs(
    deps,
    rows.map((r) => ({ endpoint: endpointId, user: r.user_id })),
  );
}
