import { and, desc, eq, gt, isNull, notInArray, sql } from "drizzle-orm";
import { authSecret, type Config } from "../../config";
import type { Db } from "../../db/client";
import { UNCACHED } from "../../db/client";
import { oneTimeCodes, throttles, type User, users } from "../../db/schema";
import type { Deps, RequestMeta } from "../../deps";
import { apiError } from "../../errors";
import type { Locale } from "../../i18n/locales";
import { msg } from "../../i18n/messages";
import { hmacHex } from "../../lib/encoding";
import { describeError } from "../../log";
import type { MailMessage } from "../../mail/mailer";
import { findUserByEmail, mailLocale } from "../account/users";
import { type AuditEvent, audit } from "../audit";
import { codeGuessPolicy, codeSendPolicy, reserve, throttleKey } from "../throttle";

/**
 * Emailed one-time codes, shared by every flow that mails one (password reset, email
 * verification, email change and its revert; sign-in by code is a new purpose in CODE_PURPOSES).
 *
 * - A code is 6 decimal digits, uniform (rejection sampling over crypto.getRandomValues),
 *   stored only as HMAC-SHA-256(AUTH_SECRET, "otp:<purpose>:<user id>:<code>"). A new code
 *   replaces the account's live code of the same purpose (extendCode keeps one instead).
 * - Sending is throttled per account and purpose (keyed by a keyed hash of the email, so unknown
 *   emails are throttled alike): the wait after each code doubles from OTP_RESEND_INTERVAL up to
 *   OTP_RESEND_MAX_INTERVAL, and at most OTP_DAILY_LIMIT codes go out in 24 hours.
 * - Guessing is limited twice, and both limits hold under any parallelism:
 *   per code, a guess is counted and compared in ONE conditional UPDATE (row-locked), so at most
 *   OTP_MAX_ATTEMPTS (or the purpose's maxAttempts) guesses are ever compared against one code;
 *   per account, every guess is first reserved in the throttle (rolling 24 h, all codes of all
 *   purposes, keyed by the email the guess names): after
 *   OTP_FREE_FAILURES a guess is compared only after a doubling delay (1 s to 15 min), and an
 *   earlier one gets 429 without being compared, not even the right code. An attacker gets about
 *   a hundred compared guesses per account per day whatever IPs, codes or parallelism it uses;
 *   the owner holding the right code is at most delayed, never locked out.
 * - Expired, used and exhausted codes get their own message only when the code itself is right,
 *   so without the mail nothing is revealed.
 */
interface CodePurpose {
  /** Seconds a code of this purpose stays valid. */
  ttl: (c: Config) => number;
  /** Audit events of this purpose's flow. */
  events: { requested: AuditEvent; failed: AuditEvent };
  /** Wrong guesses that end one code; default OTP_MAX_ATTEMPTS. */
  maxAttempts?: (c: Config) => number;
}

