import type { Config } from "../../config";
import { type Message, msg } from "../../i18n/messages";
import { fromB64, randomBytes, timingSafeEqual, utf8 } from "../../lib/encoding";
import { isolateMemo } from "../../lib/isolate-memo";
import { SCRYPT_FORMAT, UNUSABLE_PASSWORD_PREFIX } from "./formats";
import { type LegacyOptions, verifyLegacyHash } from "./legacy-hashes";
import { scryptWasm } from "./scrypt-wasm";

/**
 * Password hashing: scrypt in a self-describing PHC-style string
 *   $scrypt$ln=14,r=8,p=5$<salt, base64>$<hash, base64>
 * so parameters can be raised later; older strings still verify and are flagged for rehash.
 */
export interface ScryptParams {
  logN: number;
  r: number;
  p: number;
}

/** The configured parameters for new hashes. */
export const scryptParams = (c: Pick<Config, "SCRYPT_LOG_N" | "SCRYPT_R" | "SCRYPT_P">): ScryptParams => ({
  logN: c.SCRYPT_LOG_N,
  r: c.SCRYPT_R,
  p: c.SCRYPT_P,
});

/** The length policy of a new password, in characters after NFKC. */
const PASSWORD_MIN = 8;
export const PASSWORD_MAX = 256;
const SALT_BYTES = 16;
const KEY_BYTES = 32;

/** NFKC normalisation; never trimmed or truncated. */
export const normalizePassword = (pw: string) => pw.normalize("NFKC");

/** Policy for a password being set (register, reset, change). Returns a message or null. */
export function passwordPolicyProblem(pw: string): Message | null {
  const n = [...normalizePassword(pw)].length;
  if (n < PASSWORD_MIN) return msg("validation.password_too_short", { min: PASSWORD_MIN });
  if (n > PASSWORD_MAX) return msg("validation.password_too_long", { max: PASSWORD_MAX });
  return null;
}

/**
 * Every password hash of the app (register, login, the dummy hash for unknown emails, reset,
 * change) is scrypt-wasm.ts: sliced so other requests of the isolate keep being served, at about
 * native speed. node:crypto's scrypt is as fast but holds the isolate's thread for a whole hash.
 */
export function scrypt(pw: Uint8Array, salt: Uint8Array, params: ScryptParams): Promise<Uint8Array> {
  return scryptWasm(pw, salt, { N: 2 ** params.logN, r: params.r, p: params.p, dkLen: KEY_BYTES });
}

const b64 = (u8: Uint8Array) => btoa(String.fromCharCode(...u8)).replace(/=+$/, "");

export async function hashPassword(password: string, params: ScryptParams): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const key = await scrypt(utf8(normalizePassword(password)), salt, params);
  return `$scrypt$ln=${params.logN},r=${params.r},p=${params.p}$${b64(salt)}$${b64(key)}`;
}

export interface VerifyResult {
  ok: boolean;
  /** The hash is valid but not in the current scheme and parameters: store a new one. */
  needsRehash: boolean;
  /** The stored string could not be parsed (logged once by the caller). */
  malformed?: boolean;
  scheme: string;
}

/** scrypt needs 128 * N * r bytes; beyond this a stored string is malformed, not a reason to exhaust the isolate. */
const SCRYPT_MAX_MEM = 256 * 1024 * 1024;

export async function verifyPassword(
  password: string,
  stored: string,
  current: ScryptParams,
  legacyOptions: LegacyOptions = {},
): Promise<VerifyResult> {
  if (stored.startsWith(UNUSABLE_PASSWORD_PREFIX)) {
    // The same work as a wrong password: the answer's timing does not tell that the account has none.
    await verifyPassword(password, await dummyHash(current), current);
    return { ok: false, needsRehash: false, scheme: "none" };
  }
  const m = SCRYPT_FORMAT.exec(stored);
  if (m) {
    const params = { logN: +m[1], r: +m[2], p: +m[3] };
    const malformed = { ok: false, needsRehash: false, malformed: true, scheme: "scrypt" };
    if (params.logN < 1 || params.logN > 20 || params.r < 1 || params.p < 1 || 128 * 2 ** params.logN * params.r > SCRYPT_MAX_MEM)
      return malformed;
    try {
      const expected = fromB64(m[5]);
      const key = await scrypt(utf8(normalizePassword(password)), fromB64(m[4]), params);
      const ok = timingSafeEqual(key.subarray(0, expected.length), expected) && expected.length === KEY_BYTES;
      const same = params.logN === current.logN && params.r === current.r && params.p === current.p;
      return { ok, needsRehash: ok && !same, scheme: "scrypt" };
    } catch {
      return malformed; // e.g. base64 of an impossible length
    }
  }
  const legacy = await verifyLegacyHash(password, stored, legacyOptions);
  if (legacy) return { ok: legacy.ok, needsRehash: legacy.ok, malformed: legacy.malformed, scheme: legacy.scheme };
  return { ok: false, needsRehash: false, malformed: true, scheme: "unknown" };
}

/**
 * A hash to verify against when the account does not exist, so that an unknown email costs
 * the same time as a wrong password. Made once per isolate and parameter set.
 */
export const dummyHash = isolateMemo(
  (params: ScryptParams) => hashPassword(b64(randomBytes(18)), params),
  (params) => `${params.logN},${params.r},${params.p}`,
);
