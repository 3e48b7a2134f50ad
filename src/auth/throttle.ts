import { eq, type SQL, sql } from "drizzle-orm";
import { authSecret, type Config } from "../config";
import { throttles } from "../db/schema";
import type { Deps } from "../deps";
import { hmacHex } from "../lib/encoding";

/**
 * Per-account throttling in Postgres, so it holds across every edge location and isolate.
 *
 * The one primitive is a reservation: an attempt is counted *before* the work it gates runs
 * (a password hash, a code comparison, a mail), in one atomic statement that refuses while the
 * key is delayed. However many requests arrive at once, the count moves only for those let
 * through, so a burst of 100 wrong passwords counts at most as many failures as the gate
 * admitted. A success clears the key (clearThrottle); a failure needs no second write.
 *
 * Keys are a purpose plus a keyed hash of the normalised email (never the email itself), so an
 * unknown email is throttled exactly like a known one.
 */
export type ThrottlePurpose = "login" | "otp-guess" | "mfa-guess" | "account-export" | `otp-send:${string}` | `captcha:${string}`;

export async function throttleKey(deps: Deps, purpose: ThrottlePurpose, email: string): Promise<string> {
  return `${purpose}:${await hmacHex(authSecret(deps.config), `${purpose}:${email}`)}`;
}

export interface ThrottlePolicy {
  /** Attempts before the first delay: the attempt numbered `free` sets the first delay. */
  free: number;
  /** First delay, seconds; doubles with every further attempt. */
  baseDelay: number;
  /** Cap of the delay, seconds. */
  maxDelay: number;
  /** With `window`: the count restarts once the window (seconds) since its first attempt has passed. */
  window?: number;
  /** The attempt count at which the key refuses until cleared (or until the window restarts). */
  limit?: number;
}

/** Login: LOGIN_THROTTLE_FREE_FAILURES failures without delay, then doubling delays, a hard lock at LOGIN_LOCKOUT_FAILURES. */
export const loginPolicy = (c: Config): ThrottlePolicy => ({
  free: c.LOGIN_THROTTLE_FREE_FAILURES + 1,
  baseDelay: c.LOGIN_THROTTLE_BASE_DELAY,
  maxDelay: c.LOGIN_THROTTLE_MAX_DELAY,
  limit: c.LOGIN_LOCKOUT_FAILURES,
});

/** Guessing codes: OTP_FREE_FAILURES wrong guesses per account in 24 h across all codes, then doubling delays. */
export const codeGuessPolicy = (c: Config): ThrottlePolicy => ({
  free: c.OTP_FREE_FAILURES,
  baseDelay: c.OTP_BASE_DELAY,
  maxDelay: c.OTP_MAX_DELAY,
  window: 86400,
});

/** Sending codes: the wait after each code doubles from OTP_RESEND_INTERVAL, capped; OTP_DAILY_LIMIT per 24 h. */
export const codeSendPolicy = (c: Config): ThrottlePolicy => ({
  free: 1,
  baseDelay: c.OTP_RESEND_INTERVAL,
  maxDelay: c.OTP_RESEND_MAX_INTERVAL,
  window: 86400,
  limit: c.OTP_DAILY_LIMIT,
});

/**
 * Second-factor codes (TOTP and recovery codes, every route that takes one): MFA_FREE_FAILURES
 * wrong codes per account, then the login's doubling delays, until a right code clears the key.
 * Keyed by the user id (the caller already proved the first factor). No hard lock: the owner holding
 * the right code is only ever delayed.
 */
export const mfaGuessPolicy = (c: Config): ThrottlePolicy => ({
  free: c.MFA_FREE_FAILURES,
  baseDelay: c.LOGIN_THROTTLE_BASE_DELAY,
  maxDelay: c.LOGIN_THROTTLE_MAX_DELAY,
});

/** Data exports: ACCOUNT_EXPORT_DAILY_LIMIT per account in 24 hours, no delays in between; keyed by the user id. */
export const exportPolicy = (c: Config): ThrottlePolicy => ({
  free: c.ACCOUNT_EXPORT_DAILY_LIMIT + 1,
  baseDelay: 1,
  maxDelay: 1,
  window: 86400,
  limit: c.ACCOUNT_EXPORT_DAILY_LIMIT,
});

const ts = (d: Date) => sql`${d.toISOString()}::timestamptz`;

