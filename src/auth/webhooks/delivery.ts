import { and, eq, sql } from "drizzle-orm";
import { users, webhookDeliveries, webhookEndpoints } from "../../db/schema";
import type { Deps } from "../../deps";
import { DEFAULT_LOCALE, isLocale } from "../../i18n/locales";
import { describeError } from "../../log";
import { envelope } from "../../mail/templates";
import { webhookDisabledMessage } from "../../mail/webhooks";
import { writeAudit } from "../audit";
import { type EventRow, toPayload } from "../events/outbox";
import { type Pair, wakePairs } from "./queue";
import { openSecret, signatureHeader } from "./secrets";

/**
 * Delivering one account's events to one endpoint, in order, at least once.
 *
 * Order: the deliveries of a pair (endpoint, account) go out one at a time in event position
 * order. Only the pair's head (its lowest pending delivery) can be claimed, and a later one becomes
 * the head only once the head is settled (delivered, or given up): so the receiver gets the head's
 * request before any request of a later event of that account, whichever wake-up or consumer
 * invocation does the work. The claim is one statement (claimHead): it takes the head only while
 * the head is due, unclaimed (`lease_until` null or past) and its endpoint active, and counts the
 * attempt; two consumers racing for a pair get it once, the other finds it claimed and stops.
 *
 * At least once: a delivery stays pending until an attempt's answer is recorded. A consumer that
 * dies mid-attempt leaves a claim that expires after WEBHOOK_TIMEOUT + LEASE_MARGIN_MS; the sweep
 * (dispatch.ts) then wakes the pair and the event is sent again, with the same `webhook-id` (the
 * event id), which receivers use to ignore a repeat. A late result of an expired claim is not
 * recorded (the attempt count fences it).
 *
 * Retries: a failed attempt (no 2xx answer within WEBHOOK_TIMEOUT: an error status, a redirect,
 * a timeout or a network error) is retried after WEBHOOK_RETRY_INITIAL_DELAY, doubling per
 * failure, capped at MAX_DELAY_S, by a Queue message sent with that delay; a retry that would
 * come later than WEBHOOK_RETRY_MAX_AGE after the window's first attempt is not made: the delivery
 * is `failed` (the dead letter; an administrator can retry it), and the pair moves on. A run of
 * WEBHOOK_DISABLE_AFTER given-up deliveries (no success between them) disables the endpoint and
 * mails the administrators.
 */

/** A claim outlives the attempt's own timeout by this much (the time to record the result). */
const LEASE_MARGIN_MS = 30_000;
/** A retry's wake-up may arrive this much before the retry is due (whole-second delays). */
const EARLY_MS = 1000;
/** The back-off's cap. */
const MAX_DELAY_S = 3600;
/** Attempts kept in a delivery's log (the oldest go first). */
const LOG_KEEP = 50;

const d = webhookDeliveries;
const w = webhookEndpoints;

interface Claimed {
  id: string;
  attempts: number;
  windowAttempts: number;
  windowStartedAt: Date;
  endpointId: string;
  url: string;
  secret: string;
  previousSecret: string | null;
  previousSecretExpiresAt: Date | null;
  event: EventRow;
}

const date = (v: unknown) => (v instanceof Date ? v : new Date(String(v)));
const dateOrNull = (v: unknown) => (v === null || v === undefined ? null : date(v));

/**
 * Claim the pair's head for one attempt, if it is due: the claimed delivery with its event and its
 * endpoint, or null (nothing pending, the head not due yet or claimed by another consumer, or the
 * endpoint disabled).
 */
