import type { Config } from "../../config";
import type { User } from "../../db/schema";
import type { Deps, RequestMeta } from "../../deps";
import { apiError } from "../../errors";
import { verificationCodeMessage } from "../../mail/email-address";
import { envelope } from "../../mail/templates";
import { audit } from "../audit";
import { type CodeMail, mailCodeWithinSlot, redeemCode, requestCode } from "../codes/one-time-codes";
import { handoverDetail, proveMailbox } from "./owner";
import { findUserByEmail, normalizeEmail } from "./users";

/**
 * Email verification by a mailed 6-digit code (the shared rules are in one-time-codes.ts). A code
 * goes out after registration, on request, and after a login that REQUIRE_VERIFIED_EMAIL refused;
 * redeeming it sets `users.email_verified_at`. Codes rather than links: school mail gateways
 * (Safe Links and similar scanners) open links before the user does.
 */

/** Whether REQUIRE_VERIFIED_EMAIL holds this account back: unverified, and of a kind the setting covers. */
export function mustVerifyEmail(config: Config, user: Pick<User, "role" | "emailVerifiedAt">): boolean {
  if (user.emailVerifiedAt) return false;
  switch (config.REQUIRE_VERIFIED_EMAIL) {
    case "all":
      return true;
    case "instructors":
      // Every account above a student (instructors, admins, and roles this service does not know).
      return user.role !== "student";
    default:
      return false;
  }
}

const message =
  (deps: Deps): CodeMail =>
  (user, c, locale) =>
    verificationCodeMessage(envelope(deps.config, user.email, locale), { code: c.code, ttlSeconds: c.ttl, expiresAt: c.expiresAt });

/** A fresh code to the account's address, in the background and within the send throttle; never an error. */
export function mailVerificationCode(deps: Deps, meta: RequestMeta, user: User): void {
  mailCodeWithinSlot(deps, meta, "email_verification", user, message(deps));
}

/**
 * Sign-in rule (src/auth/account/status.ts): an account REQUIRE_VERIFIED_EMAIL holds back gets
 * 403 email_unverified and a fresh code, after its credentials were checked.
 */
export async function refuseUnverified(deps: Deps, meta: RequestMeta, user: User): Promise<void> {
  if (!mustVerifyEmail(deps.config, user)) return;
  mailVerificationCode(deps, meta, user);
  await audit(deps, meta, "login_refused", "blocked", user.id, { reason: "email_unverified" });
  throw apiError("email_unverified");
}

/** "Send me a new code": the same answer for every email; only unverified accounts are mailed. */
export async function resendVerification(deps: Deps, meta: RequestMeta, rawEmail: string): Promise<void> {
  await requestCode(deps, meta, "email_verification", normalizeEmail(rawEmail), message(deps), (u) => !u.emailVerifiedAt);
}

/**
 * Redeem a verification code: the account's address counts as verified from now on. Its first
 * proof is a change of owner (src/auth/account/owner.ts): every session ends and the ways in added
 * before it (identities, factors...) go, in the transaction that consumes the code.
 */
export async function verifyEmail(deps: Deps, meta: RequestMeta, input: { email: string; code: string }): Promise<User> {
  const email = normalizeEmail(input.email);
  const user = await findUserByEmail(deps, email);
  const proven = await redeemCode(deps, meta, { user: user ?? null, email, purpose: "email_verification", code: input.code }, (tx) =>
    proveMailbox(deps, tx, user!.id, "email_verified"),
  );
  await audit(deps, meta, "email_verified", "success", proven.user.id, handoverDetail(proven.handover));
  return proven.user;
}
