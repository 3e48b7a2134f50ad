import { type ChildProcess, execFile, spawn } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { type Browser, type CDPSession, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePorts } from "../../scripts/stack/local-service.ts";
import { type MailCapture, startMailCapture } from "../../scripts/stack/mail-capture.ts";
import { type LocalPostgres, startPostgres } from "../../scripts/stack/postgres.ts";

/**
 * Passkeys in a real browser: Debian's Chromium with its virtual authenticator (the DevTools
 * WebAuthn domain: CTAP2, internal transport, resident keys, user verification), driving a small
 * page on http://localhost:<port> (a secure context) that calls the Worker under `wrangler dev`
 * (real PostgreSQL, the mail capture) with the browser's own JSON helpers:
 * PublicKeyCredential.parseCreationOptionsFromJSON / parseRequestOptionsFromJSON and toJSON().
 * Add a passkey, sign out, sign in with it (no address typed), step up a password sign-in with it,
 * sign up passkey-first, remove it and see the unknown-credential answer, then signal it.
 */
const ROOT = path.resolve(__dirname, "../..");
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const PASSWORD = "Browser-Passkey-Passphrase-7";
const hasChromium = fs.existsSync(CHROMIUM);

let dir = "";
let pg: LocalPostgres | undefined;
let mail: MailCapture | undefined;
let wrangler: ChildProcess | undefined;
let output = "";
let pageServer: http.Server | undefined;
let browser: Browser | undefined;
let api = "";
let site = "";

/** The page: the browser side of every ceremony, as a client would write it (docs/passkeys.md). */
const PAGE = (apiBase: string) => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Passkeys</title></head><body>
<script type="module">
const API = ${JSON.stringify(apiBase)};
const post = async (path, body, token) => {
  const res = await fetch(API + "/auth" + path, {
    method: "POST",
    headers: { "content-type": "application/json", ...(token ? { authorization: "Bearer " + token } : {}) },
    body: JSON.stringify(body ?? {}),
  });
  return { status: res.status, body: await res.json() };
};
const create = async (options) =>
  (await navigator.credentials.create({ publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(options) })).toJSON();
const get = async (options) =>
  (await navigator.credentials.get({ publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(options) })).toJSON();
window.passkeys = {
  secure: () => isSecureContext,
  async add(token, current_password) {
    const { body } = await post("/passkeys/register/options", {}, token);
    return post("/passkeys/register/verify", { response: await create(body.options), name: "Chromium", current_password }, token);
  },
  async signIn() {
    const { body } = await post("/passkeys/login/options");
    const answer = await post("/passkeys/login/verify", { challenge_token: body.challenge_token, response: await get(body.options) });
    if (answer.body.code === "passkey_unknown") {
      await PublicKeyCredential.signalUnknownCredential({ rpId: body.options.rpId, credentialId: answer.body.credential_id });
      answer.signalled = true;
    }
    return answer;
  },
  async stepUp(mfa_token) {
    const { body } = await post("/mfa/passkey/options", { mfa_token });
    return post("/mfa/verify", { mfa_token, passkey: await get(body.options) });
  },
  // Passkey-first sign-up in two steps around the code the options mail (the user reads it from their inbox).
  async signUpStart(email, full_name) {
    const { body } = await post("/passkeys/signup/options", { email, full_name });
    window.pendingSignUp = { challenge_token: body.challenge_token, response: await create(body.options) };
    return { status: 200, body: {} };
  },
  async signUpFinish(code) {
    return post("/passkeys/signup/verify", { ...window.pendingSignUp, code });
  },
};
document.title = "ready";
</script></body></html>`;

/** Polls until the Worker answers (or wrangler exits / the deadline passes). */
async function waitForWorker(url: string, deadlineMs: number) {
  const until = Date.now() + deadlineMs;
  while (Date.now() < until) {
    if (wrangler?.exitCode !== null && wrangler?.exitCode !== undefined) throw new Error(`wrangler dev exited:\n${output}`);
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`wrangler dev did not answer ${url} in time:\n${output}`);
}

const claims = (jwt: string) => JSON.parse(Buffer.from(jwt.split(".")[1], "base64url").toString());

/** A JSON call to the Worker from the test itself (the page does the WebAuthn side). */
async function call(pathname: string, init: { body?: unknown; token?: string; method?: string } = {}) {
  const res = await fetch(`${api}/auth${pathname}`, {
    method: init.method ?? (init.body === undefined ? "GET" : "POST"),
    headers: { "content-type": "application/json", ...(init.token ? { authorization: `Bearer ${init.token}` } : {}) },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

/** The 6-digit code of the newest mail to `email` whose subject matches (the one mail wanted, never a count). */
async function codeFor(email: string, subject: RegExp): Promise<string> {
  for (let i = 0; i < 200; i++) {
    const m = mail!.messages.findLast((x) => x.to.includes(email) && subject.test(x.subject));
    const code = m?.text && /code is: (\d{6})/.exec(m.text)?.[1];
    if (code) return code;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no mail to ${email} matching ${subject}`);
}

