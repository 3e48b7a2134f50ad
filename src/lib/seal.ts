import { b64url, fromB64url, randomBytes, utf8 } from "./encoding";
import { isolateMemo } from "./isolate-memo";

/**
 * Secrets the service must read back (a TOTP seed, a webhook signing secret), at rest:
 * AES-256-GCM (Web Crypto) under a key derived from a server secret with HKDF, its `salt` and
 * `info` naming one purpose, so a key never serves two purposes (nor keys an HMAC elsewhere).
 * Each value is bound to its owner (`boundTo`, the additional data), so a row copied onto another
 * owner does not decrypt. Stored as `v1.<iv>.<ciphertext+tag>` (base64url); the version leaves
 * room for a second key during a rotation of the server secret.
 */
export function sealer(purpose: { salt: string; info: string }) {
  // The derived key, once per isolate and server secret (HKDF and the import are not repeated per request).
  const derivedKey = isolateMemo((serverSecret: string) =>
    crypto.subtle
      .importKey("raw", utf8(serverSecret), "HKDF", false, ["deriveKey"])
      .then((ikm) =>
        crypto.subtle.deriveKey(
          { name: "HKDF", hash: "SHA-256", salt: utf8(purpose.salt), info: utf8(purpose.info) },
          ikm,
          { name: "AES-GCM", length: 256 },
          false,
          ["encrypt", "decrypt"],
        ),
      ),
  );
  return {
    async seal(serverSecret: string, boundTo: string, plain: Uint8Array): Promise<string> {
      const iv = randomBytes(12);
      const sealed = await crypto.subtle.encrypt(
        { name: "AES-GCM", iv, additionalData: utf8(boundTo) },
        await derivedKey(serverSecret),
        plain,
      );
      return `v1.${b64url(iv)}.${b64url(sealed)}`;
    },
    /** The plain value; throws if it was altered, bound to another owner or sealed under another key. */
    async open(serverSecret: string, boundTo: string, stored: string): Promise<Uint8Array> {
      const [version, iv, sealed] = stored.split(".");
      if (version !== "v1" || !iv || !sealed) throw new Error("unknown sealed secret format");
      const plain = await crypto.subtle.decrypt(
        { name: "AES-GCM", iv: fromB64url(iv), additionalData: utf8(boundTo) },
        await derivedKey(serverSecret),
        fromB64url(sealed),
      );
      return new Uint8Array(plain);
    },
  };
}