const CODE_PURPOSES = {
  password_reset: { ttl: (c) => c.OTP_TTL, events: { requested: "reset_requested", failed: "reset_failed" } },
  email_verification: {
    ttl: (c) => c.EMAIL_CODE_TTL,
    events: { requested: "email_verification_requested", failed: "email_verification_failed" },
  },
  /** Mailed to the new address; `target` is that address. */
  email_change: { ttl: (c) => c.EMAIL_CODE_TTL, events: { requested: "email_change_requested", failed: "email_change_failed" } },
  /** Mailed to the address being left, the way back; `target` is the address to restore (src/auth/account/change-email.ts). */
  email_change_revert: {
    ttl: () => 72 * 3600,
    events: { requested: "email_change_requested", failed: "email_change_revert_failed" },
    // Anyone who knows the previous address could otherwise end the owner's only way back with a
    // few wrong guesses. The per-account budget still bounds guessing (about a hundred compared
    // guesses a day), and a right guess only gives the address back to its previous owner.
    maxAttempts: () => 1000,
  },
  /** Sign-in by emailed code (src/auth/sign-in/email-code.ts): a first factor, like a password. */
  sign_in: { ttl: (c) => c.SIGN_IN_CODE_TTL, events: { requested: "sign_in_code_requested", failed: "sign_in_code_failed" } },
  /**
   * DELETE /auth/account of an account without a password (social sign-in only): the fresh proof
   * that stands in for the current password, mailed to the address and sent back as `code`
   * (src/auth/account-deletion.ts).
   */
  account_deletion: {
    ttl: (c) => c.EMAIL_CODE_TTL,
    events: { requested: "deletion_code_requested", failed: "deletion_code_failed" },
  },
  /**
   * Mailed after DELETE /auth/account: restores the account until the purge anonymises it
   * (src/auth/account/deletion.ts). Many attempts per code, as for the undo code: whoever knows the
   * address must not be able to end the owner's way back with a few wrong guesses.
   */
  account_restore: {
    ttl: (c) => c.ACCOUNT_DELETION_GRACE,
    events: { requested: "account_deletion_requested", failed: "account_restore_failed" },
    maxAttempts: () => 1000,
  },
} as const satisfies Record<string, CodePurpose>;

export type CodePurposeName = keyof typeof CODE_PURPOSES;

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

/** The stored form of a code: keyed, and bound to its purpose and user. */
const codeHash = (deps: Deps, purpose: CodePurposeName, userId: string, code: string) =>
  hmacHex(authSecret(deps.config), `otp:${purpose}:${userId}:${code}`);

/** Stands in for the user id of an unknown email, so both paths do the same work. */
const NO_USER = "00000000-0000-0000-0000-000000000000";

const sendSlot = async (deps: Deps, purpose: CodePurposeName, email: string) =>
  reserve(deps, await throttleKey(deps, `otp-send:${purpose}`, email), codeSendPolicy(deps.config));

/**
 * Take the right to mail one more code of `purpose` to `email` (429 otp_resend_wait with
 * Retry-After when too soon or over the daily limit). Known and unknown emails alike.
 */
export async function takeSendSlot(deps: Deps, purpose: CodePurposeName, email: string): Promise<void> {
  const r = await sendSlot(deps, purpose, email);
  if (!r.reserved)
    throw apiError("too_many_requests", {
      retryAfter: r.retryAfter,
      message: msg("error.too_many_requests.code_resend"),
    });
}

/** A fresh code as the message builder sees it. */
export type IssuedCode = { code: string; expiresAt: Date; ttl: number };

/** Store a fresh code for the user (replacing the live one of this purpose) and return it. */
export async function issueCode(deps: Deps, userId: string, purpose: CodePurposeName, target: string | null = null): Promise<IssuedCode> {
  const code = generateCode();
  const now = deps.now();
  const ttl = CODE_PURPOSES[purpose].ttl(deps.config);
  const expiresAt = new Date(now.getTime() + ttl * 1000);
  const hash = await codeHash(deps, purpose, userId, code);
  const c = oneTimeCodes;
  // One statement: the live code of this purpose is deleted and the new one inserted together (the
  // delete does not see the new row: both read the statement's snapshot).
  const replaced = deps.db
    .$with("replaced")
    .as(deps.db.delete(c).where(and(eq(c.userId, userId), eq(c.purpose, purpose), isNull(c.consumedAt))));
  await deps.db
    .with(replaced)
    .insert(c)
    .values({ id: crypto.randomUUID(), userId, purpose, codeHash: hash, target, createdAt: now, expiresAt });
  return { code, expiresAt, ttl };
}

/** The mail of a code: built for the account, the code and the mail's locale (the account's, else the request's). */
export type CodeMail = (user: User, code: IssuedCode, locale: Locale) => MailMessage;