/** A page of the test site in a fresh context, with a virtual authenticator of its own. */
async function devicePage(): Promise<{ page: Page; cdp: CDPSession; authenticatorId: string }> {
  const context = await browser!.newContext();
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send("WebAuthn.enable");
  const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: {
      protocol: "ctap2",
      transport: "internal",
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  await page.goto(site);
  await page.waitForFunction('document.title === "ready"');
  return { page, cdp, authenticatorId };
}

type Answer = { status: number; body: Record<string, any>; signalled?: boolean };
const inPage = <A extends unknown[]>(page: Page, fn: string, ...args: A) =>
  page.evaluate(([f, a]) => (globalThis as any).passkeys[f](...a), [fn, args] as const) as Promise<Answer>;

beforeAll(async () => {
  if (!hasChromium) return;
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "auth-passkeys-browser-"));
  pg = await startPostgres({ dataDir: path.join(dir, "pg"), persistent: false, database: "passkeys" });
  await promisify(execFile)(process.execPath, [path.join(ROOT, "scripts/ops/migrate.ts"), pg.url], { cwd: ROOT });
  mail = await startMailCapture({ port: 0 });
  const [apiPort, sitePort, inspector] = await freePorts(3);
  site = `http://localhost:${sitePort}/`;
  api = `http://127.0.0.1:${apiPort}`;
  pageServer = http.createServer((_req, res) => {
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    res.end(PAGE(api));
  });
  await new Promise<void>((r) => pageServer!.listen(sitePort, "127.0.0.1", r));
  const vars: Record<string, string> = {
    ENVIRONMENT: "development",
    RESEND_BASE_URL: mail.url,
    RESEND_API_KEY: "re_passkeys_test",
    MAIL_FROM: "Edge Auth <no-reply@localhost>",
    BREACHED_PASSWORD_CHECK: "off",
    SCRYPT_LOG_N: "10",
    CORS_ORIGINS: `http://localhost:${sitePort}`,
    WEBAUTHN_RP_ID: "localhost",
    WEBAUTHN_ORIGINS: `http://localhost:${sitePort}`,
  };
  // Its own process group (afterAll stops wrangler and workerd together); a long wait for the first
  // build on a busy machine.
  wrangler = spawn(
    "npx",
    [
      "wrangler",
      "dev",
      "--ip",
      "127.0.0.1",
      "--port",
      String(apiPort),
      "--inspector-port",
      String(inspector),
      "--persist-to",
      path.join(dir, "wrangler"),
      "--log-level",
      "warn",
      "--show-interactive-dev-session=false",
      ...Object.entries(vars).flatMap(([k, v]) => ["--var", `${k}:${v}`]),
    ],
    {
      cwd: ROOT,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
      env: {
        ...process.env,
        CLOUDFLARE_CF_FETCH_ENABLED: "false",
        WRANGLER_SEND_METRICS: "false",
        CLOUDFLARE_HYPERDRIVE_LOCAL_CONNECTION_STRING_HYPERDRIVE: pg.url,
      },
    },
  );
  wrangler.stdout?.on("data", (d) => (output = (output + d).slice(-20_000)));
  wrangler.stderr?.on("data", (d) => (output = (output + d).slice(-20_000)));
  await waitForWorker(`${api}/health/live`, 200_000);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // localhost is the loopback the page server listens on (never a DNS lookup).
    args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--host-resolver-rules=MAP localhost 127.0.0.1"],
  });
}, 300_000);

