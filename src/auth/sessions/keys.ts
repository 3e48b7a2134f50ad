import { importJWK, type JWK } from "jose";
import type { Config } from "../../config";
import { utf8 } from "../../lib/encoding";
import { isolateMemo } from "../../lib/isolate-memo";
import { type AsymAlg, generateKeySet } from "./jwk";

export { type AsymAlg, generateKeySet };

/**
 * Signing keys. JWT_PRIVATE_KEYS holds a JWK set of private keys ({"keys":[...]}), each with
 * `kid` and `alg` (EdDSA or ES256). The first key signs; every listed key verifies, so a new
 * key can be put first while older ones keep verifying until removed (rotation logs nobody out).
 * Without JWT_PRIVATE_KEYS (development and tests only) a key pair is generated per isolate.
 */
interface VerifyKey {
  kid: string;
  alg: AsymAlg;
  key: CryptoKey;
  publicJwk: { kty: string; crv: string; x: string; y?: string; kid: string; alg: string; use: string };
}

export interface KeyRing {
  signer: { kid: string; alg: AsymAlg; key: CryptoKey } | null;
  verifiers: Map<string, VerifyKey>;
  hmac: CryptoKey | null;
  jwks: { keys: VerifyKey["publicJwk"][] };
}

type PrivateJwk = JWK & { kid?: string };

function publicPart(jwk: PrivateJwk) {
  const { kty, crv, x, y } = jwk;
  if (!kty || !crv || !x) throw new Error("signing keys need kty, crv and x");
  return (y ? { kty, crv, x, y } : { kty, crv, x }) as { kty: string; crv: string; x: string; y?: string };
}

function algOf(jwk: PrivateJwk): AsymAlg {
  if (jwk.alg === "EdDSA" || jwk.alg === "Ed25519" || (jwk.kty === "OKP" && jwk.crv === "Ed25519")) return "EdDSA";
  if (jwk.alg === "ES256" || (jwk.kty === "EC" && jwk.crv === "P-256")) return "ES256";
  throw new Error(`unsupported signing key (kty=${jwk.kty}, crv=${jwk.crv}, alg=${jwk.alg})`);
}

async function importSet(jwks: { keys: PrivateJwk[] }): Promise<Omit<KeyRing, "hmac">> {
  if (!Array.isArray(jwks.keys) || jwks.keys.length === 0) throw new Error("JWT_PRIVATE_KEYS has no keys");
  const verifiers = new Map<string, VerifyKey>();
  let signer: KeyRing["signer"] = null;
  for (const jwk of jwks.keys) {
    if (!jwk.kid) throw new Error("every key in JWT_PRIVATE_KEYS needs a kid");
    if (verifiers.has(jwk.kid)) throw new Error(`duplicate kid in JWT_PRIVATE_KEYS: ${jwk.kid}`);
    const alg = algOf(jwk);
    const pub = publicPart(jwk);
    const key = (await importJWK(pub, alg)) as CryptoKey;
    verifiers.set(jwk.kid, { kid: jwk.kid, alg, key, publicJwk: { ...pub, kid: jwk.kid, alg, use: "sig" } });
    if (!signer) {
      if (!jwk.d) throw new Error("the first key in JWT_PRIVATE_KEYS must be a private key");
      // key_ops/ext as exported by some tools (e.g. ["sign","verify"]) would make the import fail.
      const { key_ops: _ops, ext: _ext, ...priv } = jwk;
      signer = { kid: jwk.kid, alg, key: (await importJWK(priv, alg, { extractable: false })) as CryptoKey };
    }
  }
  return { signer, verifiers, jwks: { keys: [...verifiers.values()].map((v) => v.publicJwk) } };
}

function parseKeySet(source: string): { keys: PrivateJwk[] } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(source);
  } catch {
    throw new Error('JWT_PRIVATE_KEYS is not valid JSON (expected a JWK set: {"keys":[...]})');
  }
  if (!parsed || typeof parsed !== "object" || !Array.isArray((parsed as { keys?: unknown }).keys))
    throw new Error('JWT_PRIVATE_KEYS must be a JWK set: {"keys":[...]}');
  return parsed as { keys: PrivateJwk[] };
}

/** Per-isolate generated key sets (development and tests only), one per algorithm: the first one made is kept. */
const generatedSet = isolateMemo((alg: AsymAlg) => generateKeySet(alg).then((s) => JSON.stringify(s)));

const ringKey = (config: Config) => `${config.JWT_PRIVATE_KEYS ?? ""}|${config.JWT_ALG}|${config.LEGACY_HS256 ? config.JWT_SECRET : ""}`;

/** The key ring, once per isolate and key configuration. */
export const getKeyRing = isolateMemo(async (config: Config): Promise<KeyRing> => {
  const legacy = config.LEGACY_HS256 && !!config.JWT_SECRET;
  let source = config.JWT_PRIVATE_KEYS;
  if (!source && !(legacy && config.ENVIRONMENT === "production")) {
    if (config.ENVIRONMENT === "production") throw new Error("JWT_PRIVATE_KEYS is not set");
    source = await generatedSet(config.JWT_ALG);
  }
  // Production in legacy mode may run without asymmetric keys: HS256 only, empty JWKS.
  const set: Omit<KeyRing, "hmac"> = source
    ? await importSet(parseKeySet(source))
    : { signer: null, verifiers: new Map(), jwks: { keys: [] } };
  // Imported once here: jose would re-import a raw secret on every sign and verify.
  const hmac =
    config.LEGACY_HS256 && config.JWT_SECRET
      ? await crypto.subtle.importKey("raw", utf8(config.JWT_SECRET), { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"])
      : null;
  return { ...set, hmac };
}, ringKey);
