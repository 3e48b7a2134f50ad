import * as nodeCrypto from "node:crypto";
import { scrypt as nobleScrypt, scryptAsync as nobleScryptAsync } from "@noble/hashes/scrypt.js";
import type { Config } from "../config";
import { describeError, log } from "../log";
import { fromB64, hex, randomBytes, timingSafeEqual, utf8 } from "./encoding";
import { type LegacyOptions, verifyLegacyHash } from "./legacy-hashes";

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

export const PASSWORD_MIN = 8;
export const PASSWORD_MAX = 256;
const SALT_BYTES = 16;
const KEY_BYTES = 32;

/** NFKC normalisation; never trimmed or truncated. */
export const normalizePassword = (pw: string) => pw.normalize("NFKC");

/** Policy for a password being set (register, reset, change). Returns a message or null. */
export function passwordPolicyProblem(pw: string): string | null {
  const n = [...normalizePassword(pw)].length;
  if (n < PASSWORD_MIN) return `Password must be at least ${PASSWORD_MIN} characters.`;
  if (n > PASSWORD_MAX) return `Password must be at most ${PASSWORD_MAX} characters.`;
  return null;
}

type ScryptImpl = (pw: Uint8Array, salt: Uint8Array, p: ScryptParams) => Promise<Uint8Array>;

/** The runtime's native scrypt (node:crypto in workerd with nodejs_compat, or Node). Same output as noble. */
export const nativeScrypt: ScryptImpl | undefined =
  typeof nodeCrypto.scrypt === "function"
    ? (pw, salt, p) =>
        new Promise((resolve, reject) => {
          const N = 2 ** p.logN;
          nodeCrypto.scrypt(pw, salt, KEY_BYTES, { N, r: p.r, p: p.p, maxmem: 256 * N * p.r }, (err, key) =>
            err ? reject(err) : resolve(new Uint8Array(key.buffer, key.byteOffset, key.byteLength)),
          );
        })
    : undefined;

/** Pure-JS scrypt from @noble/hashes; yields to the event loop while it runs. */
export const nobleScryptImpl: ScryptImpl = (pw, salt, p) =>
  nobleScryptAsync(pw, salt, { N: 2 ** p.logN, r: p.r, p: p.p, dkLen: KEY_BYTES, maxmem: 2 ** 32 });

export const nobleScryptSync: ScryptImpl = async (pw, salt, p) =>
  nobleScrypt(pw, salt, { N: 2 ** p.logN, r: p.r, p: p.p, dkLen: KEY_BYTES, maxmem: 2 ** 32 });

/**
 * Parameter sets the native scrypt refused in this isolate (workerd caps N*r*p at 2^20:
 * "cost exceeds maximum"). Remembered per set, so one refused set (say an old hash with odd
 * parameters) never moves the current parameters off the native path.
 */
const nativeRefused = new Set<string>();

/** scrypt with the native implementation when present and willing, noble otherwise. Same output. */
export async function scrypt(pw: Uint8Array, salt: Uint8Array, params: ScryptParams): Promise<Uint8Array> {
  const id = `${params.logN},${params.r},${params.p}`;
  if (nativeScrypt && !nativeRefused.has(id)) {
    try {
      return await nativeScrypt(pw, salt, params);
    } catch (err) {
      nativeRefused.add(id);
      log("warn", "native scrypt refused these parameters; using @noble/hashes (same output, 2-3x the CPU)", {
        params: id,
        ...describeError(err),
      });
    }
  }
  return nobleScryptImpl(pw, salt, params);
}

const b64 = (u8: Uint8Array) => btoa(String.fromCharCode(...u8)).replace(/=+$/, "");

export async function hashPassword(password: string, params: ScryptParams): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const key = await scrypt(utf8(normalizePassword(password)), salt, params);
  return `$scrypt$ln=${params.logN},r=${params.r},p=${params.p}$${b64(salt)}$${b64(key)}`;
}

/**
 * A stored password that no password matches, for accounts without one (made by create-admin
 * before its setup, anonymised accounts): Django's convention, "!" and random text, so the
 * platform's other services read it the same way.
 */
export const unusablePassword = () => `!${hex(randomBytes(20))}`;
export const isUnusablePassword = (stored: string) => stored.startsWith("!");

const SCRYPT_FORMAT = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9+/]{16,})\$([A-Za-z0-9+/]{32,})$/;

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
  // No password matches; the caller does a dummy verify, as for a malformed hash (same timing).
  if (isUnusablePassword(stored)) return { ok: false, needsRehash: false, malformed: true, scheme: "unusable" };
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
const dummies = new Map<string, Promise<string>>();
export function dummyHash(params: ScryptParams): Promise<string> {
  const k = `${params.logN},${params.r},${params.p}`;
  let h = dummies.get(k);
  if (!h) {
    h = hashPassword(b64(randomBytes(18)), params);
    dummies.set(k, h);
  }
  return h;
}