async function claimHead(deps: Deps, pair: Pair, now: Date): Promise<Claimed | null> {
  const leaseUntil = new Date(now.getTime() + deps.config.WEBHOOK_TIMEOUT * 1000 + LEASE_MARGIN_MS);
  const due = new Date(now.getTime() + EARLY_MS);
  const rows = await deps.db.execute<Record<string, unknown>>(sql`
    with head as (
      select id from ${d}
       where endpoint_id = ${pair.endpoint}::uuid and user_id = ${pair.user}::uuid and status = 'pending'
       order by position limit 1
    ), claimed as (
      update ${d} x set attempts = x.attempts + 1, window_attempts = x.window_attempts + 1, lease_until = ${leaseUntil.toISOString()}::timestamptz
        from head
       where x.id = head.id and x.status = 'pending' and x.next_attempt_at <= ${due.toISOString()}::timestamptz
         and (x.lease_until is null or x.lease_until < ${now.toISOString()}::timestamptz)
         and exists (select 1 from ${w} ep where ep.id = x.endpoint_id and ep.status = 'active')
      returning x.id, x.event_id, x.endpoint_id, x.attempts, x.window_attempts, x.window_started_at
    )
    select c.id, c.endpoint_id, c.attempts, c.window_attempts, c.window_started_at,
           e.id as event_id, e.seq, e.position, e.type, e.at, e.user_id, e.actor_type, e.actor_id, e.data,
           ep.url, ep.secret, ep.previous_secret, ep.previous_secret_expires_at
      from claimed c join auth_events e on e.id = c.event_id join ${w} ep on ep.id = c.endpoint_id`);
  const r = rows[0];
  if (!r) return null;
  return {
    id: String(r.id),
    attempts: Number(r.attempts),
    windowAttempts: Number(r.window_attempts),
    windowStartedAt: date(r.window_started_at),
    endpointId: String(r.endpoint_id),
    url: String(r.url),
    secret: String(r.secret),
    previousSecret: (r.previous_secret as string | null) ?? null,
    previousSecretExpiresAt: dateOrNull(r.previous_secret_expires_at),
    event: {
      id: String(r.event_id),
      seq: Number(r.seq),
      position: Number(r.position),
      type: String(r.type),
      at: date(r.at),
      userId: String(r.user_id),
      actorType: String(r.actor_type),
      actorId: (r.actor_id as string | null) ?? null,
      data: r.data as Record<string, unknown>,
    },
  };
}

/** Why an attempt failed: an answer other than 2xx, none within WEBHOOK_TIMEOUT, no connection, a secret sealed under another AUTH_SECRET. */
export const ATTEMPT_ERRORS = ["status", "timeout", "network", "secret_unreadable"] as const;
export type AttemptError = (typeof ATTEMPT_ERRORS)[number];

interface AttemptResult {
  ok: boolean;
  at: Date;
  latencyMs: number;
  responseStatus: number | null;
  error: AttemptError | null;
}

/** The secrets that sign now: the current one, and the previous one during its grace period. */
async function signingSecrets(deps: Deps, c: Claimed, now: Date): Promise<string[]> {
  const current = await openSecret(deps.config, c.endpointId, c.secret);
  const previousLive = c.previousSecret && c.previousSecretExpiresAt && c.previousSecretExpiresAt > now;
  return previousLive ? [current, await openSecret(deps.config, c.endpointId, c.previousSecret as string)] : [current];
}

/**
 * One attempt: POST the event, signed per Standard Webhooks, within WEBHOOK_TIMEOUT. Success is a
 * 2xx answer; redirects are not followed (a 3xx fails). The answer's body is never read.
 */
