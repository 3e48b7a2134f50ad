// State for the bench scenarios of the account flows (scripts/bench/scenarios.ts SCENARIOS): email
// verification, the second factor, the admin API, social sign-in, sign-in by emailed code, passkeys and
// service clients. Everything goes through the
// Worker's own endpoints and the local stand-ins (mail capture, OpenID provider), as a client
// would; the only database write is promoting one account to admin (no endpoint grants it).
//
// Codes are single use, so those flows cannot loop over a few users for a fixed time: each load
// run gets a batch made just before it (and runs until the batch is used up).

import crypto from "node:crypto";
import { decodeBase32IgnorePadding } from "@oslojs/encoding";
import { generateHOTP } from "@oslojs/otp";
import postgres from "postgres";
import { SoftwareAuthenticator } from "../../test/support/software-authenticator.ts";
import type { CapturedMail } from "../stack/mail-capture.ts";

const STEP_S = 30;
const currentStep = () => Math.floor(Date.now() / 1000 / STEP_S);
const totp = (secret: string, step: number) => generateHOTP(decodeBase32IgnorePadding(secret), BigInt(step), 6);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** An answer of the API: its status and its JSON body (or text). */
export interface ApiAnswer {
  status: number;
  data: any;
}

/** What the flows need from the bench: the API, the local stand-ins and a counter for unique emails. */
export interface FlowContext {
  api(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<ApiAnswer>;
  pool<T, R>(items: T[], concurrency: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]>;
  runId: string;
  seq: number;
  mailUrl: string;
  oidcUrl: string;
  dbUrl: string;
  password: string;
}

/** An account with TOTP confirmed, and the last TOTP step it used. */
export interface MfaUser {
  email: string;
  id: string;
  secret: string;
  lastStep: number;
}

function must(r: ApiAnswer, status: number, what: string) {
  if (r.status !== status) throw new Error(`bench setup: ${what} answered ${r.status} ${JSON.stringify(r.data)}`);
  return r.data;
}

const newEmail = (ctx: FlowContext, kind: string) => `bench-${ctx.runId}-${kind}-${ctx.seq++}@example.com`;

async function register(ctx: FlowContext, kind: string) {
  const email = newEmail(ctx, kind);
  const body = { full_name: "Bench Flow", email, password: ctx.password, role: "student" };
  let r = await ctx.api("POST", "/auth/register", body);
  // Setup only: once more after a 5xx (a shed 503 after the hash-bound runs, or a 500 seen once on the busy machine).
  if (r.status >= 500) {
    console.log(`  (POST /auth/register answered ${r.status} ${JSON.stringify(r.data).slice(0, 120)}; sent again in 2 s)`);
    await sleep(2000);
    r = await ctx.api("POST", "/auth/register", body);
  }
  return { email, ...must(r, 201, "POST /auth/register") };
}

/**
 * The code of the mail of `category` (its tag) sent to `email`: the mail goes out after the answer,
 * so poll for up to `waitMs`; null when none came.
 */
async function findMailedCode(ctx: FlowContext, email: string, category: string, waitMs: number) {
  for (const until = Date.now() + waitMs; ; ) {
    const res = await fetch(`${ctx.mailUrl}/emails?to=${encodeURIComponent(email)}`);
    const { data } = (await res.json()) as { data: CapturedMail[] };
    const mail = data.find((m) => m.tags?.some((t) => t.name === "category" && t.value === category));
    const code = mail && /code is: (\d{6})/.exec(mail.text ?? "")?.[1];
    if (code) return code;
    if (Date.now() > until) return null;
    await sleep(100);
  }
}

/** The verification code mailed to `email`. */
async function mailedCode(ctx: FlowContext, email: string) {
  const code = await findMailedCode(ctx, email, "email_verification", 10_000);
  if (!code) throw new Error(`bench setup: no verification mail reached ${email}`);
  return code;
}

/** `n` new accounts (registered through the API, not verified): their emails. */
const newAccounts = (ctx: FlowContext, n: number, kind: string) =>
  ctx.pool(Array.from({ length: n }), 2, async () => (await register(ctx, kind)).email);

/**
 * `n` new accounts whose address is verified as a user verifies it (registered, then POST
 * /auth/verify-email with the code mailed at registration, read from the mail capture): their
 * emails. That first proof of the mailbox is the change of owner, so later proofs are not.
 */
export const newVerifiedAccounts = (ctx: FlowContext, n: number, kind: string) =>
  ctx.pool(Array.from({ length: n }), 2, async () => {
    const { email } = await register(ctx, kind);
    must(await ctx.api("POST", "/auth/verify-email", { email, code: await mailedCode(ctx, email) }), 200, "POST /auth/verify-email");
    return email;
  });

/** `n` new accounts (registered through the API, not verified): their ids, each with the role it has (student). */
export const newAccountIds = (ctx: FlowContext, n: number, kind: string) =>
  ctx.pool(Array.from({ length: n }), 2, async () => ({ id: (await register(ctx, kind)).user.id as string, role: "student" }));

/** `n` new accounts (registered through the API, not verified): their access tokens. */
export const newSessions = (ctx: FlowContext, n: number, kind: string) =>
  ctx.pool(Array.from({ length: n }), 2, async () => (await register(ctx, kind)).access_token as string);

/** `n` unverified accounts and their mailed codes: { email, code } each. */
export const verifyEmailBatch = (ctx: FlowContext, n: number) =>
  ctx.pool(Array.from({ length: n }), 2, async () => {
    const { email } = await register(ctx, "verify");
    return { email, code: await mailedCode(ctx, email) };
  });

// --- Second factor -------------------------------------------------------------------------

/**
 * A registered account with TOTP confirmed: { email, secret, lastStep }. A factor is added only to
 * a verified address, and confirming it takes the current password.
 */
async function mfaUser(ctx: FlowContext, kind = "mfa"): Promise<MfaUser> {
  const reg = await register(ctx, kind);
  must(
    await ctx.api("POST", "/auth/verify-email", { email: reg.email, code: await mailedCode(ctx, reg.email) }),
    200,
    "POST /auth/verify-email",
  );
  // The first proof of the mailbox ends every session made before it (a change of owner): sign in again.
  const login = must(await ctx.api("POST", "/auth/login", { email: reg.email, password: ctx.password }), 200, "POST /auth/login");
  const auth = { authorization: `Bearer ${login.access_token}` };
  const { secret } = must(await ctx.api("POST", "/auth/mfa/totp/enroll", undefined, auth), 200, "POST /auth/mfa/totp/enroll");
  const step = currentStep();
  const confirm = { code: totp(secret, step), current_password: ctx.password };
  must(await ctx.api("POST", "/auth/mfa/totp/confirm", confirm, auth), 200, "POST /auth/mfa/totp/confirm");
  return { email: reg.email, id: reg.user.id, secret, lastStep: step };
}

export const mfaUsers = (ctx: FlowContext, n: number) => ctx.pool(Array.from({ length: n }), 2, () => mfaUser(ctx));

/**
 * The step whose code every user of `users` can still use once, for requests sent within the
 * next minute: the next step (the window accepts the current step ± 1), once each user's last
 * used step is behind it (at most one step's wait).
 */
async function nextUsableStep(users: MfaUser[]) {
  const last = Math.max(...users.map((u) => u.lastStep));
  while (currentStep() + 1 <= last) await sleep(1000);
  return currentStep() + 1;
}

/** For each user a fresh mfa_token (a password login) and a code of a step not used yet: { mfa_token, code }. */
export async function mfaVerifyBatch(ctx: FlowContext, users: MfaUser[]) {
  const tokens = await ctx.pool(users, 2, async (u) => {
    const body = must(await ctx.api("POST", "/auth/login", { email: u.email, password: ctx.password }), 200, "POST /auth/login");
    if (body.status !== "mfa_required") throw new Error("bench setup: an MFA account logged in without a second factor");
    return body.mfa_token as string;
  });
  const step = await nextUsableStep(users);
  for (const u of users) u.lastStep = step;
  return users.map((u, i) => ({ mfa_token: tokens[i], code: totp(u.secret, step) }));
}

/** An admin's session: the account (promoted in the database, TOTP confirmed), its access token and when it signed in. */
export interface AdminSession {
  user: MfaUser;
  access: string;
  signedInAt: number;
}

/**
 * An admin signed in with password and TOTP, reusing `current` while its access token is young:
 * under 10 minutes (ACCESS_TOKEN_TTL is 15), or under 5 with `recent` (changes need a login within
 * RECENT_AUTH_MAX_AGE, 10 minutes). A new sign-in may wait up to a TOTP step for an unused code.
 */
export async function adminSession(ctx: FlowContext, current?: AdminSession, { recent = false } = {}): Promise<AdminSession> {
  if (current && Date.now() - current.signedInAt < (recent ? 5 : 10) * 60_000) return current;
  let user = current?.user;
  if (!user) {
    user = await mfaUser(ctx, "admin");
    const sql = postgres(ctx.dbUrl, { max: 1, onnotice: () => {} });
    try {
      await sql`update users set role = 'admin' where id = ${user.id}`;
    } finally {
      await sql.end();
    }
  }
  const [proof] = await mfaVerifyBatch(ctx, [user]);
  const signedInAt = Date.now();
  const access = must(await ctx.api("POST", "/auth/mfa/verify", proof), 200, "POST /auth/mfa/verify").access_token;
  return { user, access, signedInAt };
}

// --- Sign-in by emailed code ---------------------------------------------------------------

/**
 * `n` accounts with a live sign-in code and that code: { email, code }. First the accounts in
 * `requested` (they asked for one in the request run: their code is in the mail capture), then new
 * accounts that ask for one now: with their address verified (`verified`, the common sign-in by
 * code), or not (the code is then the first proof of the mailbox: a change of owner).
 */
export async function signInCodeBatch(ctx: FlowContext, requested: string[], n: number, { verified }: { verified: boolean }) {
  const found = await ctx.pool(requested.slice(0, n), 4, async (email) => {
    const code = await findMailedCode(ctx, email, "sign_in_code", 3_000);
    return code ? { email, code } : null;
  });
  const out = found.filter((x): x is { email: string; code: string } => x !== null);
  const more = await (verified ? newVerifiedAccounts : newAccounts)(ctx, n - out.length, verified ? "code" : "code-first");
  await ctx.pool(more, 2, async (email) => must(await ctx.api("POST", "/auth/sign-in/code", { email }), 202, "POST /auth/sign-in/code"));
  for (const email of more) {
    const code = await findMailedCode(ctx, email, "sign_in_code", 10_000);
    if (!code) throw new Error(`bench setup: no sign-in code reached ${email}`);
    out.push({ email, code });
  }
  return out;
}

// --- Social sign-in -------------------------------------------------------------------------

const sha256hex = (s: string) => crypto.createHash("sha256").update(s).digest("hex");

/** A Google ID token from the local provider for the app's client id, with SHA-256(nonce) in it, and the raw nonce. */
async function googleIdToken(ctx: FlowContext, clientId: string, account: { sub: string; email: string }) {
  const nonce = crypto.randomBytes(16).toString("hex");
  const res = await fetch(`${ctx.oidcUrl}/_control/mint`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      provider: "google",
      claims: { aud: clientId, azp: clientId, ...account, email_verified: true, nonce: sha256hex(nonce) },
    }),
  });
  if (res.status !== 200) throw new Error(`bench setup: the OpenID provider's mint answered ${res.status}`);
  return { id_token: ((await res.json()) as { id_token: string }).id_token, nonce };
}

