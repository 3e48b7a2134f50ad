import { eq, sql } from "drizzle-orm";
import { type User, users } from "../../db/schema";
import { type Deps, type RequestMeta, withDb } from "../../deps";
import { describeError } from "../../log";
import { passwordChangedMessage, resetCodeMessage } from "../../mail/templates";
import { findUserByEmail, normalizeEmail } from "../account/users";
import { audit } from "../audit";
import { type IssuedCode, mailCode, redeemCode, requestCode, takeSendSlot } from "../codes/one-time-codes";
import { credentialsChanged, emailVerified, newlyVerified, recordEvent } from "../events/outbox";
import { revokeChallenges } from "../mfa/challenge";
import { dropUnprovenIdentities } from "../oauth/identities";
import { endAllSessions } from "../sessions/sessions";
import { clearThrottle, throttleKey } from "../throttle";
import { hashPassword, scryptParams } from "./hash";
import { assertAcceptableNewPassword } from "./new-password";

/**
 * Password reset with an emailed one-time code (the shared rules are in one-time-codes.ts).
 * Forgot-password answers the same for known and unknown emails; reset replaces the password,
 * ends every session and confirms the address in the transaction that consumes the code, then
 * tells the address that its password changed.
 */
const resetMessage = (deps: Deps) => (user: User, c: IssuedCode) =>
  resetCodeMessage({ appName: deps.config.APP_NAME, to: user.email, code: c.code, ttlSeconds: c.ttl, expiresAt: c.expiresAt });

/** Returns the address the request named, normalised: the same for known and unknown emails. */
export async function requestReset(deps: Deps, meta: RequestMeta, rawEmail: string): Promise<{ email: string }> {
  const email = normalizeEmail(rawEmail);
  await requestCode(deps, meta, "password_reset", email, resetMessage(deps));
  return { email };
}

/**
 * The same reset code and mail for a known account, on an administrator's request (POST
 * /auth/admin/users/{id}/send-password-reset): within the account's send throttle (429 when too
 * soon), mailed in the background.
 */
export async function sendResetCode(deps: Deps, meta: RequestMeta, user: User): Promise<void> {
  await takeSendSlot(deps, "password_reset", user.email);
  deps.waitUntil(
    mailCode(deps, meta, "password_reset", user, resetMessage(deps)).catch((err) =>
      deps.log("error", "one-time code not issued", { purpose: "password_reset", ...describeError(err) }),
    ),
  );
}

export async function resetPassword(
  deps: Deps,
  meta: RequestMeta,
  input: { email: string; otp: string; newPassword: string },
): Promise<void> {
  // Before the code: a refused password does not spend a guess.
  await assertAcceptableNewPassword(deps, input.newPassword, "new_password");
  const email = normalizeEmail(input.email);
  const user = await findUserByEmail(deps, email);
  const now = deps.now();
  const done = await redeemCode(deps, meta, { user: user ?? null, email, purpose: "password_reset", code: input.otp }, async (tx, code) => {
    const password = await hashPassword(input.newPassword, scryptParams(deps.config));
    const [row] = await tx
      .update(users)
      .set({
        password,
        passwordChangedAt: now,
        emailVerifiedAt: sql`coalesce(${users.emailVerifiedAt}, ${now.toISOString()}::timestamptz)`,
      })
      .where(eq(users.id, user!.id))
      .returning({ emailVerifiedAt: users.emailVerifiedAt });
    await recordEvent(
      tx,
      credentialsChanged(deps, user!.id, "password", "reset"),
      ...(newlyVerified(row?.emailVerifiedAt, now) ? [emailVerified(user!.id, now)] : []),
    );
    // The same session-ending rule as everywhere else, on this transaction: the users row stays
    // locked until commit, so a login that verified the old password cannot start a session now,
    // nor a social sign-in (its session rests on password_changed_at and on its identity), nor an
    // MFA verify of a first factor from before (every pending mfa_token dies here).
    return {
      sessionsEnded: await endAllSessions(withDb(deps, tx), user!.id, "password_reset"),
      identitiesRemoved: await dropUnprovenIdentities(tx, user!.id, now),
      mfaTokensRevoked: await revokeChallenges(tx, user!.id),
      attempt: code.attempt,
    };
  });
  // A locked-out owner who proved control of the mailbox may log in again at once.
  await clearThrottle(deps, await throttleKey(deps, "login", email));
  await audit(deps, meta, "reset_completed", "success", user!.id, {
    sessions_ended: done.sessionsEnded,
    attempt: done.attempt,
    ...(done.identitiesRemoved ? { identities_removed: done.identitiesRemoved } : {}),
    ...(done.mfaTokensRevoked ? { mfa_tokens_revoked: done.mfaTokensRevoked } : {}),
  });
  notifyPasswordChanged(deps, user!.email, "reset");
}

/** "Your password was changed": in the background, never with the password or a code. */
export function notifyPasswordChanged(deps: Deps, to: string, how: "reset" | "change"): void {
  const message = passwordChangedMessage({ appName: deps.config.APP_NAME, to, at: deps.now(), how });
  deps.waitUntil(deps.mailer.send(message));
}
