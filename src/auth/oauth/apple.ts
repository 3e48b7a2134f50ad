import { importPKCS8, SignJWT } from "jose";
import { isolateMemo } from "../../lib/isolate-memo";

/**
 * Apple's token endpoint takes no static client secret: the secret is an ES256 JWT signed with
 * a developer key (Certificates, Identifiers & Profiles > Keys, "Sign in with Apple"), with
 * iss = team id, sub = the Services ID, aud = Apple's issuer, at most six months long.
 */
export interface AppleSigningKey {
  teamId: string;
  keyId: string;
  /** The downloaded AuthKey_XXXXXXXXXX.p8 (PKCS#8 PEM). */
  privateKeyPem: string;
}

/** Imported once per isolate (a bad PEM is not cached: the next request tries again). */
const keyFor = isolateMemo((pem: string) => importPKCS8(pem.replace(/\\n/g, "\n"), "ES256"));

/** A fresh client secret for one token request (short-lived: it is made per request anyway). */
export async function appleClientSecret(
  key: AppleSigningKey,
  clientId: string,
  audience: string,
  now: Date,
  ttlSeconds = 300,
): Promise<string> {
  const iat = Math.floor(now.getTime() / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg: "ES256", kid: key.keyId })
    .setIssuer(key.teamId)
    .setSubject(clientId)
    .setAudience(audience)
    .setIssuedAt(iat)
    .setExpirationTime(iat + ttlSeconds)
    .sign(await keyFor(key.privateKeyPem));
}

/**
 * Apple posts the user's name once, on the first authorization, as a `user` JSON field beside
 * the code (never in the ID token). Returns "First Last", or undefined.
 */
export function appleUserName(params: URLSearchParams): string | undefined {
  const raw = params.get("user");
  if (!raw || raw.length > 4096) return undefined;
  try {
    const name = (JSON.parse(raw) as { name?: { firstName?: unknown; lastName?: unknown } }).name;
    const full = [name?.firstName, name?.lastName]
      .filter((p) => typeof p === "string" && p.trim())
      .join(" ")
      .trim();
    return full ? full.slice(0, 200) : undefined;
  } catch {
    return undefined;
  }
}
