import { type ChildProcess, execFile, spawn } from "node:child_process";
import { createHmac, randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import axe from "axe-core";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import postgres from "postgres";
import { expect } from "vitest";
import { freePort } from "../../scripts/stack/local-service.ts";
import { type MailCapture, startMailCapture } from "../../scripts/stack/mail-capture.ts";
import { startPostgres } from "../../scripts/stack/postgres.ts";

/**
 * The operators' console as it really runs, for the browser tests: a throwaway PostgreSQL (migrated
 * with `npm run db:migrate`), the local mail capture, and the Worker under `wrangler dev` (its
 * [build] step builds the console into the static assets), driven in Debian's Chromium.
 * Admins are made the operator's way (`npm run create-admin`, the setup token, TOTP enrollment).
 */

const ROOT = path.resolve(__dirname, "../..");
const ARTIFACTS = path.join(ROOT, "artifacts/console");
export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
export const PASSWORD = "Console-Test-Passphrase-42";

const run = promisify(execFile);

export interface Stack {
  base: string;
  dbUrl: string;
  sql: postgres.Sql;
  mail: MailCapture;
  browser: Browser;
  stop(): Promise<void>;
}

/** Polls until the Worker answers (or wrangler exits / the deadline passes). */
async function waitForWorker(child: ChildProcess, url: string, output: () => string, deadlineMs: number) {
  const until = Date.now() + deadlineMs;
  while (Date.now() < until) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited:\n${output()}`);
    try {
      const res = await fetch(url);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`wrangler dev did not answer ${url} in time:\n${output()}`);
}

export async function startStack(vars: Record<string, string> = {}): Promise<Stack> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "auth-console-"));
  const stops: (() => Promise<unknown> | unknown)[] = [() => fs.rmSync(dir, { recursive: true, force: true })];
  const stop = async () => {
    for (const s of stops.reverse()) {
      try {
        await s();
      } catch {}
    }
    stops.length = 0;
  };
  try {
    const pg = await startPostgres({ dataDir: path.join(dir, "pg"), persistent: false, database: "console" });
    stops.push(() => pg.stop());
    await run("npm", ["run", "--silent", "db:migrate", "--", pg.url], { cwd: ROOT });
    const sql = postgres(pg.url, { max: 2, onnotice: () => {} });
    stops.push(() => sql.end({ timeout: 5 }));
    const mail = await startMailCapture({ port: 0 });
    stops.push(() => mail.stop());

    const settings: Record<string, string> = {
      ENVIRONMENT: "development",
      RESEND_BASE_URL: mail.url,
      RESEND_API_KEY: "re_console_test",
      MAIL_FROM: "Edge Auth <no-reply@localhost>",
      BREACHED_PASSWORD_CHECK: "off",
      SCRYPT_LOG_N: "10",
      INSTRUCTOR_APPROVAL: "required",
      ...vars,
    };
    const startWorker = (port: number, inspector: number) => {
      const child = spawn(
        "npx",
        [
          "wrangler",
          "dev",
          "--ip",
          "127.0.0.1",
          "--port",
          String(port),
          "--inspector-port",
          String(inspector),
          "--persist-to",
          path.join(dir, "wrangler"),
          "--log-level",
          "warn",
          "--show-interactive-dev-session=false",
          ...Object.entries(settings).flatMap(([k, v]) => ["--var", `${k}:${v}`]),
        ],
        {
          cwd: ROOT,
          detached: true, // its own process group: stop() ends wrangler and workerd together
          stdio: ["ignore", "pipe", "pipe"],
          env: {
            ...process.env,
            CLOUDFLARE_CF_FETCH_ENABLED: "false",
            WRANGLER_SEND_METRICS: "false",
            CLOUDFLARE_HYPERDRIVE_LOCAL_CONNECTION_STRING_HYPERDRIVE: pg.url,
          },
        },
      );
      let output = "";
      child.stdout?.on("data", (d) => (output = (output + d).slice(-20_000)));
      child.stderr?.on("data", (d) => (output = (output + d).slice(-20_000)));
      stops.push(async () => {
        if (child.exitCode !== null) return;
        const exited = new Promise((r) => child.once("exit", r));
        process.kill(-(child.pid as number), "SIGTERM");
        await exited;
      });
      return { base: `http://127.0.0.1:${port}`, child, output: () => output };
    };
    // A free port is free when asked, not necessarily when wrangler binds it (another process may take
    // it in between): on "Address already in use" the Worker starts again on new ports.
    let base = "";
    for (let attempt = 1; ; attempt++) {
      const started = await startWorker(await freePort(), await freePort());
      try {
        await waitForWorker(started.child, `${started.base}/health/live`, started.output, 180_000);
        base = started.base;
        break;
      } catch (err) {
        if (attempt >= 3 || !/Address already in use/.test(String(err))) throw err;
      }
    }

    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
    stops.push(() => browser.close());
    return { base, dbUrl: pg.url, sql, mail, browser, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

// --- RFC 4226/6238, written here with node:crypto (independent of the Worker's TOTP code) -----------

const BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

function base32Decode(text: string): Buffer {
  const bytes: number[] = [];
  let bits = 0;
  let value = 0;
  for (const ch of text.replace(/=+$/, "").toUpperCase()) {
    const v = BASE32.indexOf(ch);
    if (v < 0) throw new Error(`not base32: ${ch}`);
    value = (value << 5) | v;
    bits += 5;
    if (bits >= 8) {
      bytes.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(bytes);
}

/** HOTP (RFC 4226): HMAC-SHA-1 of the 8-byte counter, dynamic truncation. */
export function hotp(key: Buffer, counter: number, digits = 6): string {
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(counter));
  const mac = createHmac("sha1", key).update(msg).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const binary = ((mac[offset] & 0x7f) << 24) | (mac[offset + 1] << 16) | (mac[offset + 2] << 8) | mac[offset + 3];
  return String(binary % 10 ** digits).padStart(digits, "0");
}

const stepNow = () => Math.floor(Date.now() / 1000 / 30);

/**
 * An authenticator app for one secret. The server accepts a code for its step and one either side,
 * each step once and only forward: the next code is for the current step, or the step after the
 * last one used when that was already the current one (no waiting for the clock).
 */
class Authenticator {
  private lastStep = -1;
  constructor(readonly secret: Buffer) {}
  next(): string {
    const step = Math.max(stepNow(), this.lastStep + 1);
    if (step > stepNow() + 1) throw new Error("no unused TOTP step in the window yet: use a recovery code");
    this.lastStep = step;
    return hotp(this.secret, step);
  }
}

// --- the API, as an operator or a user reaches it from outside ---------------------------------------

/** A JSON call to the Worker; each from its own client address, so the per-IP limits never interfere. */
export async function api(stack: Stack, method: string, p: string, body?: unknown, token?: string) {
  const headers: Record<string, string> = { "cf-connecting-ip": `198.51.100.${1 + (randomBytes(1)[0] % 250)}` };
  if (body !== undefined) headers["content-type"] = "application/json";
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(`${stack.base}${p}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, body: (await res.json().catch(() => null)) as any, headers: res.headers };
}

export interface Admin {
  id: string;
  email: string;
  password: string;
  app: Authenticator | null;
  recoveryCodes: string[];
  createAdminOutput: string;
}

/**
 * An admin made as docs/admin.md says: `npm run create-admin`, the setup token, then (unless
 * `mfa: false`) TOTP enrollment confirmed with a code of the test's own authenticator.
 */
export async function createAdmin(stack: Stack, email: string, name: string, { mfa = true } = {}): Promise<Admin> {
  const args = ["run", "--silent", "create-admin", "--", "--email", email, "--name", name, "--database-url", stack.dbUrl];
  const { stdout } = await run("npm", args, {
    cwd: ROOT,
  });
  const token = /^ {2}([A-Za-z0-9_-]{43})$/m.exec(stdout)?.[1];
  expect(token, stdout).toBeDefined();
  const setup = await api(stack, "POST", "/auth/account/setup", { token, new_password: PASSWORD });
  expect(setup.status, JSON.stringify(setup.body)).toBe(200);
  const [row] = await stack.sql`select id from users where email = ${email}`;
  const admin: Admin = { id: row.id, email, password: PASSWORD, app: null, recoveryCodes: [], createAdminOutput: stdout };
  if (!mfa) return admin;
  const login = await api(stack, "POST", "/auth/login", { email, password: PASSWORD });
  expect(login.status).toBe(200);
  const enroll = await api(stack, "POST", "/auth/mfa/totp/enroll", undefined, login.body.access_token);
  expect(enroll.status, JSON.stringify(enroll.body)).toBe(200);
  admin.app = new Authenticator(base32Decode(enroll.body.secret));
  const confirm = await api(
    stack,
    "POST",
    "/auth/mfa/totp/confirm",
    { code: admin.app.next(), current_password: PASSWORD },
    login.body.access_token,
  );
  expect(confirm.status, JSON.stringify(confirm.body)).toBe(200);
  admin.recoveryCodes = confirm.body.recovery_codes;
  return admin;
}

/** A registered account (role student, or an instructor request under INSTRUCTOR_APPROVAL=required) and its session. */
export async function registerUser(stack: Stack, email: string, fullName: string, role: "student" | "instructor" = "student") {
  const res = await api(stack, "POST", "/auth/register", { full_name: fullName, email, password: PASSWORD, role });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return { id: res.body.user.id as string, email, token: res.body.access_token as string };
}

// --- the browser ----------------------------------------------------------------------------------

export interface Watched {
  page: Page;
  /** Console errors, page errors and CSP violations (securitypolicyviolation events). */
  problems: string[];
  /** Requests to anywhere but the Worker. */
  offOrigin: string[];
  /** alert()/confirm()/prompt() dialogs the page opened. */
  jsDialogs: string[];
}

export async function openPage(stack: Stack, context: BrowserContext): Promise<Watched> {
  const page = await context.newPage();
  const watched: Watched = { page, problems: [], offOrigin: [], jsDialogs: [] };
  // Runs before the page's own scripts (outside its CSP): every violation becomes a console error.
  await page.addInitScript(`document.addEventListener("securitypolicyviolation", (e) =>
    console.error("CSP violation: " + e.effectiveDirective + " blocked " + (e.blockedURI || "(inline)") + " at " + e.sourceFile + ":" + e.lineNumber))`);
  page.on("console", (m) => {
    if (m.type() === "error") watched.problems.push(m.text());
  });
  page.on("pageerror", (e) => watched.problems.push(String(e)));
  page.on("request", (r) => {
    if (!r.url().startsWith(stack.base) && !/^(data|blob):/.test(r.url())) watched.offOrigin.push(r.url());
  });
  page.on("dialog", async (d) => {
    watched.jsDialogs.push(d.message());
    await d.dismiss();
  });
  return watched;
}

/** CSP violations and errors other than the API's own refusals (4xx answers the console shows). */
export const cspProblems = (w: Watched) =>
  w.problems.filter((p) => /Content Security Policy|CSP violation|Refused to|Trusted Type/i.test(p));

/** axe-core in the page: the serious and critical WCAG 2.x A/AA (2.2 included) violations. */
export async function axeViolations(page: Page) {
  await page.evaluate(axe.source);
  const tags = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"];
  const results = (await page.evaluate(
    `axe.run(document, { runOnly: { type: "tag", values: ${JSON.stringify(tags)} } })`,
  )) as axe.AxeResults;
  return results.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(" ")) }));
}

/** A screenshot of the page at 1280 and at 360 pixels wide, saved under artifacts/console/. */
/** `fullPage: false` for a modal dialog: what the screen shows (its backdrop covers the screen, not the page). */
export async function screenshots(page: Page, name: string, { fullPage = true } = {}) {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const before = page.viewportSize() ?? { width: 1280, height: 800 };
  for (const width of [1280, 360]) {
    await page.setViewportSize({ width, height: width === 360 ? 740 : 800 });
    // Nothing wider than the screen: at 360 px the page reflows (tables scroll inside their region).
    const overflow = (await page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")) as number;
    expect(overflow, `${name} at ${width} px scrolls sideways`).toBeLessThanOrEqual(0);
    const file = path.join(ARTIFACTS, `${name}-${width}.png`);
    await page.screenshot({ path: file, fullPage });
    expect(fs.statSync(file).size).toBeGreaterThan(5_000);
  }
  await page.setViewportSize(before);
}