async function attempt(deps: Deps, c: Claimed, now: Date): Promise<AttemptResult> {
  let secrets: string[];
  try {
    secrets = await signingSecrets(deps, c, now);
  } catch (err) {
    // Sealed under another AUTH_SECRET: nothing can be signed (a rotation of the secret fixes it).
    deps.log("error", "webhook secret cannot be opened", { webhookId: c.endpointId, ...describeError(err) });
    return { ok: false, at: now, latencyMs: 0, responseStatus: null, error: "secret_unreadable" };
  }
  const body = JSON.stringify(toPayload(c.event));
  const timestamp = Math.floor(now.getTime() / 1000);
  const headers = {
    "content-type": "application/json",
    "user-agent": "edge-auth-api-webhooks/1",
    "webhook-id": c.event.id,
    "webhook-timestamp": String(timestamp),
    "webhook-signature": await signatureHeader(secrets, c.event.id, timestamp, body),
  };
  const started = Date.now();
  try {
    const res = await deps.fetch(c.url, {
      method: "POST",
      headers,
      body,
      redirect: "manual",
      signal: AbortSignal.timeout(deps.config.WEBHOOK_TIMEOUT * 1000),
    });
    await res.body?.cancel().catch(() => {});
    const ok = res.status >= 200 && res.status < 300;
    return { ok, at: now, latencyMs: Date.now() - started, responseStatus: res.status, error: ok ? null : "status" };
  } catch (err) {
    const timedOut = err instanceof Error && (err.name === "TimeoutError" || err.name === "AbortError");
    return { ok: false, at: now, latencyMs: Date.now() - started, responseStatus: null, error: timedOut ? "timeout" : "network" };
  }
}

/** The wait before the next retry after the window's `n`-th failed attempt: initial * 2^(n-1), capped. */
const retryDelaySeconds = (initial: number, n: number) => Math.min(MAX_DELAY_S, initial * 2 ** Math.max(0, n - 1));

/** The attempt as the delivery's log keeps it (and the admin API shows it). */
const logEntry = (r: AttemptResult, nextRetryAt: Date | null) =>
  JSON.stringify({
    at: r.at.toISOString(),
    latency_ms: r.latencyMs,
    response_status: r.responseStatus,
    error: r.error,
    next_retry_at: nextRetryAt?.toISOString() ?? null,
  });

/** The delivery's log with this attempt appended (the oldest dropped past LOG_KEEP). */
const appendLog = (entry: string) =>
  sql`(case when jsonb_array_length(x.attempt_log) >= ${LOG_KEEP} then x.attempt_log - 0 else x.attempt_log end) || ${entry}::jsonb`;

/** The common part of recording an attempt: the claim released, the result noted, fenced by the attempt count. */
const settle = (r: AttemptResult) => sql`lease_until = null, last_attempt_at = ${r.at.toISOString()}::timestamptz,
  response_status = ${r.responseStatus}, latency_ms = ${r.latencyMs}`;
const fenced = (c: Claimed) => sql`x.id = ${c.id}::uuid and x.attempts = ${c.attempts} and x.status = 'pending'`;

type Outcome = "delivered" | "retrying" | "given_up" | "superseded";

/** Record a successful attempt; the endpoint's failure streak ends. */
async function recordDelivered(deps: Deps, c: Claimed, r: AttemptResult): Promise<Outcome> {
  const rows = await deps.db.execute<{ n: number }>(sql`
    with done as (
      update ${d} x set status = 'succeeded', delivered_at = ${r.at.toISOString()}::timestamptz, ${settle(r)},
             attempt_log = ${appendLog(logEntry(r, null))}
       where ${fenced(c)}
      returning x.endpoint_id
    ), streak as (
      update ${w} ep set failure_streak = 0 from done where ep.id = done.endpoint_id and ep.failure_streak <> 0 returning 1
    )
    select (select count(*) from done)::int as n`);
  return rows[0]?.n ? "delivered" : "superseded";
}

