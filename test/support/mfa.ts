import { expect } from "vitest";
import { PASSWORD, type Registered, registerUser, verifyEmailOf } from "./accounts";
import type { fakeClock } from "./clock";
import { call, json } from "./worker";

/**
 * Two-factor helpers. The TOTP codes here come from an implementation of RFC 4226/6238 written
 * for the tests (Web Crypto HMAC, dynamic truncation), independent of the library the Worker uses,
 * and checked against the RFCs' own test vectors (test/auth/mfa/totp-vectors.test.ts).
 */

const BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/** RFC 4648 base32 (no padding needed), as authenticator apps read the secret. */
export function base32Decode(text: string): Uint8Array {
  const clean = text.replace(/=+$/, "").toUpperCase();
  const out: number[] = [];
  let bits = 0;
  let value = 0;
  for (const ch of clean) {
    const v = BASE32.indexOf(ch);
    if (v < 0) throw new Error(`not base32: ${ch}`);
    value = (value << 5) | v;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return new Uint8Array(out);
}

export type HashName = "SHA-1" | "SHA-256" | "SHA-512";

/** RFC 4226 HOTP: HMAC over the 8-byte big-endian counter, dynamic truncation, modulo 10^digits. */
export async function hotp(key: Uint8Array, counter: number, digits = 6, hash: HashName = "SHA-1"): Promise<string> {
  const msg = new Uint8Array(8);
  new DataView(msg.buffer).setBigUint64(0, BigInt(counter));
  const k = await crypto.subtle.importKey("raw", key, { name: "HMAC", hash }, false, ["sign"]);
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", k, msg));
  const offset = mac[mac.length - 1] & 0x0f;
  const binary = ((mac[offset] & 0x7f) << 24) | (mac[offset + 1] << 16) | (mac[offset + 2] << 8) | mac[offset + 3];
  return String(binary % 10 ** digits).padStart(digits, "0");
}

/** RFC 6238 TOTP at a time (ms): T = floor(unix seconds / period). */
export const totp = (key: Uint8Array, atMs: number, opts: { period?: number; digits?: number; hash?: HashName } = {}) =>
  hotp(key, Math.floor(atMs / 1000 / (opts.period ?? 30)), opts.digits ?? 6, opts.hash ?? "SHA-1");

type Clock = ReturnType<typeof fakeClock>;

/** The code the app shows at the clock's time, `steps` steps away. */
export const codeAt = (secret: Uint8Array, clock: Clock, steps = 0) => totp(secret, clock.now().getTime() + steps * 30_000);

/** A 6-digit code that is none of the codes of the window around the clock's time. */
export async function wrongTotp(secret: Uint8Array, clock: Clock): Promise<string> {
  const window = await Promise.all([-1, 0, 1].map((s) => codeAt(secret, clock, s)));
  for (let n = 0; ; n++) {
    const candidate = String((Number(window[1]) + 500_000 + n) % 1_000_000).padStart(6, "0");
    if (!window.includes(candidate)) return candidate;
  }
}

export interface MfaAccount {
  user: Registered;
  /** The raw secret, decoded from what enroll returned. */
  secret: Uint8Array;
  secretBase32: string;
  otpauthUri: string;
  recoveryCodes: string[];
}

/**
 * Enroll and confirm TOTP with a (recently logged-in) access token at the clock's time; the clock
 * then moves to the next step. A factor is added only to a verified address, so an unverified one
 * is verified first (with the code its registration mailed): that first proof of the mailbox ends
 * every session (a change of owner), so the account logs in again with `password` and enrolls
 * with that session, returned as `token` / `refreshToken` (the given token otherwise). Confirming
 * sends the current password (ignored by an account that has none).
 */
export async function enableMfa(
  token: string,
  clock: Clock,
  password = PASSWORD,
): Promise<Omit<MfaAccount, "user"> & { token: string; refreshToken?: string }> {
  let at = { now: clock.now, token };
  const me = await json(await call("/auth/me", at));
  let refreshToken: string | undefined;
  if (!me.user.email_verified) {
    await verifyEmailOf(me.user.email, { now: clock.now });
    const again = await json(await call("/auth/login", { body: { email: me.user.email, password }, now: clock.now }));
    at = { now: clock.now, token: again.access_token };
    refreshToken = again.refresh_token;
  }
  const enroll = await call("/auth/mfa/totp/enroll", { method: "POST", ...at });
  expect(enroll.status, await enroll.clone().text()).toBe(200);
  const { secret, otpauth_uri } = await json(enroll);
  const raw = base32Decode(secret);
  const confirm = await call("/auth/mfa/totp/confirm", { body: { code: await codeAt(raw, clock), current_password: password }, ...at });
  expect(confirm.status, await confirm.clone().text()).toBe(200);
  const { recovery_codes } = await json(confirm);
  clock.advance(30_000);
  return { secret: raw, secretBase32: secret, otpauthUri: otpauth_uri, recoveryCodes: recovery_codes, token: at.token, refreshToken };
}

/** A new account with TOTP on (registered, enrolled and confirmed at the clock's time). */
export async function mfaAccount(clock: Clock): Promise<MfaAccount> {
  const user = await registerUser({}, { now: clock.now });
  const { token, refreshToken, ...mfa } = await enableMfa(user.access_token, clock);
  // The registration's session ended with the address's verification: the account's live session is the enrolling one.
  return { user: { ...user, access_token: token, refresh_token: refreshToken ?? user.refresh_token }, ...mfa };
}

/** POST /auth/login that must answer mfa_required: the mfa_token. */
export async function mfaToken(email: string, clock: Clock, password = PASSWORD): Promise<string> {
  const res = await call("/auth/login", { body: { email, password }, now: clock.now });
  expect(res.status).toBe(200);
  const body = await json(res);
  expect(body).toMatchObject({ status: "mfa_required", methods: ["totp", "recovery_code"] });
  expect(body.access_token).toBeUndefined();
  return body.mfa_token;
}

/** POST /auth/mfa/verify, any outcome. */
export const verify = (body: { mfa_token: string; code?: string; recovery_code?: string }, clock: Clock) =>
  call("/auth/mfa/verify", { body, now: clock.now });

/** Log in all the way (password, then a fresh TOTP code); the clock moves to the next step after. */
export async function loginWithMfa(account: MfaAccount, clock: Clock) {
  const token = await mfaToken(account.user.email, clock);
  const res = await verify({ mfa_token: token, code: await codeAt(account.secret, clock) }, clock);
  expect(res.status, await res.clone().text()).toBe(200);
  clock.advance(30_000);
  return json(res);
}

/** The payload of a JWT (not verified: the Worker's own checks are tested elsewhere). */
export function claimsOf(jwt: string): Record<string, any> {
  const part = jwt.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
  return JSON.parse(atob(part + "===".slice((part.length + 3) % 4)));
}
