import { eq } from "drizzle-orm";
import { isUniqueViolation } from "../../db/client";
import { type User, users } from "../../db/schema";
import { type Deps, type RequestMeta, withDb } from "../../deps";
import { apiError, fieldError } from "../../errors";
import { msg } from "../../i18n/messages";
import { describeError } from "../../log";
import {
  emailChangeCodeMessage,
  emailChangedMessage,
  emailChangeNoticeMessage,
  emailRevertedMessage,
  type RevertHint,
} from "../../mail/email-address";
import type { MailMessage } from "../../mail/mailer";
import { envelope } from "../../mail/templates";
import { audit } from "../audit";
import { codeOwner, extendCode, issueCode, liveCode, mailCode, redeemCode, revokeCodes, takeSendSlot } from "../codes/one-time-codes";
import { event, recordEvent } from "../events/outbox";
import { self } from "../events/types";
import type { Authenticated } from "../sessions/sessions";
import { endAllSessions } from "../sessions/sessions";
import { handOver } from "./owner";
import { findUserByEmail, mailLocale, normalizeEmail } from "./users";

/**
 * Changing the account's email address, by codes (docs/email-verification.md):
 *
 * - request: a code to the new address (purpose email_change, `target` = the new address), and a
 *   notice to the current one carrying an undo code (email_change_revert, `target` = the address
 *   to restore, valid 72 h). A new address that belongs to another account gets the same answer
 *   and is mailed nothing; its code is issued all the same (so a pending one is replaced alike)
 *   but known to no one, and the final UPDATE would hit the unique index anyway.
 * - confirm (same session's account): the address changes and counts as verified, every other
 *   session ends, codes mailed to the old address die (except the undo code).
 * - revert (public; the previous address and its undo code): the previous address comes back,
 *   every session ends, every other code dies. While an undo code is live, later requests keep
 *   it (and extend it) instead of replacing it, so the owner's way back cannot be taken away by
 *   whoever is making the changes, nor pointed at an address of theirs.
 *
 * Statements inside the code transactions take their locks in one order (code rows, then the
 * users row, then sessions), as password reset does, so concurrent flows wait, never deadlock.
 */

/**
 * The events of a new address in place (a confirmed change or a revert): the email changed, and
 * the address now in place is a proven one.
 */
const addressChanged = (userId: string, at: Date) => [
  event("user.updated", { userId, actor: self(userId), data: { fields: ["email"] }, at }),
  event("user.email_verified", { userId, actor: self(userId), data: {}, at }),
];

/**
 * Start a change for `user`, whose identity the caller has just confirmed (current password:
 * confirmCurrentPassword; an MFA check goes next to it). Answers the same whether or not the new
 * address is free; the mail goes out after the response.
 */
export async function requestEmailChange(deps: Deps, meta: RequestMeta, user: User, rawNewEmail: string): Promise<void> {
  const newEmail = normalizeEmail(rawNewEmail);
  if (newEmail === normalizeEmail(user.email)) throw fieldError("validation_failed", "new_email", msg("validation.same_email"));
  await takeSendSlot(deps, "email_change", user.email);
  deps.waitUntil(
    mailChangeCodes(deps, meta, user, newEmail).catch((err) => deps.log("error", "email change codes not issued", describeError(err))),
  );
}

async function mailChangeCodes(deps: Deps, meta: RequestMeta, user: User, newEmail: string): Promise<void> {
  const locale = mailLocale(user, meta);
  const owner = await findUserByEmail(deps, newEmail);
  if (owner) {
    await issueCode(deps, user.id, "email_change", newEmail);
    await audit(deps, meta, "email_change_requested", "failure", user.id, { purpose: "email_change", reason: "address_taken" });
  } else {
    await mailCode(
      deps,
      meta,
      "email_change",
      user,
      (_u, c) =>
        emailChangeCodeMessage(envelope(deps.config, newEmail, locale), { code: c.code, ttlSeconds: c.ttl, expiresAt: c.expiresAt }),
      newEmail,
    );
  }
  const at = deps.now();
  const notice = (to: string, revert: RevertHint) => emailChangeNoticeMessage(envelope(deps.config, to, locale), { newEmail, at, revert });
  const kept = await extendCode(deps, user.id, "email_change_revert");
  if (!kept) {
    await mailCode(
      deps,
      meta,
      "email_change_revert",
      user,
      (u, c) => notice(u.email, { code: c.code, expiresAt: c.expiresAt, ttlSeconds: c.ttl }),
      user.email,
    );
    return;
  }
  // An undo code is live: it stays the way back, now valid 72 h from this request.
  const restorePoint = kept.target ?? user.email;
  const mails: MailMessage[] = [notice(user.email, restorePoint === user.email ? { earlier: true, expiresAt: kept.expiresAt } : null)];
  if (restorePoint !== user.email) mails.push(notice(restorePoint, { earlier: true, expiresAt: kept.expiresAt }));
  await Promise.all(mails.map((m) => deps.mailer.send(m)));
}

