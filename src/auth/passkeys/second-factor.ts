import type { Deps, RequestMeta } from "../../deps";
import { AppError, apiError } from "../../errors";
import { assertMaySignIn } from "../account/status";
import { audit } from "../audit";
import { consumeChallenge, type OpenChallenge, openChallenge } from "../mfa/challenge";
import { completeSignIn, type SignInResult } from "../sign-in/complete";
import { amrOf, assess } from "../sign-in/ways-in";
import { type AuthenticationResponse, challengeOf, type RequestOptions, relyingParty, requestOptions } from "./ceremonies";
import { keepChallenge, useAccountChallenge } from "./challenges";
import { provePasskey } from "./prove";
import { passkeysOf } from "./store";

/**
 * A passkey as the second step of a sign-in (the account holds one, so the `mfa_required` answer
 * offers `passkey`): POST /mfa/passkey/options with the mfa_token, then POST /mfa/verify with the
 * token and the response. The ceremony's challenge is bound to the account and to that mfa_token;
 * the mfa_token is used up in the same statement order as a code's (consumeChallenge), and the
 * sign-in completes through completeSignIn with the passkey as its second factor. The two proofs
 * together must be multi-factor by the ways-in registry: a first step that was itself a passkey
 * without user verification needs this one with it.
 */

async function liveChallenge(deps: Deps, meta: RequestMeta, mfaToken: string): Promise<OpenChallenge> {
  const challenge = await openChallenge(deps, mfaToken);
  if (!challenge?.methods.includes("passkey")) {
    await audit(deps, meta, "mfa_failed", "failure", challenge?.user.id ?? null, {
      context: "sign_in",
      method: "passkey",
      reason: "invalid_mfa_token",
    });
    throw apiError("mfa_token_invalid");
  }
  return challenge;
}

/** POST /mfa/passkey/options: request options naming the account's passkeys, for this mfa_token only. */
export async function secondFactorOptions(deps: Deps, meta: RequestMeta, mfaToken: string): Promise<RequestOptions> {
  const rp = relyingParty(deps.config);
  const challenge = await liveChallenge(deps, meta, mfaToken);
  const options = await requestOptions(rp, await passkeysOf(deps, challenge.user.id));
  await keepChallenge(deps, "mfa", options.challenge, { userId: challenge.user.id, data: { mfa_challenge: challenge.id } });
  return options;
}

/** POST /mfa/verify with `passkey`: the second factor proven with one of the account's passkeys. */
export async function verifyMfaWithPasskey(
  deps: Deps,
  meta: RequestMeta,
  mfaToken: string,
  response: AuthenticationResponse,
): Promise<SignInResult> {
  const rp = relyingParty(deps.config);
  const challenge = await liveChallenge(deps, meta, mfaToken);
  const { user, first } = challenge;
  // A suspended account is refused before anything is used up (the row was just read fresh).
  await assertMaySignIn(deps, meta, user);
  const fail = async (reason: string) => {
    await audit(deps, meta, "mfa_failed", "failure", user.id, { context: "sign_in", method: "passkey", reason });
    return apiError(reason === "challenge_invalid" ? "passkey_challenge_invalid" : "passkey_user_verification_required");
  };
  const stored = await useAccountChallenge(deps, "mfa", user.id, challengeOf(response), { mfa_challenge: challenge.id });
  if (!stored) throw await fail("challenge_invalid");
  const proven = await provePasskey(deps, meta, rp, response, stored.challenge, {
    event: "mfa_failed",
    detail: { context: "sign_in" },
    userId: user.id,
  });
  if (!assess([...(first.amr ?? amrOf(first.method)), ...proven.amr]).multiFactor) throw await fail("user_verification_missing");
  if (!(await consumeChallenge(deps.db, challenge.id, deps.now()))) throw apiError("mfa_token_invalid");
  await audit(deps, meta, "mfa_verified", "success", user.id, { context: "sign_in", method: "passkey", passkey: proven.passkey.id });
  try {
    return await completeSignIn(deps, meta, user, { ...first, secondFactor: { method: "passkey", amr: proven.amr } });
  } catch (err) {
    // The grounds no longer hold (the password changed since it was checked): log in again.
    if (err instanceof AppError && err.code === "invalid_credentials") throw apiError("mfa_token_invalid");
    throw err;
  }
}