/** Issue a code for a known account, mail it (the message decides the address) and audit the outcome. */
export async function mailCode(
  deps: Deps,
  meta: RequestMeta,
  purpose: CodePurposeName,
  user: User,
  message: CodeMail,
  target: string | null = null,
): Promise<void> {
  const code = await issueCode(deps, user.id, purpose, target);
  const sent = await deps.mailer.send(message(user, code, mailLocale(user, meta)));
  await audit(deps, meta, CODE_PURPOSES[purpose].events.requested, sent.ok ? "success" : "failure", user.id, {
    purpose,
    mail: sent.ok ? "sent" : sent.reason,
    mail_attempts: sent.attempts,
  });
}

/**
 * "Mail me a code" for an email address: take the send slot (the only thing the answer depends
 * on), then find the account, issue the code and mail it after the response (waitUntil), so
 * neither the body nor the timing tells whether the account exists, and a slow mail service never
 * holds the request. `message` builds the mail; an unknown email is audited and mailed nothing.
 */
export async function requestCode(
  deps: Deps,
  meta: RequestMeta,
  purpose: CodePurposeName,
  email: string,
  message: CodeMail,
  eligible: (user: User) => boolean = () => true,
): Promise<void> {
  await takeSendSlot(deps, purpose, email);
  const { requested } = CODE_PURPOSES[purpose].events;
  deps.waitUntil(
    (async () => {
      const user = await findUserByEmail(deps, email);
      if (!user || !eligible(user)) {
        await audit(deps, meta, requested, "failure", user?.id ?? null, { purpose, reason: user ? "not_eligible" : "unknown_email" });
        return;
      }
      await mailCode(deps, meta, purpose, user, message);
    })().catch((err) => deps.log("error", "one-time code not issued", { purpose, ...describeError(err) })),
  );
}

/**
 * Mail a code to a known account as a side effect of another answer (registration, a refused
 * login), in the background and within the send slot: a refused slot skips the mail (audited)
 * and never becomes an error of the request that caused it.
 */
export function mailCodeWithinSlot(deps: Deps, meta: RequestMeta, purpose: CodePurposeName, user: User, message: CodeMail): void {
  deps.waitUntil(
    (async () => {
      if (!(await sendSlot(deps, purpose, user.email)).reserved) {
        await audit(deps, meta, CODE_PURPOSES[purpose].events.requested, "blocked", user.id, { purpose, reason: "resend_wait" });
        return;
      }
      await mailCode(deps, meta, purpose, user, message);
    })().catch((err) => deps.log("error", "one-time code not issued", { purpose, ...describeError(err) })),
  );
}

/**
 * End a user's live codes (all purposes but `keep`): when the address they were mailed to stops
 * being the account's, a code sent there must not keep working. Deleted, so they answer as wrong.
 */
export async function revokeCodes(db: Db, userId: string, keep: CodePurposeName[] = []): Promise<void> {
  const c = oneTimeCodes;
  await db.delete(c).where(and(eq(c.userId, userId), isNull(c.consumedAt), keep.length ? notInArray(c.purpose, keep) : sql`true`));
}

/** The user's live (unused, unexpired) code of `purpose`: its target and expiry, read fresh; null when none. */
export async function liveCode(deps: Deps, userId: string, purpose: CodePurposeName) {
  const c = oneTimeCodes;
  const [row] = await deps.db
    .select({ target: c.target, expiresAt: c.expiresAt, fresh: UNCACHED })
    .from(c)
    .where(and(eq(c.userId, userId), eq(c.purpose, purpose), isNull(c.consumedAt), gt(c.expiresAt, deps.now())))
    .orderBy(desc(c.createdAt))
    .limit(1);
  return row ? { target: row.target, expiresAt: row.expiresAt } : null;
}

/**
 * Keep the user's live code of `purpose` and make it valid for at least the purpose's TTL from
 * now, instead of replacing it (a code that must survive later requests: see change-email.ts).
 * Returns its target and new expiry, or null when none is live (then issue one).
 */