/** Redeem the code mailed to the new address: the change happens. Returns the updated account. */
export async function confirmEmailChange(deps: Deps, meta: RequestMeta, auth: Authenticated, code: string): Promise<User> {
  const me = auth.user;
  const now = deps.now();
  let done: { user: User; sessionsEnded: number };
  try {
    done = await redeemCode(deps, meta, { user: me, email: me.email, purpose: "email_change", code }, async (tx, c) => {
      // Codes mailed to the address being left (a reset, a verification) must not outlive it.
      await revokeCodes(tx, me.id, ["email_change_revert"]);
      // The unique index decides whether the address is free, atomically: see the catch below.
      const [user] = await tx.update(users).set({ email: c.target!, emailVerifiedAt: now }).where(eq(users.id, me.id)).returning();
      await recordEvent(tx, ...addressChanged(me.id, now));
      return { user, sessionsEnded: await endAllSessions(withDb(deps, tx), me.id, "email_changed", { keep: auth.sessionId }) };
    });
  } catch (err) {
    if (!isUniqueViolation(err)) throw err;
    // The address belongs to another account (taken before the request, or since): the same
    // answer as a wrong code, and nothing changed (the transaction rolled back).
    await audit(deps, meta, "email_change_failed", "failure", me.id, { purpose: "email_change", reason: "address_taken" });
    throw apiError("invalid_otp");
  }
  await audit(deps, meta, "email_changed", "success", me.id, { sessions_ended: done.sessionsEnded });
  const undo = await liveCode(deps, me.id, "email_change_revert");
  const message = emailChangedMessage(envelope(deps.config, me.email, mailLocale(me, meta)), {
    newEmail: done.user.email,
    at: now,
    revert: undo && undo.target === me.email ? { earlier: true, expiresAt: undo.expiresAt } : null,
  });
  deps.waitUntil(deps.mailer.send(message));
  return done.user;
}

/**
 * Undo a change with the code mailed to the address that was left (before or after the change
 * was confirmed): that address comes back and counts as verified, every session ends, every
 * pending code dies. If the address belongs to another account by now, nothing changes, the
 * answer is 409 email_revert_conflict and the code keeps working until it expires (support can
 * free the address; a later try then succeeds).
 */
export async function revertEmailChange(deps: Deps, meta: RequestMeta, input: { email: string; code: string }): Promise<User> {
  const email = normalizeEmail(input.email);
  const user = await codeOwner(deps, "email_change_revert", email);
  const now = deps.now();
  let done: { user: User; sessionsEnded: number; waysInRemoved: number };
  try {
    done = await redeemCode(deps, meta, { user, email, purpose: "email_change_revert", code: input.code }, async (tx, c) => {
      await revokeCodes(tx, user!.id);
      const [restored] = await tx.update(users).set({ email: c.target!, emailVerifiedAt: now }).where(eq(users.id, user!.id)).returning();
      await recordEvent(tx, ...addressChanged(user!.id, now));
      // The way back is a change of owner the other way (src/auth/account/owner.ts): every session
      // ends, and the ways in added since the change (the undo code was issued with it) go.
      const handover = await handOver(deps, tx, user!.id, "email_change_reverted", c.issuedAt);
      return { user: restored, sessionsEnded: handover.sessionsEnded, waysInRemoved: handover.waysInRemoved };
    });
  } catch (err) {
    if (!isUniqueViolation(err)) throw err;
    await audit(deps, meta, "email_change_revert_failed", "failure", user!.id, { purpose: "email_change_revert", reason: "address_taken" });
    deps.log("warn", "email change not reverted: the previous address belongs to another account", { userId: user!.id });
    throw apiError("email_revert_conflict");
  }
  await audit(deps, meta, "email_change_reverted", "success", done.user.id, {
    sessions_ended: done.sessionsEnded,
    ways_in_removed: done.waysInRemoved,
  });
  const to = envelope(deps.config, done.user.email, mailLocale(done.user, meta));
  deps.waitUntil(deps.mailer.send(emailRevertedMessage(to, { at: now })));
  return done.user;
}
