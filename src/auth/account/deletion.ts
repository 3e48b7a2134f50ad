import { and, asc, eq, lte, sql } from "drizzle-orm";
import { type Db, UNCACHED } from "../../db/client";
import { type User, users } from "../../db/schema";
import { type Deps, type RequestMeta, withDb } from "../../deps";
import { apiError, fieldError } from "../../errors";
import type { Locale } from "../../i18n/locales";
import { msg } from "../../i18n/messages";
import { describeError } from "../../log";
import { deletionCodeMessage, deletionScheduledMessage } from "../../mail/account";
import { envelope } from "../../mail/templates";
import { avatarPrefix, ownAvatarKey } from "../../storage/avatar-keys";
import { audit } from "../audit";
import { type CodeMail, issueCode, mailCode, redeemCode, revokeCodes, takeSendSlot } from "../codes/one-time-codes";
import { event, recordEvent } from "../events/outbox";
import { type Actor, SYSTEM, self } from "../events/types";
import { requireMfaCode } from "../mfa/step-up";
import { confirmCurrentPassword } from "../password/confirm";
import { hasUsablePassword, unusablePassword } from "../password/formats";
import { type Authenticated, endAllSessions } from "../sessions/sessions";
import { OWNED_DATA } from "./owned-data";
import { findUserByEmail, mailLocale, normalizeEmail } from "./users";

/**
 * Self-service deletion (docs/admin.md#deletion):
 *
 * - request (DELETE /auth/account, recent login, the current password and, with MFA on, a second
 *   factor code): every session ends, `status` becomes `deletion_pending` (sign-in refused with its
 *   own code, tokens stop at once), and a restore code valid ACCOUNT_DELETION_GRACE is mailed.
 * - restore (POST /auth/account/restore, the address and that code): the account is active again.
 * - after the grace period the scheduled purge anonymises the row instead of deleting it, since
 *   other services hold foreign keys to users.id: an unroutable unique address, no name, no
 *   password, no avatar (its objects deleted), no sessions, codes or factors; its audit rows keep
 *   the id and lose ip, user agent and personal detail fields.
 *
 * Locks are taken in one order, as the code flows do (code rows, the users row, sessions), so a
 * concurrent reset or restore waits, never deadlocks.
 */

export interface DeletionProof {
  currentPassword?: string;
  mfaCode?: string;
  /** The code DELETE mailed to an account without a password (purpose account_deletion). */
  code?: string;
}

/**
 * The proof a deletion asks for, besides the recent login (RECENT_AUTH_MAX_AGE, checked by the
 * route) and, with MFA on, a second-factor code:
 *
 * - an account with a password: the current password, through the login throttle;
 * - an account without one (social sign-in only): a fresh proof with a way in that a stolen
 *   access token does not carry, a code mailed to the account's address. The first call without
 *   `code` mails one (within the send throttle of every code) and answers 403
 *   deletion_code_required; the call with it schedules the deletion in the transaction that
 *   consumes the code (guesses limited like every mailed code). The address is a way in for every
 *   account (a password reset sets a password through it), and its owner learns of the attempt.
 */
export async function requestDeletion(deps: Deps, meta: RequestMeta, auth: Authenticated, proof: DeletionProof): Promise<{ dueAt: Date }> {
  const dueAt = deletionDueAt(deps);
  const schedule = async (tx: Db) => {
    const done = await scheduleDeletion(withDb(deps, tx), auth.user.id, dueAt, self(auth.user.id));
    if (!done) throw apiError("account_being_deleted");
    return done;
  };
  let scheduled: Awaited<ReturnType<typeof schedule>>;
  if (hasUsablePassword(auth.user.password)) {
    if (!proof.currentPassword) throw fieldError("validation_failed", "current_password", msg("validation.current_password_required"));
    await confirmCurrentPassword(deps, meta, auth, proof.currentPassword, "account_deletion_requested");
    await requireMfaCode(deps, meta, auth.user, proof.mfaCode);
    scheduled = await deps.db.transaction((tx) => schedule(tx as unknown as Db));
  } else {
    if (!proof.code) {
      await mailDeletionCode(deps, meta, auth.user);
      throw apiError("deletion_code_required");
    }
    // The second factor before the code: a wrong second factor leaves the mailed code usable.
    await requireMfaCode(deps, meta, auth.user, proof.mfaCode);
    const code = { user: auth.user, email: auth.user.email, purpose: "account_deletion" as const, code: proof.code };
    scheduled = await redeemCode(deps, meta, code, schedule);
  }
  mailDeletionNotice(deps, scheduled, dueAt, meta.locale, (mail) =>
    audit(deps, meta, "account_deletion_requested", "success", scheduled.user.id, {
      due_at: dueAt.toISOString(),
      sessions_ended: scheduled.ended,
      mail,
    }),
  );
  return { dueAt };
}

