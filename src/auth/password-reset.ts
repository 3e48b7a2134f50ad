import { and, desc, eq, gt, isNull, lt, sql } from "drizzle-orm";
import { authSecret } from "../config";
import type { Db } from "../db/client";
import { passwordResetCodes, users } from "../db/schema";
import type { Deps, RequestMeta } from "../deps";
import { AppError, errors } from "../errors";
import { describeError } from "../log";
import { resetCodeMessage } from "../mail/templates";
import { findUserByEmail, normalizeEmail } from "./accounts";
import { audit } from "./audit";
import { hmacHex } from "./encoding";
import { assertAcceptableNewPassword } from "./new-password";
import { hashPassword } from "./password";
import { endAllSessions } from "./sessions";
import { clearThrottle, takeCooldown, throttleKey } from "./throttle";

/**
 * Password reset with an emailed one-time code.
 *
 * - A code is 6 decimal digits, uniform (rejection sampling over crypto.getRandomValues),
 *   stored only as HMAC-SHA-256(AUTH_SECRET, "otp:<user id>:<code>"), valid for OTP_TTL
 *   (at most 10 minutes). A new code deletes every earlier unused code of the user.
 * - Requesting is limited to one code per account per OTP_RESEND_INTERVAL, keyed by a keyed
 *   hash of the email, so an unknown email is throttled exactly like a known one. The answer
 *   depends only on that cooldown: looking up the account, storing the code and mailing it run
 *   after the response (waitUntil), so neither the body nor the timing tells whether the
 *   account exists, and a slow or failing mail service never holds the request.
 * - Redeeming is one conditional UPDATE (unused, unexpired, under OTP_MAX_ATTEMPTS) inside the
 *   transaction that also replaces the password and ends every session: of two concurrent
 *   uses exactly one wins. A wrong code counts against the user's live code; after
 *   OTP_MAX_ATTEMPTS wrong guesses it is dead. Expired, used and dead codes get their own
 *   message only when the code itself is right, so without the mail nothing is revealed.
 */

const CODE_SPACE = 1_000_000;
/** The largest multiple of 10^6 below 2^32: values at or above it are redrawn (no modulo bias). */
const SAMPLE_LIMIT = Math.floor(2 ** 32 / CODE_SPACE) * CODE_SPACE;

/** A uniformly random 6-digit code; leading zeros are kept. */
export function generateCode(): string {
  const buf = new Uint32Array(1);
  for (;;) {
    crypto.getRandomValues(buf);
    if (buf[0] < SAMPLE_LIMIT) return String(buf[0] % CODE_SPACE).padStart(6, "0");
  }
}

/** The stored form of a code: keyed, and bound to its user. */
export const codeHash = (deps: Deps, userId: string, code: string) => hmacHex(authSecret(deps.config), `otp:${userId}:${code}`);

export const resetErrors = {
  invalid: () => new AppError(400, "invalid_otp", "The code is incorrect. Check the code in the email or request a new one."),
  expired: () => new AppError(400, "otp_expired", "This code has expired. Request a new code."),
  used: () => new AppError(400, "otp_used", "This code has already been used. Request a new code."),
  exhausted: () =>
    new AppError(400, "otp_attempts_exceeded", "Too many wrong codes were entered, so this code no longer works. Request a new code."),
};

/**
 * Forgot password: take the per-account cooldown (429 with Retry-After when too soon, the
 * same for unknown emails), then issue and mail a code in the background.
 */
export async function requestReset(deps: Deps, meta: RequestMeta, rawEmail: string): Promise<void> {
  const email = normalizeEmail(rawEmail);
  const wait = await takeCooldown(deps, await throttleKey(deps, "otp", email), deps.config.otp.resendInterval);
  if (wait > 0) throw errors.tooMany(wait, "A code was sent recently. Please wait before requesting another one.");
  deps.waitUntil(issueAndSend(deps, meta, email).catch((err) => deps.log("error", "password reset code not issued", describeError(err))));
}

