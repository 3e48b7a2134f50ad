import type { Deps, RequestMeta } from "../../deps";
import { describeError } from "../../log";
import { audit } from "../audit";
import type { Authenticated } from "../sessions/sessions";
import { completeSignIn, type SignInResult } from "../sign-in/complete";
import { configuredProvider } from "./configured";
import { type VerifiedIdentity, verifyIdToken } from "./id-token";
import { linkIdentity, resolveAccount } from "./identities";
import { isOAuthError, oauthApiError } from "./oauth-error";
import type { OidcProvider } from "./providers";

/**
 * Social sign-in: a verified identity -> its account (identities.ts) -> completeSignIn, like every
 * other way in, so account states, REQUIRE_VERIFIED_EMAIL and MFA apply unchanged. The session's
 * amr is the provider's name.
 */

/** verifyIdToken, a refusal audited and answered as its catalog code (401s; 503 provider_unavailable). */
async function verifyForSignIn(
  deps: Deps,
  meta: RequestMeta,
  provider: OidcProvider,
  idToken: string,
  nonce?: string,
): Promise<VerifiedIdentity> {
  try {
    return await verifyIdToken(deps, provider, idToken, { nonce });
  } catch (err) {
    if (!isOAuthError(err)) throw err;
    if (err.kind === "provider_unavailable")
      deps.log("error", "sign-in provider unavailable", { provider: provider.name, ...describeError(err) });
    await audit(deps, meta, "oauth_sign_in_failed", "failure", null, { provider: provider.name, reason: err.kind });
    throw oauthApiError(err);
  }
}

/** The account of a verified identity, signed in (or the MFA step, or the refusal of its state). */
export async function signInWithIdentity(deps: Deps, meta: RequestMeta, v: VerifiedIdentity, fullName?: string): Promise<SignInResult> {
  const { user } = await resolveAccount(deps, meta, v, fullName);
  return completeSignIn(deps, meta, user, { method: v.provider });
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

/** POST /oauth/{provider}/link with an ID token: the same verification, then the identity joins the caller's account. */
export async function linkWithIdToken(
  deps: Deps,
  meta: RequestMeta,
  auth: Authenticated,
  providerName: string,
  input: Omit<IdTokenInput, "fullName">,
) {
  const provider = configuredProvider(deps.config, providerName);
  return linkIdentity(deps, meta, auth, await verifyForSignIn(deps, meta, provider, input.idToken, input.nonce));
}