/** Mail an account without a password the code that confirms its deletion: within the send throttle, in the background. */
async function mailDeletionCode(deps: Deps, meta: RequestMeta, user: User): Promise<void> {
  await takeSendSlot(deps, "account_deletion", user.email);
  const message: CodeMail = (u, c, locale) =>
    deletionCodeMessage(envelope(deps.config, u.email, locale), { code: c.code, ttlSeconds: c.ttl, expiresAt: c.expiresAt });
  deps.waitUntil(
    mailCode(deps, meta, "account_deletion", user, message).catch((err) =>
      deps.log("error", "one-time code not issued", { purpose: "account_deletion", ...describeError(err) }),
    ),
  );
}

/** When a deletion requested now falls due: ACCOUNT_DELETION_GRACE from now. */
export const deletionDueAt = (deps: Deps) => new Date(deps.now().getTime() + deps.config.ACCOUNT_DELETION_GRACE * 1000);

/**
 * Schedule an active account's deletion, inside the caller's transaction (deps over its handle):
 * its live codes end, `status` becomes `deletion_pending`, every session ends and a restore code is
 * issued. Null when the account is not active (then nothing changed). Used by the owner's request
 * and by an administrator's (src/auth/admin/deletion.ts).
 */
export async function scheduleDeletion(txDeps: Deps, userId: string, dueAt: Date, actor: Actor) {
  // Codes mailed before (a reset, an email change) must not outlive the request.
  await revokeCodes(txDeps.db, userId);
  const [user] = await txDeps.db
    .update(users)
    .set({ status: "deletion_pending", deletionDueAt: dueAt })
    .where(and(eq(users.id, userId), eq(users.status, "active")))
    .returning();
  if (!user) return null;
  await recordEvent(
    txDeps.db,
    event("user.deletion_requested", { userId: user.id, actor, at: txDeps.now(), data: { due_at: dueAt.toISOString() } }),
  );
  const ended = await endAllSessions(txDeps, user.id, "account_deletion", { actor });
  const code = await issueCode(txDeps, user.id, "account_restore");
  return { user, ended, code };
}

/**
 * Mail the deletion notice with its restore code in the background, in the account's language
 * (else `fallback`: the request's for the owner's own request); `record` gets the mail's outcome.
 */
export function mailDeletionNotice(
  deps: Deps,
  scheduled: { user: User; code: { code: string } },
  dueAt: Date,
  fallback: Locale,
  record: (mail: string) => Promise<void>,
) {
  const { user, code } = scheduled;
  const graceSeconds = deps.config.ACCOUNT_DELETION_GRACE;
  const to = envelope(deps.config, user.email, mailLocale(user, { locale: fallback }));
  const message = deletionScheduledMessage(to, { code: code.code, graceSeconds, dueAt });
  deps.waitUntil(
    (async () => {
      const sent = await deps.mailer.send(message);
      await record(sent.ok ? "sent" : sent.reason);
    })().catch((err) => deps.log("error", "deletion mail not sent", describeError(err))),
  );
}

/** The restore code mailed at the request brings the account back (no session: log in again). */
export async function restoreAccount(deps: Deps, meta: RequestMeta, input: { email: string; code: string }): Promise<void> {
  const email = normalizeEmail(input.email);
  const user = await findUserByEmail(deps, email);
  const restored = await redeemCode(deps, meta, { user: user ?? null, email, purpose: "account_restore", code: input.code }, async (tx) => {
    const [row] = await tx
      .update(users)
      .set({ status: "active", deletionDueAt: null })
      .where(and(eq(users.id, user!.id), eq(users.status, "deletion_pending")))
      .returning({ id: users.id });
    // Not pending (any more): the code is left unused and answers as wrong.
    if (!row) throw apiError("invalid_otp");
    await recordEvent(tx, event("user.restored", { userId: row.id, actor: self(row.id), at: deps.now(), data: {} }));
    return row;
  });
  await audit(deps, meta, "account_restored", "success", restored.id);
}

/**
 * Budget of one purge run: accounts anonymised, and audit rows scrubbed (in batches of
 * AUDIT_SCRUB_BATCH, each a short statement). What is left waits for the next run (logged).
 */
const ANONYMISE_PER_RUN = 50;
const AUDIT_SCRUB_BATCH = 1000;
const AUDIT_SCRUB_PER_RUN = 20_000;

/** The owned tables whose rows are scrubbed (kept without what identifies a person) rather than deleted. */
const SCRUBBED = OWNED_DATA.flatMap((d) => ("scrub" in d.anonymise ? [d.anonymise.scrub] : []));

/** One batch over every scrubbed table, at most `max` rows; returns how many were scrubbed. */
async function scrubBatch(db: Db, userId: string, max: number): Promise<number> {
  let n = 0;
  for (const scrub of SCRUBBED) n += await scrub(db, userId, max - n);
  return n;
}

const deletedAt = (when: "before_lock" | "after_lock") =>
  OWNED_DATA.flatMap((d) => ("delete" in d.anonymise && d.anonymise.delete === when ? [d.table] : []));