/** `n` Google accounts, made by a first native sign-in each: { sub, email }. */
export const socialAccounts = (ctx: FlowContext, n: number, clientId: string) =>
  ctx.pool(Array.from({ length: n }), 4, async (_, i) => {
    const account = { sub: `bench-${ctx.runId}-${i}`, email: newEmail(ctx, "social") };
    const first = await googleIdToken(ctx, clientId, account);
    must(await ctx.api("POST", "/auth/oauth/google/id-token", first), 200, "POST /auth/oauth/google/id-token (first sign-in)");
    return account;
  });

/**
 * `requests` sign-ins of those accounts as a native app makes them: each a fresh ID token and raw
 * nonce (an ID token is accepted once), so the measured requests are sign-ins of existing accounts.
 */
export const socialSignInBatch = (ctx: FlowContext, accounts: { sub: string; email: string }[], requests: number, clientId: string) =>
  ctx.pool(Array.from({ length: requests }), 4, (_, i) => googleIdToken(ctx, clientId, accounts[i % accounts.length]));

// --- Passkeys -------------------------------------------------------------------------------

/**
 * An account with one passkey on its own software authenticator (the tests' one: its own keys,
 * CBOR and signatures, in this process), as a device of a user: registered, address verified,
 * the passkey added with the current password. ES256, as the platforms' passkeys are; a counting
 * authenticator, so every sign-in also moves the stored counter forward.
 */
