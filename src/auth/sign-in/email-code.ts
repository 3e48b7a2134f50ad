import type { Deps, RequestMeta } from "../../deps";
import { apiError } from "../../errors";
import { signInCodeMessage } from "../../mail/email-address";
import { envelope } from "../../mail/templates";
import { handoverDetail, proveMailbox } from "../account/owner";
import { findUserByEmail, normalizeEmail } from "../account/users";
import { audit } from "../audit";
import { type CodeMail, redeemCode, requestCode } from "../codes/one-time-codes";
import { completeSignIn, type SignInResult } from "./complete";

/**
 * Sign-in by emailed code (a way in: `email_code` in WAYS_IN, amr `email`). The code proves the
 * mailbox, one factor: an account with a second factor answers `mfa_required` like a password
 * would. Every rule of the shared code flow applies (src/auth/codes/one-time-codes.ts): the send
 * slot (resend back-off, daily cap), the per-code attempt limit and the per-account guess budget.
 * SIGN_IN_CODE=false turns it off (404, as if the route did not exist).
 */
const message =
  (deps: Deps): CodeMail =>
  (user, c, locale) =>
    signInCodeMessage(envelope(deps.config, user.email, locale), { code: c.code, ttlSeconds: c.ttl, expiresAt: c.expiresAt });

function assertOn(deps: Deps): void {
  if (!deps.config.SIGN_IN_CODE) throw apiError("not_found");
}

/**
 * POST /auth/sign-in/code: the same 202 whether or not the account exists or may sign in; the
 * code is issued and mailed after the response, only to an active account.
 */
export async function requestSignInCode(deps: Deps, meta: RequestMeta, rawEmail: string): Promise<void> {
  assertOn(deps);
  await requestCode(deps, meta, "sign_in", normalizeEmail(rawEmail), message(deps), (u) => u.status === "active");
}

/**
 * POST /auth/sign-in/code/verify: the code is redeemed and, in the same transaction, the address
 * counts as verified (the code proved it); then the sign-in completes like any other.
 *
 * The common case, an address already verified (read fresh, before the code is compared), has
 * nothing to write with the code: a verified address stays verified (only the purge of a deleted
 * account clears it), so this proof cannot be the first. The code is then consumed by its one
 * statement alone, and the session's own statement re-checks the account (status, factors).
 */
export async function verifySignInCode(deps: Deps, meta: RequestMeta, input: { email: string; code: string }): Promise<SignInResult> {
  assertOn(deps);
  const email = normalizeEmail(input.email);
  const user = await findUserByEmail(deps, email);
  const redemption = { user: user ?? null, email, purpose: "sign_in", code: input.code } as const;
  if (user?.emailVerifiedAt) {
    await redeemCode(deps, meta, redemption, null);
    return completeSignIn(deps, meta, user, { method: "email_code" });
  }
  // The code proves the mailbox: its first proof is a change of owner (src/auth/account/owner.ts).
  const proven = await redeemCode(deps, meta, redemption, (tx) => proveMailbox(deps, tx, user!.id, "email_verified"));
  await audit(deps, meta, "email_verified", "success", proven.user.id, { how: "sign_in_code", ...handoverDetail(proven.handover) });
  return completeSignIn(deps, meta, proven.user, { method: "email_code" });
}
