import { errors, type JWTPayload, jwtVerify } from "jose";
import { sha256Hex, timingSafeEqual, utf8 } from "../../lib/encoding";
import { isEmailAddress, normalizeEmail } from "../account/users";
import type { OidcDeps } from "./cache";
import { getDiscovery } from "./discovery";
import { keyResolver } from "./jwks";
import { OAuthError, type OAuthErrorKind } from "./oauth-error";
import { isTrue, type OidcProvider, type ProviderName, RULES } from "./providers";

/** Both providers sign with RS256 (Google, Apple); ES256 is allowed for providers that use it. */
const ALLOWED_ALGS = ["RS256", "ES256"];
/** Clock skew tolerated on exp, iat and nbf, in seconds. */
export const CLOCK_SKEW_S = 60;
/** Google's ID tokens live 1 h, Apple's 10 min: anything issued longer ago than this is refused. */
const MAX_TOKEN_AGE_S = 24 * 3600;

export interface VerifiedIdentity {
  provider: ProviderName;
  /** The provider's stable user id: with `provider`, the identity key. */
  sub: string;
  email: string | null;
  /** Apple sends "true"/"false" strings; false whenever there is no email. */
  email_verified: boolean;
  name?: string;
  /** Apple's private relay address (…@privaterelay.appleid.com). */
  is_private_email?: boolean;
}

export interface VerifyOptions {
  /**
   * The raw nonce the app holds. The app passes SHA-256(raw) as lowercase hex to the provider
   * SDK (Apple `request.nonce`, GoogleSignIn-iOS `signIn(…nonce:)`, Android `setNonce`, GIS
   * `nonce`), which puts it verbatim in the token; the raw value only ever goes to us, so a
   * stolen token cannot be replayed with its own nonce claim.
   */
  nonce?: string | null;
}

/** SHA-256 of the raw nonce, lowercase hex: what the provider must have put in the token. */
export const hashNonce = (raw: string) => sha256Hex(raw);

function joseKind(err: unknown): OAuthErrorKind {
  if (err instanceof errors.JWTExpired) return "expired";
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.reason === "missing") return "malformed";
    if (err.claim === "iss") return "wrong_issuer";
    if (err.claim === "aud") return "wrong_audience";
    if (err.claim === "iat" || err.claim === "nbf") return "not_yet_valid";
    return "malformed";
  }
  if (err instanceof errors.JWSSignatureVerificationFailed || err instanceof errors.JOSEAlgNotAllowed) return "bad_signature";
  return "malformed";
}

async function checkNonce(provider: OidcProvider, payload: JWTPayload, raw: string | null | undefined) {
  const claim = payload.nonce;
  if (claim !== undefined && typeof claim !== "string") throw new OAuthError("malformed", "nonce claim is not a string");
  if (raw) {
    if (claim === undefined) throw new OAuthError("nonce_missing", "a nonce was sent but the token carries none");
    const expected = utf8(await hashNonce(raw));
    if (!timingSafeEqual(utf8(claim.toLowerCase()), expected)) throw new OAuthError("nonce_mismatch");
    return;
  }
  // The token is bound to a nonce we cannot check (e.g. one the Google iOS SDK made up itself).
  if (claim !== undefined) throw new OAuthError("nonce_missing", "the token carries a nonce but none was sent");
  if (provider.requireNonce ?? RULES[provider.name].nonceRequired(payload)) throw new OAuthError("nonce_missing");
}

/**
 * The email claim as accounts store it: NFKC (a full-width `ａｄａ@ｅｘａｍｐｌｅ.com` is
 * `ada@example.com`), trimmed, lower-cased; null when absent or empty. Anything else that is not an
 * address by registration's rule refuses the token: an account must never hold an address that
 * no email-based endpoint accepts.
 */
function emailClaim(claim: unknown): string | null {
  if (claim === undefined || claim === null || claim === "") return null;
  if (typeof claim !== "string") throw new OAuthError("malformed", "email claim is not a string");
  const email = normalizeEmail(claim.normalize("NFKC"));
  if (!email) return null;
  if (!isEmailAddress(email)) throw new OAuthError("email_invalid", "email claim is not an email address");
  return email;
}

/** What makes one ID token distinct, for accepting it once (src/auth/oauth/replay.ts). */
export interface TokenUse {
  /** The token's `nonce` claim (the app's hashed nonce), its `jti`, or neither. */
  nonce?: string;
  jti?: string;
  /** `exp`, in seconds. */
  exp: number;
}

/**
 * Verify a provider's ID token: signature against the provider's published keys (alg
 * allow-list), iss from discovery, aud among the configured client ids, exp/iat/nbf with
 * clock skew, and the nonce rules above. Throws OAuthError with a distinct kind.
 */
export async function verifyIdToken(
  deps: OidcDeps,
  provider: OidcProvider,
  idToken: string,
  opts: VerifyOptions = {},
): Promise<VerifiedIdentity> {
  return (await verifyIdTokenUse(deps, provider, idToken, opts)).identity;
}

/** verifyIdToken, also returning what tells this token from every other (its nonce, jti and expiry). */
export async function verifyIdTokenUse(
  deps: OidcDeps,
  provider: OidcProvider,
  idToken: string,
  opts: VerifyOptions = {},
): Promise<{ identity: VerifiedIdentity; use: TokenUse }> {
  if (provider.clientIds.length === 0) throw new OAuthError("wrong_audience", `${provider.name} has no client ids configured`);
  if (typeof idToken !== "string" || idToken.length > 16_384 || idToken.split(".").length !== 3) throw new OAuthError("malformed");
  const discovery = await getDiscovery(deps, provider);
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(idToken, keyResolver(deps, discovery.jwks_uri), {
      algorithms: ALLOWED_ALGS,
      issuer: [discovery.issuer, ...RULES[provider.name].issuerAliases(discovery.issuer)],
      audience: [...provider.clientIds],
      requiredClaims: ["sub", "iat", "exp"],
      clockTolerance: CLOCK_SKEW_S,
      maxTokenAge: MAX_TOKEN_AGE_S,
      currentDate: deps.now(),
    }));
  } catch (err) {
    if (err instanceof OAuthError) throw err;
    throw new OAuthError(joseKind(err), err instanceof Error ? err.message : "invalid token", { cause: err });
  }
  // OpenID Connect Core 3.1.3.7: with several audiences, the authorized party must be ours.
  if (
    Array.isArray(payload.aud) &&
    payload.aud.length > 1 &&
    !(typeof payload.azp === "string" && provider.clientIds.includes(payload.azp))
  )
    throw new OAuthError("wrong_audience", "azp is not a configured client id");
  if (typeof payload.sub !== "string" || !payload.sub || payload.sub.length > 255) throw new OAuthError("malformed", "bad sub");
  await checkNonce(provider, payload, opts.nonce);

  const email = emailClaim(payload.email);
  const name = typeof payload.name === "string" && payload.name.trim() ? payload.name.trim() : undefined;
  const identity: VerifiedIdentity = {
    provider: provider.name,
    sub: payload.sub,
    email,
    email_verified: email !== null && isTrue(payload.email_verified),
    ...(name ? { name } : {}),
    ...(payload.is_private_email !== undefined ? { is_private_email: isTrue(payload.is_private_email) } : {}),
  };
  const use: TokenUse = {
    exp: payload.exp as number,
    ...(typeof payload.nonce === "string" ? { nonce: payload.nonce } : {}),
    ...(typeof payload.jti === "string" && payload.jti ? { jti: payload.jti } : {}),
  };
  return { identity, use };
}
