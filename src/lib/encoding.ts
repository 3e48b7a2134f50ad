/** Small byte helpers shared by the auth modules (base64url, hex, constant-time compare). */
import { isolateMemo } from "./isolate-memo";

const enc = new TextEncoder();

export const utf8 = (s: string): Uint8Array => enc.encode(s);

export function b64url(bytes: ArrayBuffer | Uint8Array): string {
  const u8 = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  let bin = "";
  for (let i = 0; i < u8.length; i++) bin += String.fromCharCode(u8[i]);
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function fromB64url(s: string): Uint8Array {
  const b64 = s.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((s.length + 3) % 4);
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** Standard base64 (with padding), as Django and PHC strings use. */
export function fromB64(s: string): Uint8Array {
  return fromB64url(s.replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, ""));
}

export function hex(bytes: ArrayBuffer | Uint8Array): string {
  const u8 = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  let out = "";
  for (let i = 0; i < u8.length; i++) out += u8[i].toString(16).padStart(2, "0");
  return out;
}

export function randomBytes(n: number): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(n));
}

/** Constant-time equality of two byte strings (length is not secret). */
export function timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

export async function sha256Hex(input: string | Uint8Array): Promise<string> {
  const data = typeof input === "string" ? utf8(input) : input;
  return hex(await crypto.subtle.digest("SHA-256", data));
}

const hmacKey = isolateMemo((secret: string) =>
  crypto.subtle.importKey("raw", utf8(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]),
);
/** HMAC-SHA-256 with a server secret (the imported key is cached per secret). */
export async function hmac(secret: string, message: string): Promise<ArrayBuffer> {
  return crypto.subtle.sign("HMAC", await hmacKey(secret), utf8(message));
}

/** HMAC-SHA-256 with a server secret, hex encoded. */
export const hmacHex = async (secret: string, message: string) => hex(await hmac(secret, message));

/** Control characters (C0, DEL, C1) and UTF-16 surrogates without their other half. */
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/**
 * Text safe to echo to a client (field paths and messages that may quote its input): control
 * characters and lone surrogates dropped, at most `max` characters (cut with "…", never inside a
 * surrogate pair).
 */
export function boundedText(text: string, max: number): string {
  const clean = text.replace(UNPRINTABLE, "");
  if (clean.length <= max) return clean;
  const cut = clean.slice(0, max - 1);
  return `${/[\uD800-\uDBFF]$/.test(cut) ? cut.slice(0, -1) : cut}…`;
}
