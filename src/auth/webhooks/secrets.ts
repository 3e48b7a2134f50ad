import { authSecret, type Config } from "../../config";
import { randomBytes, utf8 } from "../../lib/encoding";
import { sealer } from "../../lib/seal";

/**
 * Signing secrets and signatures per the Standard Webhooks specification: a secret is `whsec_`
 * and the base64 of 32 random bytes (shown to the administrator once), the key is those bytes,
 * and each delivery is signed as `v1,` + base64(HMAC-SHA256(key, "<webhook-id>.<webhook-timestamp>.<body>")),
 * so a receiver verifies it with the `standardwebhooks` or `svix` library unchanged. At rest a
 * secret is sealed (AES-GCM under a key derived from AUTH_SECRET for this purpose, bound to its
 * endpoint): the service must sign with it, so a one-way hash would not do.
 */
const PREFIX = "whsec_";
const webhookSecrets = sealer({ salt: "edge-auth-api/webhooks", info: "edge-auth-api webhook signing-secret aes-256-gcm v1" });

const base64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));
const fromBase64 = (s: string) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
const boundTo = (endpointId: string) => `webhook:${endpointId}`;

/** A new signing secret (`whsec_` + base64 of 32 random bytes). */
export const newSecret = () => PREFIX + base64(randomBytes(32));

export const sealSecret = (config: Config, endpointId: string, secret: string) =>
  webhookSecrets.seal(authSecret(config), boundTo(endpointId), utf8(secret));

export const openSecret = async (config: Config, endpointId: string, sealed: string) =>
  new TextDecoder().decode(await webhookSecrets.open(authSecret(config), boundTo(endpointId), sealed));

/** The `webhook-signature` header: one `v1,<signature>` per secret, space-separated (the current one first). */
export async function signatureHeader(secrets: string[], msgId: string, timestamp: number, body: string): Promise<string> {
  const signed = utf8(`${msgId}.${timestamp}.${body}`);
  const signatures = await Promise.all(
    secrets.map(async (secret) => {
      const key = await crypto.subtle.importKey("raw", fromBase64(secret.slice(PREFIX.length)), { name: "HMAC", hash: "SHA-256" }, false, [
        "sign",
      ]);
      return `v1,${base64(new Uint8Array(await crypto.subtle.sign("HMAC", key, signed)))}`;
    }),
  );
  return signatures.join(" ");
}
