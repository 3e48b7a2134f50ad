// Signing-key generation for JWT_PRIVATE_KEYS, shared by the Worker (keys.ts: per-isolate development
// keys and the tests) and the Node scripts (generate-jwk, the dev stack), which run this file with
// Node's type stripping: it imports nothing relative and uses only erasable TypeScript.
import { base64url, exportJWK, generateKeyPair, type JWK } from "jose";

export type AsymAlg = "EdDSA" | "ES256";

/**
 * A private JWK set with one new key: `{"keys":[{kty, crv, x, (y,) d, kid, alg, use: "sig"}]}`.
 * The kid says the algorithm and the day it was made (useful when rotating), plus 48 random bits.
 */
export async function generateKeySet(alg: AsymAlg = "EdDSA"): Promise<{ keys: (JWK & { kid: string; kty: string })[] }> {
  if (alg !== "EdDSA" && alg !== "ES256") throw new Error(`unsupported signing algorithm: ${alg} (EdDSA or ES256)`);
  const { privateKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = await exportJWK(privateKey);
  const kid = `${alg.toLowerCase()}-${new Date().toISOString().slice(0, 10)}-${base64url.encode(crypto.getRandomValues(new Uint8Array(6)))}`;
  if (!jwk.kty) throw new Error("exported key without kty");
  return { keys: [{ ...jwk, kty: jwk.kty, kid, alg, use: "sig" }] };
}