async function passkeyDevice(ctx: FlowContext, origin: string): Promise<SoftwareAuthenticator> {
  const reg = await register(ctx, "passkey");
  must(
    await ctx.api("POST", "/auth/verify-email", { email: reg.email, code: await mailedCode(ctx, reg.email) }),
    200,
    "POST /auth/verify-email",
  );
  // The first proof of the mailbox ends every session made before it (a change of owner): sign in again.
  const login = must(await ctx.api("POST", "/auth/login", { email: reg.email, password: ctx.password }), 200, "POST /auth/login");
  const auth = { authorization: `Bearer ${login.access_token}` };
  const { options } = must(await ctx.api("POST", "/auth/passkeys/register/options", {}, auth), 200, "POST /auth/passkeys/register/options");
  const device = new SoftwareAuthenticator({ origin, counting: true });
  const { credential: _credential, ...response } = await device.register(options, { alg: "ES256" });
  const verify = { response, current_password: ctx.password };
  must(await ctx.api("POST", "/auth/passkeys/register/verify", verify, auth), 201, "POST /auth/passkeys/register/verify");
  return device;
}

export const passkeyDevices = (ctx: FlowContext, n: number, origin: string) =>
  ctx.pool(Array.from({ length: n }), 2, () => passkeyDevice(ctx, origin));

