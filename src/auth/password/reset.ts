import { eq } from "drizzle-orm";
import { type User, users } from "../../db/schema";
import { type Deps, type RequestMeta, withDb } from "../../deps";
import { describeError } from "../../log";
import { passwordChangedMessage, resetCodeMessage } from "../../mail/password";
import { envelope } from "../../mail/templates";
import { proveMailbox } from "../account/owner";
import { findUserByEmail, mailLocale, normalizeEmail } from "../account/users";
import { audit } from "../audit";
import { type CodeMail, mailCode, redeemCode, requestCode, takeSendSlot } from "../codes/one-time-codes";
import { credentialsChanged, recordEvent } from "../events/outbox";
import { revokeChallenges } from "../mfa/challenge";
import { dropUnprovenIdentities } from "../oauth/identities";
import { endAllSessions } from "../sessions/sessions";
import { clearThrottle, throttleKey } from "../throttle";
import { hashPassword, scryptParams } from "./hash";
import { withHashAdmission } from "./hash-admission";
import { assertAcceptableNewPassword } from "./new-password";

/**
 * Password reset with an emailed one-time code (the shared rules are in one-time-codes.ts).
 * Forgot-password answers the same for known and unknown emails; reset replaces the password,
 * ends every session and confirms the address in the transaction that consumes the code, then
 * tells the address that its password changed.
 */
const resetMessage =
  (deps: Deps): CodeMail =>
  (user, c, locale) =>
    resetCodeMessage(envelope(deps.config, user.email, locale), { code: c.code, ttlSeconds: c.ttl, expiresAt: c.expiresAt });

/** Returns the address the request named, normalised: the same for known and unknown emails. */
export async function requestReset(deps: Deps, meta: RequestMeta, rawEmail: string): Promise<{ email: string }> {
  const email = normalizeEmail(rawEmail);
  await requestCode(deps, meta, "password_reset", email, resetMessage(deps));
  return { email };
}

/**
 * The same reset code and mail for a known account, on an administrator's request (POST
 * /auth/admin/users/{id}/send-password-reset): first the account's send slot (429 when too soon),
 * which the caller takes in the transaction that records the request, then the mail, in the
 * background, once that has committed.
 */
export const takeResetSendSlot = (deps: Deps, email: string) => takeSendSlot(deps, "password_reset", email);

export function issueResetMail(deps: Deps, meta: RequestMeta, user: User): void {
  deps.waitUntil(
    mailCode(deps, meta, "password_reset", user, resetMessage(deps)).catch((err) =>
      deps.log("error", "one-time code not issued", { purpose: "password_reset", ...describeError(err) }),
    ),
  );
}

/** Admitted to the hash queue before the guess is counted: a request it cannot take spends no guess (503 server_busy). */
export function resetPassword(deps: Deps, meta: RequestMeta, input: { email: string; otp: string; newPassword: string }): Promise<void> {
  return withHashAdmission(deps.config, 1, () => completeReset(deps, meta, input));
}

async function completeReset(deps: Deps, meta: RequestMeta, input: { email: string; otp: string; newPassword: string }): Promise<void> {
  // Before the code: a refused password does not spend a guess.
  await assertAcceptableNewPassword(deps, input.newPassword, "new_password");
  const email = normalizeEmail(input.email);
  const user = await findUserByEmail(deps, email);
  const now = deps.now();
  const done = await redeemCode(deps, meta, { user: user ?? null, email, purpose: "password_reset", code: input.otp }, async (tx, code) => {
    const password = await hashPassword(input.newPassword, scryptParams(deps.config));
    // The reset proves the mailbox: on an unverified account that is a change of owner (the ways in
    // added before it go; src/auth/account/owner.ts). A verified account keeps its factors.
    const { handover } = await proveMailbox(deps, tx, user!.id, "password_reset", now);
    await tx.update(users).set({ password, passwordChangedAt: now }).where(eq(users.id, user!.id));
    await recordEvent(tx, credentialsChanged(deps, user!.id, "password", "reset"));
    // The same session-ending rule as everywhere else, on this transaction: the users row stays
    // locked until commit, so a login that verified the old password cannot start a session now,
    // nor a social sign-in (its session rests on password_changed_at and on its identity), nor an
    // MFA verify of a first factor from before (every pending mfa_token dies here).
    return {
      handover,
      sessionsEnded: (handover?.sessionsEnded ?? 0) + (await endAllSessions(withDb(deps, tx), user!.id, "password_reset")),
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
    ...(done.handover ? { change_of_owner: true, ways_in_removed: done.handover.waysInRemoved } : {}),
  });
  notifyPasswordChanged(deps, meta, user!, "reset");
}

/** "Your password was changed": in the background, never with the password or a code. */
export function notifyPasswordChanged(deps: Deps, meta: RequestMeta, user: User, how: "reset" | "change"): void {
  const message = passwordChangedMessage(envelope(deps.config, user.email, mailLocale(user, meta)), { at: deps.now(), how });
  deps.waitUntil(deps.mailer.send(message));
}
