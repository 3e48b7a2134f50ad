import type { Config } from "../config";
import { apiError } from "../errors";
import { b64url, fromB64url, utf8 } from "./encoding";
import { ALGS, getKeyRing, type SignParams } from "./keys";

/**
 * Access tokens: compact JWS signed with Web Crypto. EdDSA/ES256 with `kid` by default;
 * HS256 with JWT_SECRET in legacy mode (LEGACY_HS256=true), for services that verify with the
 * shared secret and read `id` and `role`.
 */
export interface AccessClaims {
  sub: string;
  id: string;
  sid: string;
  email: string;
  role: string;
  full_name: string;
  token_use: "access";
  iss: string;
  aud: string;
  iat: number;
  nbf: number;
  exp: number;
  jti: string;
}

export interface TokenUser {
  id: string;
  email: string;
  role: string;
  fullName: string;
}

const json = (v: unknown) => b64url(utf8(JSON.stringify(v)));

export async function signAccessToken(
  config: Config,
  user: TokenUser,
  sessionId: string,
  nowSeconds: number,
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
    token_use: "access",
    iss: config.JWT_ISSUER,
    aud: config.JWT_AUDIENCE,
    iat: nowSeconds,
    nbf: nowSeconds,
    exp: nowSeconds + expiresIn,
    jti: crypto.randomUUID(),
  };
  let header: Record<string, string>;
  let key: CryptoKey;
  let params: SignParams;
  if (ring.hmac) {
    header = { alg: "HS256", typ: "JWT" };
    key = ring.hmac;
    params = { name: "HMAC" };
  } else {
    if (!ring.signer) throw new Error("no signing key");
    header = { alg: ring.signer.alg, typ: "JWT", kid: ring.signer.kid };
    key = ring.signer.key;
    params = ALGS[ring.signer.alg].sign;
  }
  const input = `${json(header)}.${json(claims)}`;
  const sig = await crypto.subtle.sign(params, key, utf8(input));
  return { token: `${input}.${b64url(sig)}`, expiresIn };
}

/**
 * Verify an access token. Only the configured algorithms are accepted (never `none`); the key
 * comes from our key ring by `kid` and must match the header's alg, so the header never picks
 * the key type; `jku`, `x5u` and `jwk` headers are ignored. Checks exp/nbf (with skew), iss,
 * aud and `token_use`.
 */
export async function verifyAccessToken(config: Config, token: string, nowSeconds: number): Promise<AccessClaims> {
  const parts = token.split(".");
  if (parts.length !== 3 || parts.some((p) => !/^[A-Za-z0-9_-]*$/.test(p)) || !parts[2]) throw apiError("invalid_token");
  let header: { alg?: unknown; kid?: unknown; crit?: unknown };
  let claims: Partial<AccessClaims> & Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder().decode(fromB64url(parts[0])));
    claims = JSON.parse(new TextDecoder().decode(fromB64url(parts[1])));
  } catch {
    throw apiError("invalid_token");
  }
  if (!header || typeof header !== "object" || !claims || typeof claims !== "object" || Array.isArray(claims))
    throw apiError("invalid_token");
  // No extension we understand may be marked critical (RFC 7515 4.1.11), e.g. `b64: false`.
  if ("crit" in header) throw apiError("invalid_token");
  const ring = await getKeyRing(config);
  let key: CryptoKey;
  let params: SignParams;
  if (header.alg === "HS256" && ring.hmac) {
    key = ring.hmac;
    params = { name: "HMAC" };
  } else if (header.alg === "EdDSA" || header.alg === "ES256") {
    const vk = typeof header.kid === "string" ? ring.verifiers.get(header.kid) : undefined;
    if (!vk || vk.alg !== header.alg) throw apiError("invalid_token");
    key = vk.key;
    params = ALGS[vk.alg].sign;
  } else {
    throw apiError("invalid_token");
  }
  let valid = false;
  try {
    valid = await crypto.subtle.verify(params, key, fromB64url(parts[2]), utf8(`${parts[0]}.${parts[1]}`));
  } catch {
    valid = false;
  }
  if (!valid) throw apiError("invalid_token");
  const skew = config.JWT_CLOCK_SKEW;
  if (claims.token_use !== "access") throw apiError("invalid_token");
  if (claims.iss !== config.JWT_ISSUER) throw apiError("invalid_token");
  const aud = claims.aud as unknown;
  if (!(aud === config.JWT_AUDIENCE || (Array.isArray(aud) && aud.includes(config.JWT_AUDIENCE)))) throw apiError("invalid_token");
  if (typeof claims.sub !== "string" || typeof claims.sid !== "string") throw apiError("invalid_token");
  if (typeof claims.exp !== "number") throw apiError("invalid_token");
  if (typeof claims.nbf === "number" && claims.nbf > nowSeconds + skew) throw apiError("invalid_token");
  if (claims.exp + skew <= nowSeconds) throw apiError("token_expired");
  return claims as AccessClaims;
}