export async function extendCode(deps: Deps, userId: string, purpose: CodePurposeName) {
  const c = oneTimeCodes;
  const now = deps.now();
  const until = new Date(now.getTime() + CODE_PURPOSES[purpose].ttl(deps.config) * 1000);
  const [row] = await deps.db
    .update(c)
    .set({ expiresAt: sql`greatest(${c.expiresAt}, ${until.toISOString()}::timestamptz)` })
    .where(and(eq(c.userId, userId), eq(c.purpose, purpose), isNull(c.consumedAt), gt(c.expiresAt, now)))
    .returning({ target: c.target, expiresAt: c.expiresAt });
  return row ?? null;
}

/**
 * The account a code of `purpose` was issued for, found by its target (a code redeemed with an
 * address that is no longer the account's own, e.g. an undo code). Several accounts can hold one
 * for the same address (one left it, another took it and left it too): the oldest live code has
 * the first claim; with none live, the newest dead one, so a right but dead code still gets its
 * own answer. Null when there is none.
 */
export async function codeOwner(deps: Deps, purpose: CodePurposeName, target: string): Promise<User | null> {
  const c = oneTimeCodes;
  const live = sql`(${c.consumedAt} is null and ${c.expiresAt} > ${deps.now().toISOString()}::timestamptz)`;
  const [row] = await deps.db
    .select({ user: users, fresh: UNCACHED })
    .from(c)
    .innerJoin(users, eq(users.id, c.userId))
    .where(and(eq(c.purpose, purpose), eq(c.target, target)))
    .orderBy(desc(live), sql`case when ${live} then ${c.createdAt} end asc nulls last`, desc(c.createdAt))
    .limit(1);
  return row?.user ?? null;
}

export interface Redemption {
  /** The account the code is for, or null for an unknown email (answered as a wrong code). */
  user: { id: string; email: string } | null;
  purpose: CodePurposeName;
  code: string;
}

type Attempt =
  | { kind: "matched"; attempt: number; target: string | null; issuedAt: Date }
  | { kind: "wrong"; attempt: number }
  | { kind: "none" };

/**
 * The one statement that counts and compares a guess: on the user's newest live code of the
 * purpose (row-locked), while it is unexpired and under its attempt limit, add one attempt and
 * consume the code if the hash matches. Concurrent guesses queue on the row lock and each
 * re-checks the conditions against the row the previous one left. A match also clears the
 * account's guess budget (`budgetKey`) in the same statement, so the budget is forgotten exactly
 * when the code is consumed (and not if the transaction it runs in rolls back).
 */
async function attempt(
  db: Db,
  userId: string,
  purpose: CodePurposeName,
  hash: string,
  now: Date,
  max: number,
  budgetKey: string,
): Promise<Attempt> {
  const at = sql`${now.toISOString()}::timestamptz`;
  const rows = await db.execute<{ attempts: number; matched: boolean; target: string | null; created_at: Date | string }>(sql`
    with guess as (
      update ${oneTimeCodes} as c
         set attempts = c.attempts + 1,
             consumed_at = case when c.code_hash = ${hash} then ${at} else null end
        from (select id from ${oneTimeCodes}
               where user_id = ${userId}::uuid and purpose = ${purpose} and consumed_at is null
               order by created_at desc limit 1 for update) as latest
       where c.id = latest.id and c.expires_at > ${at} and c.attempts < ${max}
      returning c.attempts, c.consumed_at is not null as matched, c.target, c.created_at
    ), cleared as (
      delete from ${throttles} where key = ${budgetKey} and exists (select 1 from guess where guess.matched)
    )
    select attempts, matched, target, created_at from guess`);
  const row = rows[0];
  if (!row) return { kind: "none" };
  return row.matched
    ? { kind: "matched", attempt: row.attempts, target: row.target, issuedAt: new Date(row.created_at) }
    : { kind: "wrong", attempt: row.attempts };
}

