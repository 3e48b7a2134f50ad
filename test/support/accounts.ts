import { withDb } from "./db";
import { codeIn, mailsTo } from "./mail";
import { type CallOptions, call, json, testEnv } from "./worker";

let counter = 0;
export const uniqueEmail = (prefix = "user") =>
  `${prefix}-${Date.now().toString(36)}-${++counter}-${Math.random().toString(36).slice(2, 7)}@example.com`;

export const PASSWORD = "Correct-Horse-Battery-9";

/** A code that is surely not `code`. */
export const wrongCode = (code: string, k = 1) => String((Number(code) + k) % 1_000_000).padStart(6, "0");

export type Pair = { access_token: string; refresh_token: string; token_type: string; expires_in: number };

export interface Registered extends Pair {
  user: {
    id: string;
    email: string;
    full_name: string;
    role: string;
    avatar: string | null;
    email_verified: boolean;
    locale: string | null;
  };
  email: string;
  password: string;
}

export async function registerUser(
  overrides: Partial<{ full_name: string; email: string; password: string; role: string; locale: string }> = {},
  opts: CallOptions = {},
): Promise<Registered> {
  const body = { full_name: "Test User", email: uniqueEmail(), password: PASSWORD, role: "student", ...overrides };
  const res = await call("/auth/register", { body, ...opts });
  if (res.status !== 201) throw new Error(`register failed: ${res.status} ${await res.text()}`);
  const data = await json(res);
  return { ...data, email: body.email, password: body.password };
}

/** POST /auth/login, any outcome. */
export const loginAs = (email: string, password: string, opts: CallOptions = {}) =>
  call("/auth/login", { body: { email, password }, ...opts });

/** POST /auth/login that must succeed: the pair and the user. */
export async function login(email: string, password = PASSWORD, opts: CallOptions = {}) {
  const res = await loginAs(email, password, opts);
  if (res.status !== 200) throw new Error(`login failed: ${res.status} ${await res.text()}`);
  return (await json(res)) as Pair & { user: { id: string } };
}

/** POST /auth/refresh: status and body. */
export async function refresh(refresh_token: string, opts: CallOptions = {}) {
  const res = await call("/auth/refresh", { body: { refresh_token }, ...opts });
  return { status: res.status, body: await json(res) };
}

/** GET /auth/me: just the status. */
export async function me(token: string, opts: CallOptions = {}) {
  return (await call("/auth/me", { token, ...opts })).status;
}

/** HMAC-SHA-256 hex, as the Worker keys its throttles and codes (with the test AUTH_SECRET). */
async function hmacHex(message: string, secret = String(testEnv.AUTH_SECRET)): Promise<string> {
  const enc = new TextEncoder();
  const key = await crypto.subtle.importKey("raw", enc.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return [...new Uint8Array(await crypto.subtle.sign("HMAC", key, enc.encode(message)))]
    .map((b) => b.toString(16).padStart(2, "0"))
    .join("");
}

/** The guesses an email's code guess budget holds (src/auth/codes/one-time-codes.ts; 0 when there is none). */
export async function codeGuesses(email: string): Promise<number> {
  const key = `otp-guess:${await hmacHex(`otp-guess:${email.trim().toLowerCase()}`)}`;
  return withDb(async (sql) => (await sql`select failures from auth_throttles where key = ${key}`)[0]?.failures ?? 0);
}

/** The stored failure count of an email's login throttle (0 when there is none). */
export async function loginFailures(email: string): Promise<number> {
  const key = `login:${await hmacHex(`login:${email.trim().toLowerCase()}`)}`;
  return withDb(async (sql) => (await sql`select failures from auth_throttles where key = ${key}`)[0]?.failures ?? 0);
}

/** POST /auth/verify-email with the code of the newest verification mail to `email`; must succeed. */
export async function verifyEmailOf(email: string, opts: CallOptions = {}) {
  // By the mail's kind, not its subject: the account's language decides the subject.
  const [mail] = await mailsTo(email, "email_verification");
  if (!mail) throw new Error(`no verification mail to ${email}`);
  const code = codeIn(mail);
  const res = await call("/auth/verify-email", { body: { email, code }, ...opts });
  if (res.status !== 200) throw new Error(`verify-email failed: ${res.status} ${await res.text()}`);
  return (await json(res)) as { user: Registered["user"] };
}

/**
 * Verify the account's address with its mailed code, then log in again: the first proof of the
 * mailbox is a change of owner that ends every session (src/auth/account/owner.ts). The account's
 * tokens are replaced by the new session's (in place, and returned).
 */
export async function verifyAndLogIn(u: Registered, opts: CallOptions = {}): Promise<Registered> {
  await verifyEmailOf(u.email, opts);
  const { access_token, refresh_token } = await login(u.email, u.password, opts);
  return Object.assign(u, { access_token, refresh_token, user: { ...u.user, email_verified: true } });
}
