import { type JWTHeaderParameters, errors as jose, jwtVerify, SignJWT } from "jose";
import type { Config } from "../../config";
import { apiError } from "../../errors";
import { getKeyRing, type KeyRing } from "./keys";

/**
 * Access tokens: compact JWS (jose). EdDSA/ES256 with `kid` by default; HS256 with JWT_SECRET in
 * legacy mode (LEGACY_HS256=true), for services that verify with the shared secret and read `id`
 * and `role`.
 */
export interface AccessClaims {
  sub: string;
  id: string;
  sid: string;
  email: string;
  role: string;
  full_name: string;
  /** The account's address was proven by a mailed code. */
  email_verified: boolean;
  token_use: "access";
  iss: string;
  aud: string;
  iat: number;
  nbf: number;
  exp: number;
  jti: string;
  /** How the user signed in (RFC 8176): ["pwd"] or ["pwd","otp"]; the session's, copied on every refresh. */
  amr: string[];
  /** The session's assurance level (src/auth/sign-in/ways-in.ts ACR_VALUES): single-factor, multi-factor, phishing-resistant. */
  acr: string;
  /** When the user signed in (seconds): the session's login or MFA verify, not this token's issue. */
  auth_time: number;
}

/** What a session knows about its sign-in, carried into its access tokens. */
export interface Assurance {
  amr: readonly string[];
  acr: string;
  authTime: Date;
}

export interface TokenUser {
  id: string;
  email: string;
  role: string;
  fullName: string;
  emailVerified: boolean;
}

export async function signAccessToken(
  config: Config,
  user: TokenUser,
  sessionId: string,
  nowSeconds: number,
  assurance: Assurance,
): Promise<{ token: string; expiresIn: number }> {
  const ring = await getKeyRing(config);
  const expiresIn = config.ACCESS_TOKEN_TTL;
  const claims: AccessClaims = {
    sub: user.id,
    id: user.id,
    sid: sessionId,
    email: user.email,
    role: user.role,
    full_name: user.fullName,
    email_verified: user.emailVerified,
    token_use: "access",
    iss: config.JWT_ISSUER,
    aud: config.JWT_AUDIENCE,
    iat: nowSeconds,
    nbf: nowSeconds,
    exp: nowSeconds + expiresIn,
    jti: crypto.randomUUID(),
    amr: [...assurance.amr],
    acr: assurance.acr,
    auth_time: Math.floor(assurance.authTime.getTime() / 1000),
  };
  const jwt = new SignJWT({ ...claims });
  let token: string;
  if (ring.hmac) {
    token = await jwt.setProtectedHeader({ alg: "HS256", typ: "JWT" }).sign(ring.hmac);
  } else {
    if (!ring.signer) throw new Error("no signing key");
    token = await jwt.setProtectedHeader({ alg: ring.signer.alg, typ: "JWT", kid: ring.signer.kid }).sign(ring.signer.key);
  }
  return { token, expiresIn };
}

/**
 * The verification key for a token's header, from our key ring only: by `kid`, and the key's own
 * alg must be the header's, so the header never picks the key type. `jku`, `x5u` and `jwk` headers
 * are never looked at. No extension may be marked critical (RFC 7515 4.1.11), e.g. `b64: false`.
 */
function keyFor(ring: KeyRing, header: JWTHeaderParameters): CryptoKey {
  if ("crit" in header) throw apiError("invalid_token");
  if (header.alg === "HS256" && ring.hmac) return ring.hmac;
  const vk = typeof header.kid === "string" ? ring.verifiers.get(header.kid) : undefined;
  if (!vk || vk.alg !== header.alg) throw apiError("invalid_token");
  return vk.key;
}

/**
 * Verify an access token: alg allow-listed (EdDSA/ES256, plus HS256 only in legacy mode; never
 * `none`), `typ` JWT, signature, exp/nbf (with JWT_CLOCK_SKEW), iss, aud (a string or an array
 * holding ours), then our own claims: `token_use` access, `sub` and `sid`.
 * An expired token answers token_expired; every other failure invalid_token.
 */
export async function verifyAccessToken(config: Config, token: string, nowSeconds: number): Promise<AccessClaims> {
  const ring = await getKeyRing(config);
  let claims: Partial<AccessClaims>;
  try {
    ({ payload: claims } = await jwtVerify<Partial<AccessClaims>>(token, (header) => keyFor(ring, header), {
      algorithms: ring.hmac ? ["EdDSA", "ES256", "HS256"] : ["EdDSA", "ES256"],
      typ: "JWT",
      issuer: config.JWT_ISSUER,
      audience: config.JWT_AUDIENCE,
      clockTolerance: config.JWT_CLOCK_SKEW,
      currentDate: new Date(nowSeconds * 1000),
      requiredClaims: ["exp"],
    }));
  } catch (err) {
    if (err instanceof jose.JWTExpired) throw apiError("token_expired");
    if (err instanceof jose.JOSEError) throw apiError("invalid_token");
    throw err; // our own invalidToken from keyFor, or an internal fault
  }
  if (claims.token_use !== "access" || typeof claims.sub !== "string" || typeof claims.sid !== "string") throw apiError("invalid_token");
  return claims as AccessClaims;
}