afterAll(async () => {
  await browser?.close().catch(() => {});
  if (wrangler?.pid && wrangler.exitCode === null) {
    const exited = new Promise((r) => wrangler!.once("exit", r));
    process.kill(-wrangler.pid, "SIGTERM");
    await exited;
  }
  await new Promise((r) => (pageServer ? pageServer.close(r) : r(null)));
  await mail?.stop();
  await pg?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(!hasChromium)("passkeys in Chromium (virtual authenticator)", () => {
  it("add a passkey, sign out, sign in with it, step up a password sign-in, remove it, then the device is told", async () => {
    const email = `ada-${Date.now()}@example.com`;
    expect((await call("/register", { body: { full_name: "Ada Lovelace", email, password: PASSWORD } })).status).toBe(201);
    expect((await call("/verify-email", { body: { email, code: await codeFor(email, /verification code/) } })).status).toBe(200);
    const session = await call("/login", { body: { email, password: PASSWORD } });
    expect(session.status).toBe(200);
    const { page, cdp, authenticatorId } = await devicePage();
    expect(await page.evaluate("isSecureContext")).toBe(true);

    // Add (a credential change: the current password).
    const added = await inPage(page, "add", session.body.access_token, PASSWORD);
    expect(added.status, JSON.stringify(added.body)).toBe(201);
    expect(added.body.passkey).toMatchObject({ name: "Chromium", device_type: "single_device", transports: ["internal"] });
    const held = await cdp.send("WebAuthn.getCredentials", { authenticatorId });
    expect(held.credentials).toHaveLength(1);
    expect(held.credentials[0].isResidentCredential).toBe(true);

    // Sign out, then sign in with the passkey: no address typed; two factors, phishing-resistant.
    expect((await call("/logout", { method: "POST", token: session.body.access_token })).status).toBe(200);
    const signedIn = await inPage(page, "signIn");
    expect(signedIn.status, JSON.stringify(signedIn.body)).toBe(200);
    expect(signedIn.body.user.email).toBe(email);
    expect(claims(signedIn.body.access_token)).toMatchObject({ amr: ["hwk", "user"], acr: "phishing-resistant" });

    // The password now asks for the passkey as its second factor.
    const password = await call("/login", { body: { email, password: PASSWORD } });
    expect(password.body).toMatchObject({ status: "mfa_required", methods: ["passkey"] });
    const stepped = await inPage(page, "stepUp", password.body.mfa_token);
    expect(stepped.status, JSON.stringify(stepped.body)).toBe(200);
    expect(claims(stepped.body.access_token)).toMatchObject({ amr: ["pwd", "hwk", "user"], acr: "phishing-resistant" });

    // Remove it (a credential change); the device still offers it: passkey_unknown with its id, and the page signals it.
    const token = stepped.body.access_token;
    const list = await call("/passkeys", { token });
    const removed = await call(`/passkeys/${list.body.passkeys[0].id}`, { method: "DELETE", token, body: { current_password: PASSWORD } });
    expect(removed.status, JSON.stringify(removed.body)).toBe(200);
    const unknown = await inPage(page, "signIn");
    expect(unknown.status).toBe(401);
    expect(unknown.body).toMatchObject({
      code: "passkey_unknown",
      credential_id: held.credentials[0].credentialId.replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_"),
    });
    expect(unknown.signalled).toBe(true);
    // Chromium passes the signal to the authenticator: the stale passkey is gone from the device.
    expect((await cdp.send("WebAuthn.getCredentials", { authenticatorId })).credentials).toEqual([]);
  });

  it("sign up passkey-first: the mailed code, then an account without a password, signed in at once, and again later", async () => {
    const email = `grace-${Date.now()}@example.com`;
    const { page } = await devicePage();
    await inPage(page, "signUpStart", email, "Grace Hopper");
    const created = await inPage(page, "signUpFinish", await codeFor(email, /sign-up code/));
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    // The code proved the mailbox before the account existed.
    expect(created.body.user).toMatchObject({ email, full_name: "Grace Hopper", email_verified: true });
    expect(claims(created.body.access_token)).toMatchObject({ amr: ["hwk", "user"] });
    expect((await call("/me", { token: created.body.access_token })).body.user.email).toBe(email);
    expect((await call("/login", { body: { email, password: PASSWORD } })).status).toBe(401);
    const again = await inPage(page, "signIn");
    expect(again.status, JSON.stringify(again.body)).toBe(200);
    expect(again.body.user.email).toBe(email);
  });
});
