import { authSecret, type Config } from "../../config";
import { b64url, fromB64url, randomBytes, utf8 } from "../../lib/encoding";
import { isolateMemo } from "../../lib/isolate-memo";

/**
 * TOTP secrets at rest: AES-256-GCM (Web Crypto) under a key derived from AUTH_SECRET with HKDF,
 * its `info` naming this one purpose, so the key is never the one that keys an HMAC elsewhere.
 * The ciphertext is bound to its user (additional data), so a row copied onto another account
 * does not decrypt. Stored as `v1.<iv>.<ciphertext+tag>` (base64url); the version leaves room for
 * a second key during a rotation of AUTH_SECRET.
 */
const INFO = "edge-auth-api mfa totp-secret aes-256-gcm v1";
const SALT = "edge-auth-api/mfa";

/** The derived key, once per isolate and secret (HKDF and the import are not repeated per request). */
const derivedKey = isolateMemo((secret: string) =>
  crypto.subtle
    .importKey("raw", utf8(secret), "HKDF", false, ["deriveKey"])
    .then((ikm) =>
      crypto.subtle.deriveKey(
        { name: "HKDF", hash: "SHA-256", salt: utf8(SALT), info: utf8(INFO) },
        ikm,
        { name: "AES-GCM", length: 256 },
        false,
        ["encrypt", "decrypt"],
      ),
    ),
);
const secretKey = (config: Config): Promise<CryptoKey> => derivedKey(authSecret(config));

const boundTo = (userId: string) => utf8(`totp:${userId}`);

export async function encryptSecret(config: Config, userId: string, secret: Uint8Array): Promise<string> {
  const iv = randomBytes(12);
  const sealed = await crypto.subtle.encrypt({ name: "AES-GCM", iv, additionalData: boundTo(userId) }, await secretKey(config), secret);
  return `v1.${b64url(iv)}.${b64url(sealed)}`;
}

/** The secret of a stored value; throws if it was altered, moved to another user or sealed under another key. */
export async function decryptSecret(config: Config, userId: string, stored: string): Promise<Uint8Array> {
  const [version, iv, sealed] = stored.split(".");
  if (version !== "v1" || !iv || !sealed) throw new Error("unknown TOTP secret format");
  const plain = await crypto.subtle.decrypt(
    { name: "AES-GCM", iv: fromB64url(iv), additionalData: boundTo(userId) },
    await secretKey(config),
    fromB64url(sealed),
  );
  return new Uint8Array(plain);
}
