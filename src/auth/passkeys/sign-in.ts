import type { Deps, RequestMeta } from "../../deps";
import { apiError } from "../../errors";
import { findUserByEmail, normalizeEmail } from "../account/users";
import { audit } from "../audit";
import { completeSignIn, type SignInResult } from "../sign-in/complete";
import { type AuthenticationResponse, type RequestOptions, relyingParty, requestOptions } from "./ceremonies";
import { keepChallenge, useChallengeByToken } from "./challenges";
import { provePasskey } from "./prove";
import { passkeysOf } from "./store";

/**
 * Signing in with a passkey, no account name needed (browser autofill / conditional UI): the
 * options name no credential, the authenticator offers the passkeys it holds for this site, and
 * the response names the one used. It ends in completeSignIn like every way in: the ways-in
 * registry makes a passkey with user verification two factors and phishing-resistant (a session at
 * once, even on an MFA account and for the admin gate), and one without user verification one
 * factor (an account with a second factor answers mfa_required).
 */

/**
 * POST /passkeys/login/options: request options and the challenge_token the verify brings back.
 * With `email`, the options list that account's passkeys (for authenticators that cannot discover
 * them); unknown addresses get the empty list. That tells whether an address holds passkeys, as
 * registration's 409 tells whether it has an account: with REGISTER_ENUMERATION_SAFE the address
 * is ignored.
 */
export async function loginOptions(deps: Deps, email?: string): Promise<{ options: RequestOptions; challengeToken: string }> {
  const rp = relyingParty(deps.config);
  const account = email && !deps.config.REGISTER_ENUMERATION_SAFE ? await findUserByEmail(deps, normalizeEmail(email)) : undefined;
  const allow = account ? await passkeysOf(deps, account.id) : [];
  const options = await requestOptions(rp, allow);
  const { token } = await keepChallenge(deps, "login", options.challenge, { token: true });
  return { options, challengeToken: token! };
}

/** POST /passkeys/login/verify: the challenge is used up first (a replay finds nothing), then the assertion, then completeSignIn. */
export async function loginWithPasskey(
  deps: Deps,
  meta: RequestMeta,
  input: { challengeToken: string; response: AuthenticationResponse },
): Promise<SignInResult> {
  const rp = relyingParty(deps.config);
  const stored = await useChallengeByToken(deps, "login", input.challengeToken);
  if (!stored) {
    await audit(deps, meta, "passkey_sign_in_failed", "failure", null, { context: "sign_in", reason: "challenge_invalid" });
    throw apiError("passkey_challenge_invalid");
  }
  const { user, passkey, amr } = await provePasskey(deps, meta, rp, input.response, stored.challenge, {
    event: "passkey_sign_in_failed",
    detail: { context: "sign_in" },
  });
  return completeSignIn(deps, meta, user, { method: "passkey", amr, detail: { passkey: passkey.id } });
}