async function issueAndSend(deps: Deps, meta: RequestMeta, email: string): Promise<void> {
  const user = await findUserByEmail(deps, email);
  if (!user) {
    await audit(deps, meta, "reset_requested", "failure", null, { reason: "unknown_email" });
    return;
  }
  const code = generateCode();
  const now = deps.now();
  const ttl = deps.config.otp.ttl;
  const expiresAt = new Date(now.getTime() + ttl * 1000);
  const hash = await codeHash(deps, user.id, code);
  await deps.db.transaction(async (tx) => {
    await tx.delete(passwordResetCodes).where(and(eq(passwordResetCodes.userId, user.id), isNull(passwordResetCodes.consumedAt)));
    await tx.insert(passwordResetCodes).values({ id: crypto.randomUUID(), userId: user.id, codeHash: hash, createdAt: now, expiresAt });
  });
  const message = resetCodeMessage({ appName: deps.config.mail.appName, to: user.email, code, ttlSeconds: ttl, expiresAt });
  const sent = await deps.mailer.send(message);
  await audit(deps, meta, "reset_requested", sent.ok ? "success" : "failure", user.id, {
    mail: sent.ok ? "sent" : sent.reason,
    mail_attempts: sent.attempts,
  });
}

type Redeemed =
  | { kind: "ok"; sessionsEnded: number }
  | { kind: "wrong"; attempts: number | null }
  | { kind: "expired" | "used" | "exhausted" };

/** Reset password: redeem the code, replace the password, end every session. */
export async function resetPassword(
  deps: Deps,
  meta: RequestMeta,
  input: { email: string; otp: string; newPassword: string },
): Promise<void> {
  await assertAcceptableNewPassword(deps, input.newPassword, "new_password");
  const email = normalizeEmail(input.email);
  const user = await findUserByEmail(deps, email);
  // Computed for unknown accounts too, so both paths do the same work before answering.
  const hash = await codeHash(deps, user?.id ?? "00000000-0000-0000-0000-000000000000", input.otp);
  if (!user) {
    await audit(deps, meta, "reset_failed", "failure", null, { reason: "unknown_email" });
    throw resetErrors.invalid();
  }
  const now = deps.now();
  const maxAttempts = deps.config.otp.maxAttempts;
  const c = passwordResetCodes;

  const outcome = await deps.db.transaction(async (tx): Promise<Redeemed> => {
    const [redeemed] = await tx
      .update(c)
      .set({ consumedAt: now })
      .where(and(eq(c.userId, user.id), eq(c.codeHash, hash), isNull(c.consumedAt), gt(c.expiresAt, now), lt(c.attempts, maxAttempts)))
      .returning({ id: c.id });
    if (!redeemed) {
      const [same] = await tx
        .select({ consumedAt: c.consumedAt, attempts: c.attempts, expiresAt: c.expiresAt })
        .from(c)
        .where(and(eq(c.userId, user.id), eq(c.codeHash, hash)))
        .orderBy(desc(c.createdAt))
        .limit(1);
      if (same) {
        if (same.consumedAt) return { kind: "used" };
        if (same.attempts >= maxAttempts) return { kind: "exhausted" };
        return { kind: "expired" };
      }
      const [counted] = await tx
        .update(c)
        .set({ attempts: sql`${c.attempts} + 1` })
        .where(and(eq(c.userId, user.id), isNull(c.consumedAt), gt(c.expiresAt, now), lt(c.attempts, maxAttempts)))
        .returning({ attempts: c.attempts });
      return { kind: "wrong", attempts: counted?.attempts ?? null };
    }
    const password = await hashPassword(input.newPassword, deps.config.scrypt);
    await tx
      .update(users)
      .set({
        password,
        passwordChangedAt: now,
        emailVerifiedAt: sql`coalesce(${users.emailVerifiedAt}, ${now.toISOString()}::timestamptz)`,
      })
      .where(eq(users.id, user.id));
    // The same session-ending rule as everywhere else, run on this transaction.
    const txDeps: Deps = Object.create(deps, { db: { value: tx as unknown as Db } });
    return { kind: "ok", sessionsEnded: await endAllSessions(txDeps, user.id, "password_reset") };
  });

  if (outcome.kind !== "ok") {
    const detail: Record<string, string | number | null> = { reason: outcome.kind };
    if (outcome.kind === "wrong") detail.attempts = outcome.attempts;
    await audit(deps, meta, "reset_failed", "failure", user.id, detail);
    throw resetErrors[outcome.kind === "wrong" ? "invalid" : outcome.kind]();
  }
  // A locked-out owner who proved control of the mailbox may log in again at once.
  await clearThrottle(deps, await throttleKey(deps, "login", email));
  await audit(deps, meta, "reset_completed", "success", user.id, { sessions_ended: outcome.sessionsEnded });
}
