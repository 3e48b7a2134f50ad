import { eq, sql } from "drizzle-orm";
import { authSecret } from "../config";
import { throttles } from "../db/schema";
import type { Deps } from "../deps";
import { hmacHex } from "./encoding";

/**
 * Per-account throttling in Postgres, so it holds across every edge location. Keys are a
 * purpose plus a keyed hash of the normalised email: unknown emails are throttled exactly like
 * known ones (no enumeration), and the table never holds an address.
 */
export async function throttleKey(deps: Deps, purpose: "login" | "otp", email: string): Promise<string> {
  return `${purpose}:${await hmacHex(authSecret(deps.config), `${purpose}:${email}`)}`;
}

export type LoginGate = { state: "open" } | { state: "delayed"; retryAfter: number } | { state: "locked" };

/** Throttle state of one key, as stored (null: no failures on record). */
export interface ThrottleState {
  failures: number;
  blockedUntil: Date | null;
}

/** Whether a login attempt may proceed now, given the key's throttle state. */
export function loginGate(deps: Deps, state: ThrottleState | null): LoginGate {
  if (!state) return { state: "open" };
  if (state.failures >= deps.config.throttle.lockoutFailures) return { state: "locked" };
  const now = deps.now().getTime();
  if (state.blockedUntil && state.blockedUntil.getTime() > now)
    return { state: "delayed", retryAfter: (state.blockedUntil.getTime() - now) / 1000 };
  return { state: "open" };
}

/** The delay after `failures` consecutive failures: none for the first few, then doubling, capped. */
export function loginDelaySeconds(deps: Deps, failures: number): number {
  const { freeFailures, baseDelay, maxDelay } = deps.config.throttle;
  if (failures <= freeFailures) return 0;
  return Math.min(maxDelay, baseDelay * 2 ** Math.min(30, failures - freeFailures - 1));
}

/** Count a failed login atomically; returns the new count of consecutive failures. */
export async function recordLoginFailure(deps: Deps, key: string): Promise<number> {
  const now = deps.now();
  const [row] = await deps.db
    .insert(throttles)
    .values({ key, failures: 1, lastAt: now })
    .onConflictDoUpdate({ target: throttles.key, set: { failures: sql`${throttles.failures} + 1`, lastAt: now } })
    .returning({ failures: throttles.failures });
  const delay = loginDelaySeconds(deps, row.failures);
  if (delay > 0)
    await deps.db
      .update(throttles)
      .set({ blockedUntil: new Date(now.getTime() + delay * 1000) })
      .where(eq(throttles.key, key));
  return row.failures;
}

export async function clearThrottle(deps: Deps, key: string): Promise<void> {
  await deps.db.delete(throttles).where(eq(throttles.key, key));
}

/**
 * A cooldown: succeeds at most once per `intervalSeconds` per key. Returns 0 when taken, or
 * the seconds to wait. Atomic under concurrency (one statement).
 */
export async function takeCooldown(deps: Deps, key: string, intervalSeconds: number): Promise<number> {
  const now = deps.now();
  // An ISO string, not a Date: postgres.js cannot bind a Date inside a raw sql`` fragment.
  const cutoff = new Date(now.getTime() - intervalSeconds * 1000);
  const taken = await deps.db
    .insert(throttles)
    .values({ key, failures: 0, lastAt: now })
    .onConflictDoUpdate({
      target: throttles.key,
      set: { lastAt: now },
      setWhere: sql`${throttles.lastAt} <= ${cutoff.toISOString()}::timestamptz`,
    })
    .returning({ key: throttles.key });
  if (taken.length > 0) return 0;
  const [row] = await deps.db.select({ lastAt: throttles.lastAt }).from(throttles).where(eq(throttles.key, key)).limit(1);
  if (!row) return 0;
  return Math.max(1, Math.ceil((row.lastAt.getTime() + intervalSeconds * 1000 - now.getTime()) / 1000));
}
