import { encodeBase32NoPadding } from "@oslojs/encoding";
import { createTOTPKeyURI, verifyHOTP } from "@oslojs/otp";
import { randomBytes } from "../../lib/encoding";

/**
 * TOTP (RFC 6238) with what every authenticator app reads: HMAC-SHA-1, 6 digits, 30-second steps.
 * HOTP itself comes from @oslojs/otp; this module only picks the steps to try, so the clock is
 * the caller's (deps.now()) and the accepted step is known (to store it, see factors.ts).
 */
export const TOTP_PERIOD = 30;
const TOTP_DIGITS = 6;
/** Steps accepted either side of the current one (clock drift, a code typed as it rolls over). */
const TOTP_WINDOW = 1;

/** A new shared secret: 160 random bits, the length RFC 4226 recommends for HMAC-SHA-1. */
export const newTotpSecret = (): Uint8Array => randomBytes(20);

/** The secret as people type it into an app: base32 (RFC 4648), no padding. */
export const secretForDisplay = (secret: Uint8Array) => encodeBase32NoPadding(secret);

/**
 * The otpauth:// URI an authenticator app reads (as a QR code). The library writes the query with
 * URLSearchParams, which turns a space into "+", and Google Authenticator shows that "+" literally
 * (oslo-project/otp#8): the key URI format asks for %20. A literal "+" is already "%2B" there.
 */
export function totpUri(issuer: string, accountName: string, secret: Uint8Array): string {
  const uri = createTOTPKeyURI(issuer, accountName, secret, TOTP_PERIOD, TOTP_DIGITS);
  const q = uri.indexOf("?");
  return uri.slice(0, q) + uri.slice(q).replace(/\+/g, "%20");
}

const stepAt = (now: Date) => Math.floor(now.getTime() / 1000 / TOTP_PERIOD);

/** A code as typed: digits, possibly grouped with a space ("123 456"). */
const normalizeTotpCode = (code: string) => code.replace(/\s+/g, "");

/**
 * The step whose code `code` is, within the window around `now`, or null. Every step of the
 * window is computed and compared in constant time, whichever matches, so the timing says
 * nothing about which (if any) did. Of two matching steps (a 1 in 10^6 coincidence) the later wins.
 */
export function matchingStep(secret: Uint8Array, code: string, now: Date): number | null {
  const typed = normalizeTotpCode(code);
  const current = stepAt(now);
  let found: number | null = null;
  for (let step = current - TOTP_WINDOW; step <= current + TOTP_WINDOW; step++) {
    if (verifyHOTP(secret, BigInt(step), TOTP_DIGITS, typed)) found = step;
  }
  return found;
}