/** Objects this service wrote under the account's own avatar folder: every size of every upload. */
async function deleteAvatarObjects(deps: Deps, user: Pick<User, "id" | "avatar">): Promise<number> {
  let deleted = 0;
  let startAfter: string | undefined;
  for (;;) {
    const { objects, more } = await deps.storage.list(avatarPrefix(user.id), startAfter);
    for (const o of objects) {
      if (!ownAvatarKey(o.key, user.id)) continue;
      await deps.storage.delete(o.key);
      deleted++;
    }
    if (!more || objects.length === 0) break;
    startAfter = objects[objects.length - 1].key;
  }
  const key = user.avatar ? deps.storage.keyFromUrl(user.avatar) : null;
  if (user.avatar && !(key && ownAvatarKey(key, user.id)))
    // The old service's avatars/<email>_avatar.png and foreign URLs are not ours to delete.
    deps.log("warn", "the avatar of an anonymised account is not this service's object; left in storage", { userId: user.id });
  return deleted;
}

class NotDue extends Error {}

/**
 * Anonymise one account whose grace period is over: its audit rows first (in batches, within the
 * run's budget; false when the budget ran out, so the account waits for the next run), then the
 * row and everything hanging off it in one transaction, then its avatar objects.
 */
async function anonymise(deps: Deps, meta: RequestMeta, id: string, budget: { audit: number }): Promise<"done" | "not_due" | "later"> {
  for (;;) {
    if (budget.audit <= 0) return "later";
    const n = await scrubBatch(deps.db, id, Math.min(AUDIT_SCRUB_BATCH, budget.audit));
    budget.audit -= n;
    if (n < AUDIT_SCRUB_BATCH) break;
  }
  const now = deps.now();
  let before: Pick<User, "id" | "avatar">;
  try {
    before = await deps.db.transaction(async (tx) => {
      // Rows every flow locks before the users row (code rows) go first, in that order.
      for (const table of deletedAt("before_lock")) await tx.execute(sql`delete from ${table} where user_id = ${id}::uuid`);
      const [row] = await tx
        .select({ id: users.id, avatar: users.avatar, fresh: UNCACHED })
        .from(users)
        .where(and(eq(users.id, id), eq(users.status, "deletion_pending"), lte(users.deletionDueAt, now)))
        .for("update");
      if (!row) throw new NotDue(); // restored meanwhile: roll back
      await tx
        .update(users)
        .set({
          email: `deleted+${id}@invalid`,
          fullName: "Deleted user",
          password: unusablePassword(),
          avatar: null,
          emailVerifiedAt: null,
          passwordChangedAt: now,
          requestedRole: null,
          webauthnUserId: null,
          status: "deleted",
          deletionDueAt: null,
        })
        .where(eq(users.id, id));
      // Everything else the account owns (src/auth/account/owned-data.ts): sessions (their refresh
      // tokens cascade), factors, identities... Then rows written since the batches above (a
      // refused login, say): few.
      for (const table of deletedAt("after_lock")) await tx.execute(sql`delete from ${table} where user_id = ${id}::uuid`);
      await scrubBatch(tx as unknown as Db, id, AUDIT_SCRUB_PER_RUN);
      await recordEvent(tx, event("user.deleted", { userId: id, actor: SYSTEM, at: now, data: {} }));
      return row;
    });
  } catch (err) {
    if (err instanceof NotDue) return "not_due";
    throw err;
  }
  await audit(deps, meta, "account_anonymised", "success", id);
  try {
    await deleteAvatarObjects(deps, before);
  } catch (err) {
    // Unreferenced now: the orphan sweep deletes them on a later run.
    deps.log("error", "avatar objects of an anonymised account not deleted; the sweep will", { userId: id, ...describeError(err) });
  }
  return "done";
}

/** The purge's part: anonymise accounts past their grace period, at most ANONYMISE_PER_RUN per run. */
export async function anonymiseDueAccounts(deps: Deps, meta: RequestMeta): Promise<number> {
  const due = await deps.db
    .select({ id: users.id, fresh: UNCACHED })
    .from(users)
    .where(and(eq(users.status, "deletion_pending"), lte(users.deletionDueAt, deps.now())))
    .orderBy(asc(users.deletionDueAt))
    .limit(ANONYMISE_PER_RUN);
  const budget = { audit: AUDIT_SCRUB_PER_RUN };
  let done = 0;
  for (const { id } of due) {
    try {
      const outcome = await anonymise(deps, meta, id, budget);
      if (outcome === "later") {
        deps.log("warn", "anonymisation stopped after its audit budget; the rest waits for the next run", { done });
        break;
      }
      if (outcome === "done") done++;
    } catch (err) {
      deps.log("error", "anonymisation of an account failed; retried next run", { userId: id, ...describeError(err) });
    }
  }
  if (due.length === ANONYMISE_PER_RUN) deps.log("info", "more accounts may be due for anonymisation; they wait for the next run");
  return done;
}