/** Record a failed attempt: the next retry, or (past WEBHOOK_RETRY_MAX_AGE) the delivery given up. */
async function recordFailed(deps: Deps, pair: Pair, c: Claimed, r: AttemptResult): Promise<Outcome> {
  const delay = retryDelaySeconds(deps.config.WEBHOOK_RETRY_INITIAL_DELAY, c.windowAttempts);
  const nextAt = new Date(r.at.getTime() + delay * 1000);
  const giveUp = nextAt.getTime() - c.windowStartedAt.getTime() > deps.config.WEBHOOK_RETRY_MAX_AGE * 1000;
  if (!giveUp) {
    const rows = await deps.db.execute(sql`
      update ${d} x set ${settle(r)}, next_attempt_at = ${nextAt.toISOString()}::timestamptz,
             attempt_log = ${appendLog(logEntry(r, nextAt))}
       where ${fenced(c)}
      returning x.id`);
    if (!rows.length) return "superseded";
    // Recomputed from now: the time spent recording does not shorten the wait.
    await wakePairs(deps, [pair], (nextAt.getTime() - deps.now().getTime()) / 1000);
    return "retrying";
  }
  const rows = await deps.db.execute<{ n: number; streak: number | null; status: string | null }>(sql`
    with gave_up as (
      update ${d} x set status = 'failed', ${settle(r)}, attempt_log = ${appendLog(logEntry(r, null))}
       where ${fenced(c)}
      returning x.endpoint_id
    ), streak as (
      update ${w} ep set failure_streak = ep.failure_streak + 1 from gave_up where ep.id = gave_up.endpoint_id
      returning ep.failure_streak, ep.status
    )
    select (select count(*) from gave_up)::int as n, (select failure_streak from streak) as streak, (select status from streak) as status`);
  const row = rows[0];
  if (!row?.n) return "superseded";
  deps.log("warn", "webhook delivery given up", { webhookId: c.endpointId, deliveryId: c.id, attempts: c.attempts });
  if (row.status === "active" && Number(row.streak) >= deps.config.WEBHOOK_DISABLE_AFTER)
    await disableAfterFailures(deps, c.endpointId, Number(row.streak));
  return "given_up";
}

/**
 * A run of given-up deliveries: the endpoint is disabled (once: the update is conditional), the
 * disabling audited (no actor: the service did it) and every active administrator mailed.
 */
async function disableAfterFailures(deps: Deps, endpointId: string, streak: number): Promise<void> {
  const now = deps.now();
  const [disabled] = await deps.db
    .update(w)
    .set({ status: "disabled", disabledReason: "failures", disabledAt: now, updatedAt: now })
    .where(and(eq(w.id, endpointId), eq(w.status, "active")))
    .returning({ id: w.id, url: w.url });
  if (!disabled) return;
  deps.log("warn", "webhook endpoint disabled after failed deliveries", { webhookId: endpointId, failures: streak });
  await writeAudit(
    deps,
    { ip: null, userAgent: null, requestId: `webhooks-${crypto.randomUUID()}`, locale: DEFAULT_LOCALE },
    { event: "webhook_disabled", outcome: "success", detail: { webhook_id: endpointId, reason: "failures", failures: streak } },
  );
  const admins = await deps.db
    .select({ email: users.email, locale: users.locale })
    .from(users)
    .where(and(eq(users.role, "admin"), eq(users.status, "active")))
    .limit(50);
  const origin = new URL(disabled.url).origin;
  await Promise.all(
    admins.map((a) =>
      deps.mailer.send(
        // In each administrator's language; no request caused it, so English for one who chose none.
        webhookDisabledMessage(envelope(deps.config, a.email, isLocale(a.locale) ? a.locale : DEFAULT_LOCALE), {
          webhookId: endpointId,
          origin,
          failures: streak,
          at: now,
        }),
      ),
    ),
  );
}

/** A shared allowance of attempts for one consumer invocation. */
export interface Budget {
  left: number;
}

/**
 * Deliver what is due for one pair, head after head, until nothing is due (the head delivered and
 * none left, the head waiting for its retry, or claimed elsewhere) or the budget is spent: `more`
 * then (the caller wakes the pair again).
 */
export async function deliverPair(deps: Deps, pair: Pair, budget: Budget): Promise<"idle" | "more"> {
  for (;;) {
    if (budget.left <= 0) return "more";
    const c = await claimHead(deps, pair, deps.now());
    if (!c) return "idle";
    budget.left--;
    const r = await attempt(deps, c, deps.now());
    const outcome = r.ok ? await recordDelivered(deps, c, r) : await recordFailed(deps, pair, c, r);
    // Delivered or given up: the next head may be due. Retrying: its wake-up is sent. Superseded: another consumer has it.
    if (outcome === "retrying" || outcome === "superseded") return "idle";
  }
}
