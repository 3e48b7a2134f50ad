// Signing-key generation for JWT_PRIVATE_KEYS, in plain JavaScript so that the Worker (keys.ts, for its
// per-isolate development keys and the tests) and the Node scripts (generate-jwk.mjs, the dev stack)
// share one implementation.
import { base64url, exportJWK, generateKeyPair } from "jose";

/**
 * A private JWK set with one new key: `{"keys":[{kty, crv, x, (y,) d, kid, alg, use: "sig"}]}`.
 * The kid says the algorithm and the day it was made (useful when rotating), plus 48 random bits.
 */
export async function generateKeySet(alg = "EdDSA") {
  if (alg !== "EdDSA" && alg !== "ES256") throw new Error(`unsupported signing algorithm: ${alg} (EdDSA or ES256)`);
  const { privateKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = await exportJWK(privateKey);
  const kid = `${alg.toLowerCase()}-${new Date().toISOString().slice(0, 10)}-${base64url.encode(crypto.getRandomValues(new Uint8Array(6)))}`;
  return { keys: [{ ...jwk, kid, alg, use: "sig" }] };
}
