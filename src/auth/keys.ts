import type { Config } from "../config";
import { utf8 } from "./encoding";

/**
 * Signing keys. JWT_PRIVATE_KEYS holds a JWK set of private keys ({"keys":[...]}), each with
 * `kid` and `alg` (EdDSA or ES256). The first key signs; every listed key verifies, so a new
 * key can be put first while older ones keep verifying until removed (rotation logs nobody out).
 * Without JWT_PRIVATE_KEYS (development and tests only) a key pair is generated per isolate.
 */
export type AsymAlg = "EdDSA" | "ES256";

export interface VerifyKey {
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

export type SignParams = Parameters<SubtleCrypto["sign"]>[0];
type ImportParams = Parameters<SubtleCrypto["importKey"]>[2];

export const ALGS: Record<AsymAlg, { import: ImportParams; sign: SignParams }> = {
  EdDSA: { import: { name: "Ed25519" }, sign: { name: "Ed25519" } },
  ES256: { import: { name: "ECDSA", namedCurve: "P-256" }, sign: { name: "ECDSA", hash: "SHA-256" } },
};

function publicPart(jwk: JsonWebKey & { kid?: string }) {
  const { kty, crv, x, y } = jwk;
  if (!kty || !crv || !x) throw new Error("signing keys need kty, crv and x");
  return (y ? { kty, crv, x, y } : { kty, crv, x }) as { kty: string; crv: string; x: string; y?: string };
}

function algOf(jwk: JsonWebKey): AsymAlg {
  if (jwk.alg === "EdDSA" || jwk.alg === "Ed25519" || (jwk.kty === "OKP" && jwk.crv === "Ed25519")) return "EdDSA";
  if (jwk.alg === "ES256" || (jwk.kty === "EC" && jwk.crv === "P-256")) return "ES256";
  throw new Error(`unsupported signing key (kty=${jwk.kty}, crv=${jwk.crv}, alg=${jwk.alg})`);
}

async function importSet(jwks: { keys: (JsonWebKey & { kid?: string })[] }): Promise<Omit<KeyRing, "hmac">> {
  if (!Array.isArray(jwks.keys) || jwks.keys.length === 0) throw new Error("JWT_PRIVATE_KEYS has no keys");
  const verifiers = new Map<string, VerifyKey>();
  let signer: KeyRing["signer"] = null;
  for (const jwk of jwks.keys) {
    if (!jwk.kid) throw new Error("every key in JWT_PRIVATE_KEYS needs a kid");
    if (verifiers.has(jwk.kid)) throw new Error(`duplicate kid in JWT_PRIVATE_KEYS: ${jwk.kid}`);
    const alg = algOf(jwk);
    const pub = publicPart(jwk);
    const key = await crypto.subtle.importKey("jwk", pub, ALGS[alg].import, true, ["verify"]);
    verifiers.set(jwk.kid, { kid: jwk.kid, alg, key, publicJwk: { ...pub, kid: jwk.kid, alg, use: "sig" } });
    if (!signer) {
      if (!jwk.d) throw new Error("the first key in JWT_PRIVATE_KEYS must be a private key");
      const { key_ops: _ops, ...priv } = jwk as JsonWebKey & { key_ops?: string[] };
      const skey = await crypto.subtle.importKey("jwk", { ...priv, alg: undefined, ext: true }, ALGS[alg].import, false, ["sign"]);
      signer = { kid: jwk.kid, alg, key: skey };
    }
  }
  return { signer, verifiers, jwks: { keys: [...verifiers.values()].map((v) => v.publicJwk) } };
}

/** Generate a private JWK set (used by `scripts/dev.mjs` through the same code path, and by tests). */
export async function generateKeySet(alg: AsymAlg = "EdDSA"): Promise<{ keys: (JsonWebKey & { kid: string })[] }> {
  const pair = (await crypto.subtle.generateKey(ALGS[alg].import as Parameters<SubtleCrypto["generateKey"]>[0], true, [
    "sign",
    "verify",
  ])) as CryptoKeyPair;
  const jwk = (await crypto.subtle.exportKey("jwk", pair.privateKey)) as JsonWebKey;
  const kid = `${alg.toLowerCase()}-${Date.now().toString(36)}-${Array.from(crypto.getRandomValues(new Uint8Array(4)), (b) => b.toString(16).padStart(2, "0")).join("")}`;
  return { keys: [{ ...jwk, kid, alg }] };
}

function parseKeySet(source: string): { keys: (JsonWebKey & { kid?: string })[] } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(source);
  } catch {
    throw new Error('JWT_PRIVATE_KEYS is not valid JSON (expected a JWK set: {"keys":[...]})');
  }
  if (!parsed || typeof parsed !== "object" || !Array.isArray((parsed as { keys?: unknown }).keys))
    throw new Error('JWT_PRIVATE_KEYS must be a JWK set: {"keys":[...]}');
  return parsed as { keys: (JsonWebKey & { kid?: string })[] };
}

const rings = new Map<string, Promise<KeyRing>>();
/** Per-isolate generated key sets (development and tests only), one per algorithm. */
const generated = new Map<AsymAlg, Promise<string>>();

export function getKeyRing(config: Config): Promise<KeyRing> {
  const cacheKey = `${config.JWT_PRIVATE_KEYS ?? ""}|${config.JWT_ALG}|${config.LEGACY_HS256 ? config.JWT_SECRET : ""}`;
  let ring = rings.get(cacheKey);
  if (!ring) {
    ring = (async () => {
      const legacy = config.LEGACY_HS256 && !!config.JWT_SECRET;
      let source = config.JWT_PRIVATE_KEYS;
      if (!source && !(legacy && config.ENVIRONMENT === "production")) {
        if (config.ENVIRONMENT === "production") throw new Error("JWT_PRIVATE_KEYS is not set");
        let gen = generated.get(config.JWT_ALG);
        if (!gen) {
          gen = generateKeySet(config.JWT_ALG).then((s) => JSON.stringify(s));
          generated.set(config.JWT_ALG, gen);
        }
        source = await gen;
      }
      // Production in legacy mode may run without asymmetric keys: HS256 only, empty JWKS.
      const set: Omit<KeyRing, "hmac"> = source
        ? await importSet(parseKeySet(source))
        : { signer: null, verifiers: new Map(), jwks: { keys: [] } };
      const hmac =
        config.LEGACY_HS256 && config.JWT_SECRET
          ? await crypto.subtle.importKey("raw", utf8(config.JWT_SECRET), { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"])
          : null;
      return { ...set, hmac };
    })();
    ring.catch(() => rings.delete(cacheKey));
    rings.set(cacheKey, ring);
  }
  return ring;
}
