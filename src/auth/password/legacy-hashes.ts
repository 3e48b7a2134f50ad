import { pbkdf2Async } from "@noble/hashes/pbkdf2.js";
import { sha256 } from "@noble/hashes/sha2.js";
import bcrypt from "bcryptjs";
import { fromB64, timingSafeEqual, utf8 } from "../../lib/encoding";

/**
 * Legacy password hashes written by the services this API replaces, verified so their users can
 * log in once more and be re-hashed with scrypt (see accounts.ts login()):
 *
 *   Django  pbkdf2_sha256$<iterations>$<salt>$<base64 of the 32-byte PBKDF2-HMAC-SHA256>
 *   bcrypt  $2a$ / $2b$ / $2y$<cost>$<22 chars salt><31 chars hash>
 *
 * The password is checked exactly as the old system saw it: no NFKC normalisation (neither
 * Django nor bcrypt normalise), UTF-8 bytes. Malformed strings answer {ok:false, malformed:true};
 * nothing here throws.
 */
export interface LegacyResult {
  ok: boolean;
  malformed?: boolean;
  scheme: string;
}

export interface LegacyOptions {
  /**
   * Highest iteration count handed to Web Crypto (config PBKDF2_WEBCRYPTO_MAX_ITERATIONS).
   * Above it Web Crypto is treated as refusing, as deployed Workers do above 100,000
   * (workerd issue 1346). Unset: always try Web Crypto first.
   */
  pbkdf2WebCryptoMaxIterations?: number;
  /** The Web Crypto derivation, replaceable to prove the fallback (tests). */
  webCryptoPbkdf2?: Pbkdf2Derive;
}

/** PBKDF2-HMAC-SHA256 of `password` and `salt` with `iterations`, `bytes` long. */
export type Pbkdf2Derive = (password: Uint8Array, salt: Uint8Array, iterations: number, bytes: number) => Promise<Uint8Array>;

/** Web Crypto (native, fast). Throws in deployed Workers above 100,000 iterations. */
export const webCryptoPbkdf2: Pbkdf2Derive = async (password, salt, iterations, bytes) => {
  const key = await crypto.subtle.importKey("raw", password, "PBKDF2", false, ["deriveBits"]);
  const bits = await crypto.subtle.deriveBits({ name: "PBKDF2", hash: "SHA-256", salt, iterations }, key, bytes * 8);
  return new Uint8Array(bits);
};

/** Pure-JS PBKDF2 from @noble/hashes: any iteration count; yields to the event loop while it runs. */
export const noblePbkdf2: Pbkdf2Derive = (password, salt, iterations, bytes) =>
  pbkdf2Async(sha256, password, salt, { c: iterations, dkLen: bytes, asyncTick: 10 });

/** A Web Crypto derivation that refuses above `max` iterations, the way deployed Workers do. */
export function cappedWebCryptoPbkdf2(max: number, inner: Pbkdf2Derive = webCryptoPbkdf2): Pbkdf2Derive {
  return (password, salt, iterations, bytes) =>
    iterations > max
      ? Promise.reject(new DOMException(`PBKDF2 iteration counts above ${max} are not supported`, "NotSupportedError"))
      : inner(password, salt, iterations, bytes);
}

/**
 * PBKDF2-HMAC-SHA256 through Web Crypto, falling back to noble when Web Crypto refuses.
 * Returns the bytes and which implementation produced them.
 */
export async function pbkdf2Sha256(
  password: Uint8Array,
  salt: Uint8Array,
  iterations: number,
  bytes: number,
  webCrypto: Pbkdf2Derive = webCryptoPbkdf2,
): Promise<{ key: Uint8Array; via: "webcrypto" | "noble" }> {
  try {
    return { key: await webCrypto(password, salt, iterations, bytes), via: "webcrypto" };
  } catch {
    return { key: await noblePbkdf2(password, salt, iterations, bytes), via: "noble" };
  }
}

/** Django's own limits are far below; a larger count in the table is treated as malformed (it would hang the isolate). */
const PBKDF2_MAX_ITERATIONS = 10_000_000;
const DJANGO_PBKDF2 = /^pbkdf2_sha256\$(\d{1,8})\$([^$]+)\$([A-Za-z0-9+/]{43}=)$/;
const DJANGO_KEY_BYTES = 32;

/** bcrypt costs above this are refused as malformed: 2^17 rounds is minutes of pure-JS CPU. */
const BCRYPT_MAX_COST = 16;
const BCRYPT = /^\$2([aby])\$(\d\d)\$[./A-Za-z0-9]{53}$/;

/** The shape of a hash this service can verify, current or legacy (for the import command too). */
function legacyScheme(stored: string): "pbkdf2_sha256" | "bcrypt" | null {
  if (stored.startsWith("pbkdf2_sha256$")) return "pbkdf2_sha256";
  if (/^\$2[a-z]?\$/.test(stored)) return "bcrypt";
  return null;
}

async function verifyDjangoPbkdf2(password: string, stored: string, opts: LegacyOptions): Promise<LegacyResult> {
  const scheme = "pbkdf2_sha256";
  const m = DJANGO_PBKDF2.exec(stored);
  if (!m) return { ok: false, malformed: true, scheme };
  const iterations = Number(m[1]);
  if (iterations < 1 || iterations > PBKDF2_MAX_ITERATIONS) return { ok: false, malformed: true, scheme };
  const expected = fromB64(m[3]);
  if (expected.length !== DJANGO_KEY_BYTES) return { ok: false, malformed: true, scheme };
  const webCrypto =
    opts.pbkdf2WebCryptoMaxIterations !== undefined
      ? cappedWebCryptoPbkdf2(opts.pbkdf2WebCryptoMaxIterations, opts.webCryptoPbkdf2)
      : (opts.webCryptoPbkdf2 ?? webCryptoPbkdf2);
  // Django: force_bytes(password), force_bytes(salt): UTF-8 of both strings, no normalisation.
  const { key } = await pbkdf2Sha256(utf8(password), utf8(m[2]), iterations, DJANGO_KEY_BYTES, webCrypto);
  return { ok: timingSafeEqual(key, expected), scheme };
}

async function verifyBcrypt(password: string, stored: string): Promise<LegacyResult> {
  const scheme = "bcrypt";
  const m = BCRYPT.exec(stored);
  if (!m) return { ok: false, malformed: true, scheme };
  const cost = Number(m[2]);
  if (cost < 4 || cost > BCRYPT_MAX_COST) return { ok: false, malformed: true, scheme };
  // bcryptjs works on the UTF-8 bytes and, like OpenBSD and crypt_blowfish, uses only the first
  // 72 of them (tested with the published "chars after 72 are ignored" vector). $2y$ (PHP) is
  // the same algorithm as $2b$; $2a$ is taken as crypt_blowfish's correct $2a$.
  return { ok: await bcrypt.compare(password, stored), scheme };
}

/**
 * Verify `password` against a legacy hash. Returns null when the string is not a legacy format
 * at all (the caller then treats it as unknown).
 */
export async function verifyLegacyHash(password: string, stored: string, opts: LegacyOptions = {}): Promise<LegacyResult | null> {
  const scheme = legacyScheme(stored);
  if (!scheme) return null;
  try {
    return scheme === "pbkdf2_sha256" ? await verifyDjangoPbkdf2(password, stored, opts) : await verifyBcrypt(password, stored);
  } catch {
    return { ok: false, malformed: true, scheme };
  }
}