/** Why a right code found no live code to match: used, dead after too many guesses, or expired. */
async function whyNotLive(db: Db, userId: string, purpose: CodePurposeName, hash: string, max: number) {
  const c = oneTimeCodes;
  const [same] = await db
    .select({ consumedAt: c.consumedAt, attempts: c.attempts, fresh: UNCACHED })
    .from(c)
    .where(and(eq(c.userId, userId), eq(c.purpose, purpose), eq(c.codeHash, hash)))
    .orderBy(desc(c.createdAt))
    .limit(1);
  if (!same) return apiError("invalid_otp");
  if (same.consumedAt) return apiError("otp_used");
  if (same.attempts >= max) return apiError("otp_attempts_exceeded");
  return apiError("otp_expired");
}

/** What a matched code unlocks, run in the transaction that consumes it. */
type OnMatch<T> = (tx: Db, code: { target: string | null; attempt: number; issuedAt: Date }) => Promise<T>;

/**
 * Redeem a code. `onMatch` runs in the transaction that consumes the code, so what the code
 * unlocks (a new password, a verified address) happens exactly once or not at all; its result
 * is returned. Without `onMatch` (null: nothing to write with it), the code is consumed by its
 * one statement alone, no transaction. Every guess is audited: compared ones with their attempt
 * number, the others as refused without comparison.
 */
export async function redeemCode<T>(deps: Deps, meta: RequestMeta, r: Redemption & { email: string }, onMatch: OnMatch<T>): Promise<T>;
export async function redeemCode(deps: Deps, meta: RequestMeta, r: Redemption & { email: string }, onMatch: null): Promise<void>;
export async function redeemCode<T>(
  deps: Deps,
  meta: RequestMeta,
  r: Redemption & { email: string },
  onMatch: OnMatch<T> | null,
): Promise<T | undefined> {
  const { purpose } = r;
  const failed = CODE_PURPOSES[purpose].events.failed;
  const budgetKey = await throttleKey(deps, "otp-guess", r.email);
  const budget = await reserve(deps, budgetKey, codeGuessPolicy(deps.config));
  const userId = r.user?.id ?? null;
  if (!budget.reserved) {
    await audit(deps, meta, failed, "blocked", userId, { purpose, reason: "guess_delayed" });
    throw apiError("too_many_requests", {
      retryAfter: budget.retryAfter,
      message: msg("error.too_many_requests.code_guesses"),
    });
  }
  // Computed for unknown accounts too, so both paths do the same work before answering.
  const hash = await codeHash(deps, purpose, userId ?? NO_USER, r.code);
  if (!userId) {
    await audit(deps, meta, failed, "failure", null, { purpose, reason: "unknown_email" });
    throw apiError("invalid_otp");
  }
  const now = deps.now();
  const max = (CODE_PURPOSES[purpose] as CodePurpose).maxAttempts?.(deps.config) ?? deps.config.OTP_MAX_ATTEMPTS;
  let result: T | undefined;
  const outcome = onMatch
    ? await deps.db.transaction(async (tx) => {
        const a = await attempt(tx as unknown as Db, userId, purpose, hash, now, max, budgetKey);
        if (a.kind === "matched")
          result = await onMatch(tx as unknown as Db, { target: a.target, attempt: a.attempt, issuedAt: a.issuedAt });
        return a;
      })
    : await attempt(deps.db, userId, purpose, hash, now, max, budgetKey);
  // A match has consumed the code and cleared the guess budget (attempt()).
  if (outcome.kind === "matched") return result;
  if (outcome.kind === "wrong") {
    await audit(deps, meta, failed, "failure", userId, { purpose, reason: "wrong_code", attempt: outcome.attempt });
    throw apiError("invalid_otp");
  }
  const error = await whyNotLive(deps.db, userId, purpose, hash, max);
  await audit(deps, meta, failed, "failure", userId, { purpose, reason: "not_evaluated", answer: error.code });
  throw error;
}