/**
 * For each device a sign-in as a browser makes it: login options (a challenge_token) and the
 * device's answer to them: { challenge_token, response }. Each device answers once per batch, so
 * its counter only grows in the order the batch is sent.
 */
export const passkeyLoginBatch = (ctx: FlowContext, devices: SoftwareAuthenticator[]) =>
  ctx.pool(devices, 4, async (device) => {
    const { options, challenge_token } = must(
      await ctx.api("POST", "/auth/passkeys/login/options", {}),
      200,
      "POST /auth/passkeys/login/options",
    );
    return { challenge_token, response: await device.authenticate(options) };
  });

// --- Service clients ------------------------------------------------------------------------

/** A service client with `scopes`, made through the admin API (docs/services.md): its HTTP Basic Authorization header. */
export async function serviceClient(ctx: FlowContext, admin: AdminSession, scopes: string[]) {
  const body = must(
    await ctx.api(
      "POST",
      "/auth/admin/service-clients",
      { name: `Bench ${ctx.runId} ${ctx.seq++}`, scopes },
      { authorization: `Bearer ${admin.access}` },
    ),
    201,
    "POST /auth/admin/service-clients",
  );
  return `Basic ${Buffer.from(`${body.client.client_id}:${body.client_secret}`).toString("base64")}`;
}
