import type { Deps, RequestMeta } from "../../deps";
import { AppError, apiError } from "../../errors";
import { assertMaySignIn } from "../account/status";
import { audit } from "../audit";
import { completeSignIn, type SignInResult } from "../sign-in/complete";
import { consumeChallenge, openChallenge } from "./challenge";
import { type Proof, withSecondFactor } from "./second-factor";

/**
 * `POST /auth/mfa/verify`: the second step of a sign-in. The token must be live and its account
 * still have its factor, and a code must complete this sign-in (two kinds of factor with the first); the code is checked (throttled per account) and used in the transaction
 * that consumes the token; then the sign-in completes through completeSignIn like any other, on
 * the grounds the first factor rested on (a password changed meanwhile refuses it).
 */
export async function verifyMfa(deps: Deps, meta: RequestMeta, mfaToken: string, proof: Proof): Promise<SignInResult> {
  const challenge = await openChallenge(deps, mfaToken);
  // The account's factor is gone, or a code does not complete this sign-in (after a passkey without user verification).
  if (!challenge?.factor || !challenge.methods.includes("code" in proof ? "totp" : "recovery_code")) {
    await audit(deps, meta, "mfa_failed", "failure", challenge?.user.id ?? null, { context: "sign_in", reason: "invalid_mfa_token" });
    throw apiError("mfa_token_invalid");
  }
  const { user, factor, first } = challenge;
  // A suspended account is refused before its code is used (the row was just read fresh).
  await assertMaySignIn(deps, meta, user);
  const { kind } = await withSecondFactor(deps, meta, user, factor, proof, "sign_in", async (tx) => {
    if (!(await consumeChallenge(tx, challenge.id, deps.now()))) throw apiError("mfa_token_invalid");
  });
  try {
    return await completeSignIn(deps, meta, user, { ...first, secondFactor: { method: kind } });
  } catch (err) {
    // The grounds no longer hold (the password changed since it was checked): log in again.
    if (err instanceof AppError && err.code === "invalid_credentials") throw apiError("mfa_token_invalid");
    throw err;
  }
}