/**
 * The reservation as a data-modifying statement, `INSERT ... ON CONFLICT DO UPDATE ... WHERE
 * <not delayed, under the limit> RETURNING failures`: it returns the attempt's number, or no row
 * when refused. Row-level locking makes concurrent reservations of one key take turns, and each
 * re-checks the WHERE against the row as the previous one left it.
 */
export function reservationStatement(key: string, p: ThrottlePolicy, now: Date): SQL {
  const t = sql.raw(`"auth_throttles"`);
  const restart = p.window
    ? sql`(${t}.window_started_at is null or ${t}.window_started_at <= ${ts(new Date(now.getTime() - p.window * 1000))})`
    : sql`false`;
  const next = sql`(case when ${restart} then 1 else ${t}.failures + 1 end)`;
  // Free attempts leave no deadline (null), so concurrent requests whose clocks differ by a few
  // milliseconds never refuse each other; a delayed attempt sets now + the doubling delay.
  const until = (n: SQL) =>
    sql`case when ${n} < ${p.free} then null else ${ts(now)} + make_interval(secs => least(${p.maxDelay}::float8, ${p.baseDelay}::float8 * power(2, least(30, ${n} - ${p.free})))) end`;
  const underLimit = p.limit ? sql`(${restart} or ${t}.failures < ${p.limit})` : sql`true`;
  return sql`insert into ${throttles} (key, failures, last_at, window_started_at, blocked_until)
    values (${key}, 1, ${ts(now)}, ${ts(now)}, ${until(sql`1`)})
    on conflict (key) do update set
      failures = ${next},
      last_at = ${ts(now)},
      window_started_at = case when ${restart} then ${ts(now)} else ${t}.window_started_at end,
      blocked_until = ${until(next)}
    where (${t}.blocked_until is null or ${t}.blocked_until <= ${ts(now)}) and ${underLimit}
    returning failures`;
}

export type Reservation = { reserved: true; attempt: number } | { reserved: false; retryAfter: number; locked: boolean };

/** The state a refused reservation saw (the row as it was before the statement). */
export function refusal(
  p: ThrottlePolicy,
  now: Date,
  prior: { failures: number | null; blockedUntil: Date | null; windowStartedAt: Date | null },
): Reservation {
  const at = now.getTime();
  const windowEnd = p.window && prior.windowStartedAt ? prior.windowStartedAt.getTime() + p.window * 1000 : null;
  const blocked = prior.blockedUntil && prior.blockedUntil.getTime() > at ? prior.blockedUntil.getTime() : null;
  const overLimit = p.limit !== undefined && (prior.failures ?? 0) >= p.limit;
  if (overLimit && !blocked) {
    // Without a window the limit holds until the key is cleared (a password reset for login).
    return windowEnd
      ? { reserved: false, retryAfter: (windowEnd - at) / 1000, locked: false }
      : { reserved: false, retryAfter: 0, locked: true };
  }
  const until = Math.max(blocked ?? at, overLimit && windowEnd ? windowEnd : at);
  // A concurrent reservation can move the row between the statement and this reading: at least 1 s.
  return { reserved: false, retryAfter: Math.max(1, (until - at) / 1000), locked: false };
}

/**
 * Reserve one attempt for `key`: one round trip, a write (so never answered from Hyperdrive's
 * cache). The CTE's outer SELECT sees the row as it was before the statement, which is exactly
 * what a refusal needs to explain itself.
 */
export async function reserve(deps: Deps, key: string, policy: ThrottlePolicy): Promise<Reservation> {
  const now = deps.now();
  const reserved = deps.db.$with("reserved", { failures: sql<number>`failures` }).as(reservationStatement(key, policy, now));
  const [row] = await deps.db
    .with(reserved)
    .select({
      attempt: sql<number | null>`(select failures from reserved)`.mapWith(Number),
      failures: throttles.failures,
      blockedUntil: throttles.blockedUntil,
      windowStartedAt: throttles.windowStartedAt,
    })
    .from(sql`(select 1) as one`)
    .leftJoin(throttles, eq(throttles.key, key));
  if (row.attempt !== null && !Number.isNaN(row.attempt)) return { reserved: true, attempt: row.attempt };
  return refusal(policy, now, row);
}

/** Forget a key's attempts (after a success, or a reset that proves control of the account). */
export async function clearThrottle(deps: Deps, key: string): Promise<void> {
  await deps.db.execute(clearThrottleWith(key));
}

/** clearThrottle as a statement to run inside another one's (a CTE): no round trip of its own. */
export const clearThrottleWith = (key: string): SQL => sql`delete from ${throttles} where ${throttles.key} = ${key}`;
