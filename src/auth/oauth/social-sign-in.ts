import type { Deps, RequestMeta } from "../../deps";
import { AppError, apiError } from "../../errors";
import { msg } from "../../i18n/messages";
import { describeError } from "../../log";
import type { OwnerProof } from "../account/credential-change";
import { audit } from "../audit";
import type { Authenticated } from "../sessions/sessions";
import { completeSignIn, type SignInResult } from "../sign-in/complete";
import { configuredProvider } from "./configured";
import { type VerifiedIdentity, verifyIdTokenUse } from "./id-token";
import { linkIdentity, resolveAccount } from "./identities";
import { isOAuthError, oauthApiError } from "./oauth-error";
import type { OidcProvider } from "./providers";
import { acceptOnce } from "./replay";

/**
 * Social sign-in: a verified identity -> its account (identities.ts) -> completeSignIn, like every
 * other way in, so account states, REQUIRE_VERIFIED_EMAIL and MFA apply unchanged. The session's
 * amr is the provider's name, and it rests on its identity and on the account's password as it
 * was (a reset or unlink racing the sign-in leaves it without a session).
 */

/**
 * A native app's ID token: verifyIdToken, then accepted once (replay.ts); a refusal audited and
 * answered as its catalog code (401s; 503 provider_unavailable).
 */
async function verifyForSignIn(
  deps: Deps,
  meta: RequestMeta,
  provider: OidcProvider,
  idToken: string,
  nonce?: string,
): Promise<VerifiedIdentity> {
  try {
    const { identity, use } = await verifyIdTokenUse(deps, provider, idToken, { nonce });
    await acceptOnce(deps, provider.name, idToken, use);
    return identity;
  } catch (err) {
    if (!isOAuthError(err)) throw err;
    if (err.kind === "provider_unavailable")
      deps.log("error", "sign-in provider unavailable", { provider: provider.name, ...describeError(err) });
    await audit(deps, meta, "oauth_sign_in_failed", "failure", null, { provider: provider.name, reason: err.kind });
    throw oauthApiError(err);
  }
}

const GROUNDS_GONE = msg("error.invalid_credentials.grounds_gone");

/** The account of a verified identity, signed in (or the MFA step, or the refusal of its state). */
export async function signInWithIdentity(deps: Deps, meta: RequestMeta, v: VerifiedIdentity, fullName?: string): Promise<SignInResult> {
  const { user, identityId } = await resolveAccount(deps, meta, v, fullName);
  try {
    return await completeSignIn(deps, meta, user, {
      method: v.provider,
      grounds: { passwordChangedAt: user.passwordChangedAt, identityId },
    });
  } catch (err) {
    // The grounds no longer held when the session was to start (a reset or an unlink committed meanwhile).
    if (err instanceof AppError && err.code === "invalid_credentials") throw apiError("invalid_credentials", { message: GROUNDS_GONE });
    throw err;
  }
}

export interface IdTokenInput {
  idToken: string;
  /** The raw nonce whose SHA-256 the app gave the provider's SDK. */
  nonce?: string;
  /** Apple's native SDKs hand the app the user's name once, on the first sign-in only: the app passes it on. */
  fullName?: string;
}

/** POST /oauth/{provider}/id-token: a native app's ID token -> the normal sign-in answer. */
export async function signInWithIdToken(deps: Deps, meta: RequestMeta, providerName: string, input: IdTokenInput): Promise<SignInResult> {
  const provider = configuredProvider(deps.config, providerName);
  const v = await verifyForSignIn(deps, meta, provider, input.idToken, input.nonce);
  return signInWithIdentity(deps, meta, v, input.fullName);
}

/** POST /oauth/{provider}/link with an ID token: the owner's proof, the same verification, then the identity joins the caller's account. */
export async function linkWithIdToken(
  deps: Deps,
  meta: RequestMeta,
  auth: Authenticated,
  providerName: string,
  input: Omit<IdTokenInput, "fullName">,
  proof: OwnerProof,
) {
  const provider = configuredProvider(deps.config, providerName);
  return linkIdentity(deps, meta, auth, proof, () => verifyForSignIn(deps, meta, provider, input.idToken, input.nonce));
}
