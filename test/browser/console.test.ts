import fs from "node:fs";
import type { BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type Admin,
  api,
  axeViolations,
  CHROMIUM,
  createAdmin,
  cspProblems,
  hotp,
  openPage,
  PASSWORD,
  registerUser,
  type Stack,
  screenshots,
  startStack,
  type Watched,
} from "./console-stack";

/**
 * The operators' console (docs/console.md) in Debian's Chromium, against the real Worker under
 * `wrangler dev` and a real PostgreSQL: sign-in with the password and a TOTP code (from the test's
 * own RFC 6238 implementation), the account pages and their actions, the audit log, the refusals at
 * sign-in, and what keeps it safe (CSP, tokens in memory only, text never markup, WCAG 2.2 AA by axe).
 */

const haveChromium = fs.existsSync(CHROMIUM);
if (!haveChromium && process.env.CI) throw new Error(`CI needs Chromium at ${CHROMIUM} (apt-get install chromium)`);
if (!haveChromium)
  console.warn(`[console browser test] skipped: no Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)`);

const RUN = Math.random().toString(36).slice(2, 8);
const XSS_NAME = "<img src=x onerror=alert(1)>";

let stack: Stack;
let admin: Admin;
let context: BrowserContext;
let w: Watched;
let page: Page;

/** Signs in through the console's form; `code` is a TOTP or a recovery code. */
async function signIn(p: Page, email: string, password: string, code?: string) {
  await p.getByLabel("Email").fill(email);
  await p.getByLabel("Password").fill(password);
  await p.getByRole("button", { name: "Sign in" }).click();
  if (code === undefined) return;
  await p.getByLabel("Code").fill(code);
  await p.getByRole("button", { name: "Verify" }).click();
}

/** Opens an account's page through the search, as an operator finds it. */
async function openAccount(p: Page, email: string) {
  await p.getByRole("link", { name: "Users", exact: true }).click();
  await p.getByLabel("Search users").fill(email);
  await p.getByLabel("Search users").press("Enter");
  await p.getByRole("link", { name: email, exact: true }).click();
  await p.getByRole("heading", { level: 1, name: email }).waitFor();
}

/** Clicks an action, confirms it in the dialog that names the account, and waits for its outcome. */
async function confirmAction(p: Page, button: string, email: string, done: RegExp, reason?: string) {
  await p.getByRole("button", { name: button, exact: true }).click();
  const dialog = p.getByRole("dialog");
  await expect.poll(() => dialog.getByRole("heading").textContent()).toContain(email);
  if (reason !== undefined) await dialog.getByLabel("Reason").fill(reason);
  await dialog.getByRole("button", { name: "Confirm", exact: true }).click();
  await p.getByRole("status").filter({ hasText: done }).waitFor();
}

beforeAll(async () => {
  if (!haveChromium) return;
  stack = await startStack();
  admin = await createAdmin(stack, `ops-${RUN}@example.com`, "Olive Operator");
  context = await stack.browser.newContext({ viewport: { width: 1280, height: 800 } });
  w = await openPage(stack, context);
  page = w.page;
}, 300_000);

afterAll(async () => {
  await context?.close();
  await stack?.stop();
});

describe.runIf(haveChromium)("the operators' console", () => {
  it("is served at /console with a strict Content-Security-Policy on every response", async () => {
    const csp = (h: Headers) => h.get("content-security-policy") ?? "";
    const redirect = await fetch(`${stack.base}/console`, { redirect: "manual" });
    expect(redirect.status).toBe(307);
    expect(redirect.headers.get("location")).toBe("/console/");
    for (const path of ["/console/", "/console/console.js", "/console/console.css", "/console/config.json"]) {
      const res = await fetch(`${stack.base}${path}`);
      expect(res.status, path).toBe(200);
      for (const directive of ["default-src 'self'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'"])
        expect(csp(res.headers), path).toContain(directive);
      expect(csp(res.headers)).not.toMatch(/unsafe-inline|unsafe-eval/);
      expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    }
    expect(csp(redirect.headers)).toContain("frame-ancestors 'none'");
    expect(await (await fetch(`${stack.base}/console/config.json`)).json()).toEqual({ idle_timeout_seconds: 900 });
    // The page has no inline script or style to allow.
    const html = await (await fetch(`${stack.base}/console/`)).text();
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>|<style|\sstyle=/i);
    // The API keeps its JSON answers next to it.
    const missing = await fetch(`${stack.base}/console/nothing-here`);
    expect([missing.status, ((await missing.json()) as { code: string }).code]).toEqual([404, "not_found"]);
  });

  it("the TOTP codes of these tests come from an RFC 6238 implementation of their own (checked on the RFC's vector)", () => {
    // RFC 6238 appendix B, SHA-1, T = 59 s: 94287082 (8 digits).
    expect(hotp(Buffer.from("12345678901234567890"), Math.floor(59 / 30), 8)).toBe("94287082");
    expect(hotp(Buffer.from("12345678901234567890"), Math.floor(1111111109 / 30), 8)).toBe("07081804");
  });

  it("signs an admin in with the password and a TOTP code, keeping the tokens out of storage and cookies", async () => {
    await page.goto(`${stack.base}/console`);
    await page.getByRole("heading", { level: 1, name: /Sign in/ }).waitFor();
    expect(await axeViolations(page)).toEqual([]);
    await screenshots(page, "sign-in");
    await signIn(page, admin.email, admin.password, admin.app!.next());
    await page.getByRole("heading", { level: 1, name: "Users" }).waitFor();
    await page.getByRole("button", { name: "Sign out" }).waitFor();
    const stored = await page.evaluate("({ local: localStorage.length, session: sessionStorage.length, cookie: document.cookie })");
    expect(stored).toEqual({ local: 0, session: 0, cookie: "" });
    expect((await context.cookies()).length).toBe(0);
    // The session is the admin's, signed in with the second factor.
    const [session] =
      await stack.sql`select amr from auth_sessions where user_id = ${admin.id} and revoked_at is null order by created_at desc limit 1`;
    expect(session.amr).toEqual(["pwd", "otp"]);
  });

  it("finds a user by email, suspends them (their live token is refused at once) and reactivates them", async () => {
    const user = await registerUser(stack, `sam-${RUN}@example.com`, "Sam Student");
    expect((await api(stack, "GET", "/auth/me", undefined, user.token)).status).toBe(200);
    await openAccount(page, user.email);
    expect(await axeViolations(page)).toEqual([]);
    await screenshots(page, "user");

    await page.getByRole("button", { name: "Suspend", exact: true }).click();
    const dialog = page.getByRole("dialog");
    await dialog.getByRole("heading", { name: `Suspend ${user.email}?` }).waitFor();
    // Modal: the page behind is inert until the dialog closes.
    expect(await page.evaluate("document.querySelector('dialog').matches(':modal')")).toBe(true);
    expect(await axeViolations(page)).toEqual([]);
    await screenshots(page, "confirm-dialog", { fullPage: false });
    // A reason is required: Confirm without one says so and changes nothing.
    await dialog.getByRole("button", { name: "Confirm" }).click();
    await dialog
      .getByRole("alert")
      .filter({ hasText: /reason/i })
      .waitFor();
    await dialog.getByLabel("Reason").fill("Spam reported by three students");
    await dialog.getByRole("button", { name: "Confirm" }).click();
    await page.getByRole("status").filter({ hasText: "is suspended" }).waitFor();
    const refused = await api(stack, "GET", "/auth/me", undefined, user.token);
    expect(refused.status).toBe(401);
    const [row] = await stack.sql`select status from users where id = ${user.id}`;
    expect(row.status).toBe("suspended");

    await confirmAction(page, "Reactivate", user.email, /active again/, "Checked with the school");
    const [back] = await stack.sql`select status from users where id = ${user.id}`;
    expect(back.status).toBe("active");
    expect((await api(stack, "POST", "/auth/login", { email: user.email, password: PASSWORD })).status).toBe(200);
  });

  it("changes a role and revokes sessions", async () => {
    const user = await registerUser(stack, `rob-${RUN}@example.com`, "Rob Role");
    await openAccount(page, user.email);
    await page.getByLabel("Role", { exact: true }).selectOption("instructor");
    await confirmAction(page, "Save role", user.email, /now an instructor/);
    const [row] = await stack.sql`select role from users where id = ${user.id}`;
    expect(row.role).toBe("instructor");
    await page.getByText("instructor", { exact: true }).first().waitFor();

    const second = await api(stack, "POST", "/auth/login", { email: user.email, password: PASSWORD });
    await confirmAction(page, "Revoke sessions", user.email, /Every session .* ended/);
    for (const token of [user.token, second.body.access_token])
      expect((await api(stack, "GET", "/auth/me", undefined, token)).status).toBe(401);
  });

  it("approves an instructor request from the queue", async () => {
    const applicant = await registerUser(stack, `ivy-${RUN}@example.com`, "Ivy Instructor", "instructor");
    const refusedOne = await registerUser(stack, `ian-${RUN}@example.com`, "Ian Instructor", "instructor");
    await page.getByRole("link", { name: "Instructor requests" }).click();
    await page.getByRole("heading", { level: 1, name: "Instructor requests" }).waitFor();
    await page.getByRole("link", { name: applicant.email }).waitFor();
    expect(await axeViolations(page)).toEqual([]);
    await screenshots(page, "instructor-requests");
    await page.getByRole("link", { name: applicant.email }).click();
    await confirmAction(page, "Approve instructor", applicant.email, /now an instructor/);
    await page.getByRole("link", { name: "Instructor requests" }).click();
    await page.getByRole("link", { name: refusedOne.email }).click();
    await confirmAction(page, "Refuse instructor", refusedOne.email, /refused/);
    const rows =
      await stack.sql`select email, role, requested_role from users where id in ${stack.sql([applicant.id, refusedOne.id])} order by email`;
    expect(rows.map((r) => [r.email, r.role, r.requested_role])).toEqual([
      [refusedOne.email, "student", null],
      [applicant.email, "instructor", null],
    ]);
    await page.getByRole("link", { name: "Instructor requests" }).click();
    await page.getByRole("heading", { level: 1, name: "Instructor requests" }).waitFor();
    await expect.poll(() => page.getByRole("link", { name: applicant.email }).count()).toBe(0);
  });

  it("reads the matching rows in the audit log: time, event, the actor's email and the subject's email", async () => {
    const subject = `sam-${RUN}@example.com`;
    await page.getByRole("link", { name: "Audit log" }).click();
    await page.getByRole("heading", { level: 1, name: "Audit log" }).waitFor();
    await page.getByLabel("Subject email").fill(subject);
    await page.getByLabel("Actor email").fill(admin.email);
    await page.getByLabel("Event", { exact: true }).fill("admin_user_updated");
    await page.getByRole("button", { name: "Filter" }).click();
    const table = page.getByRole("table");
    const rowsShown = () =>
      table.locator("tbody tr").evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll("td")].map((td) => td.textContent ?? "")));
    // Newest first: the reactivation, then the suspension, with their notes.
    await expect
      .poll(async () => (await rowsShown()).map((r) => [r[1], r[2], r[3], r[4]]))
      .toEqual([
        ["admin_user_updated", "success", admin.email, subject],
        ["admin_user_updated", "success", admin.email, subject],
      ]);
    const rows = await rowsShown();
    for (const r of rows) expect(r[0]).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/);
    expect(rows[0][5]).toContain("status_to: active");
    expect(rows[0][5]).toContain("note: Checked with the school");
    expect(rows[1][5]).toContain("status_to: suspended");
    expect(await axeViolations(page)).toEqual([]);
    await screenshots(page, "audit-log");

    // The role change and the revocation of another account, by subject alone.
    const rob = `rob-${RUN}@example.com`;
    await page.getByLabel("Actor email").fill("");
    await page.getByLabel("Event", { exact: true }).fill("");
    await page.getByLabel("Subject email").fill(rob);
    await page.getByRole("button", { name: "Filter" }).click();
    await expect
      .poll(async () => (await rowsShown()).filter((r) => r[3] === admin.email && r[4] === rob).map((r) => r[1]))
      .toEqual(expect.arrayContaining(["admin_sessions_revoked", "admin_user_updated"]));

    // An unknown address is an error the operator can read.
    await page.getByLabel("Subject email").fill(`nobody-${RUN}@example.com`);
    await page.getByRole("button", { name: "Filter" }).click();
    await page.getByRole("alert").filter({ hasText: "No account has the address" }).waitFor();
  });

  it("pages through the accounts with Next", async () => {
    const prefix = `bulk-${RUN}`;
    await stack.sql`insert into users (id, full_name, email, password, role, created_at)
      select gen_random_uuid(), 'Bulk ' || i, ${prefix} || '-' || lpad(i::text, 2, '0') || '@example.com', '!', 'student', now() - i * interval '1 minute'
        from generate_series(1, 25) as i`;
    await page.getByRole("link", { name: "Users", exact: true }).click();
    await page.getByLabel("Search users").fill(prefix);
    await page.getByRole("button", { name: "Search", exact: true }).click();
    const emails = () => page.locator("tbody tr td:first-child").allTextContents();
    const numbered = (from: number, to: number) =>
      Array.from({ length: to - from + 1 }, (_, i) => `${prefix}-${String(from + i).padStart(2, "0")}@example.com`);
    await expect.poll(emails).toEqual(numbered(1, 20));
    expect(await axeViolations(page)).toEqual([]);
    await screenshots(page, "users");
    await page.getByRole("button", { name: "Next" }).click();
    await expect.poll(emails).toEqual(numbered(21, 25));
    expect(await page.getByRole("button", { name: "Next" }).isDisabled()).toBe(true);
    await page.getByRole("button", { name: "Previous" }).click();
    await expect.poll(emails).toEqual(numbered(1, 20));
  });

  it("shows a name made of markup as text: no element is created and no dialog opens", async () => {
    const user = await registerUser(stack, `xss-${RUN}@example.com`, XSS_NAME);
    await page.getByRole("link", { name: "Users", exact: true }).click();
    await page.getByLabel("Search users").fill(user.email);
    await page.getByLabel("Search users").press("Enter");
    await page.getByRole("cell", { name: XSS_NAME }).waitFor();
    await page.getByRole("link", { name: user.email }).click();
    await page.getByText(XSS_NAME, { exact: true }).first().waitFor();
    expect(await page.locator("img").count()).toBe(0);
    expect(w.jsDialogs).toEqual([]);
  });

  it("asks for the password and a code again in place when a change needs a recent login, then makes it", async () => {
    const user = await registerUser(stack, `rex-${RUN}@example.com`, "Rex Recent");
    await openAccount(page, user.email);
    // The admin's sign-in is now older than RECENT_AUTH_MAX_AGE (10 minutes).
    await stack.sql`update auth_sessions set auth_time = now() - interval '1 hour' where user_id = ${admin.id} and revoked_at is null`;
    await page.getByRole("button", { name: "Revoke sessions" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Confirm" }).click();
    const reauth = page.getByRole("dialog");
    await reauth.getByRole("heading", { name: "Confirm it's you" }).waitFor();
    expect(await page.evaluate("document.querySelector('dialog').matches(':modal')")).toBe(true);
    expect(await axeViolations(page)).toEqual([]);
    await screenshots(page, "confirm-its-you", { fullPage: false });
    // A wrong password: the reason, in the dialog.
    await reauth.getByLabel("Password").fill("not the password");
    await reauth.getByLabel("Code").fill(admin.recoveryCodes[0]);
    await reauth.getByRole("button", { name: "Verify" }).click();
    await reauth.getByRole("alert").waitFor();
    await reauth.getByLabel("Password").fill(admin.password);
    await reauth.getByLabel("Code").fill(admin.recoveryCodes[0]);
    await reauth.getByRole("button", { name: "Verify" }).click();
    await page
      .getByRole("status")
      .filter({ hasText: /Every session .* ended/ })
      .waitFor();
    expect((await api(stack, "GET", "/auth/me", undefined, user.token)).status).toBe(401);
    // The stale console session was ended when the new one began.
    const stale = async () =>
      (
        await stack.sql`select count(*)::int as n from auth_sessions where user_id = ${admin.id} and revoked_at is null
          and 'otp' = any(amr) and auth_time < now() - interval '30 minutes'`
      )[0].n;
    await expect.poll(stale).toBe(0);
  });

  it("mails a password reset, schedules a deletion and cancels it", async () => {
    const user = await registerUser(stack, `del-${RUN}@example.com`, "Dee Deleted");
    await openAccount(page, user.email);
    await confirmAction(page, "Send password reset", user.email, /being mailed/);
    await expect.poll(() => stack.mail.messages.filter((m) => m.to.includes(user.email) && /reset/i.test(m.subject)).length).toBe(1);
    await confirmAction(page, "Schedule deletion", user.email, /scheduled for deletion/);
    const [pending] = await stack.sql`select status, deletion_due_at from users where id = ${user.id}`;
    expect(pending.status).toBe("deletion_pending");
    await page.getByText("Deleted for good at").waitFor();
    expect((await api(stack, "GET", "/auth/me", undefined, user.token)).status).toBe(401);
    await confirmAction(page, "Cancel deletion", user.email, /deletion .* is cancelled/);
    const [back] = await stack.sql`select status, deletion_due_at from users where id = ${user.id}`;
    expect([back.status, back.deletion_due_at]).toEqual(["active", null]);
  });

  it("works with the keyboard alone", async () => {
    const user = await registerUser(stack, `kay-${RUN}@example.com`, "Kay Keyboard");
    await page.getByRole("link", { name: "Users", exact: true }).click();
    await page.getByRole("heading", { level: 1, name: "Users" }).waitFor();
    /** The focused control's label, or its text (links, buttons). */
    const focused = async () =>
      (
        (await page.evaluate(
          `((el) => (el && el.labels && el.labels[0] ? el.labels[0].textContent : el ? el.textContent : "") || "")(document.activeElement)`,
        )) as string
      ).trim();
    /** Presses Tab until the focused control's label or text is `name`. */
    const tabTo = async (name: string, limit = 40) => {
      for (let i = 0; i <= limit; i++) {
        if ((await focused()) === name) return;
        await page.keyboard.press("Tab");
      }
      throw new Error(`${name} not reached by Tab (last: ${await focused()})`);
    };
    await tabTo("Search users");
    await page.keyboard.type(user.email);
    await page.keyboard.press("Enter");
    await page.getByRole("link", { name: user.email }).waitFor();
    await tabTo(user.email);
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { level: 1, name: user.email }).waitFor();
    await tabTo("Revoke sessions");
    await page.keyboard.press("Enter");
    const dialog = page.getByRole("dialog");
    await dialog.waitFor();
    // Focus is inside the dialog; Escape closes it without a change and gives the focus back.
    expect(await focused()).toBe("Confirm");
    await page.keyboard.press("Escape");
    await expect.poll(() => dialog.count()).toBe(0);
    await expect.poll(focused).toBe("Revoke sessions");
    await page.keyboard.press("Enter");
    await dialog.waitFor();
    await tabTo("Confirm", 5);
    await page.keyboard.press("Enter");
    await page
      .getByRole("status")
      .filter({ hasText: /Every session .* ended/ })
      .waitFor();
  });

  it("ran without a CSP violation and without a request to another origin", () => {
    expect(cspProblems(w)).toEqual([]);
    expect(w.offOrigin).toEqual([]);
    expect(w.jsDialogs).toEqual([]);
  });

  it("signs out with Sign out, and a reload asks to sign in again", async () => {
    const liveSessions = async () =>
      (await stack.sql`select count(*)::int as n from auth_sessions where user_id = ${admin.id} and revoked_at is null`)[0].n as number;
    await page.reload();
    await page.getByRole("heading", { level: 1, name: /Sign in/ }).waitFor();
    const before = await liveSessions();
    await signIn(page, admin.email, admin.password, admin.recoveryCodes[1]);
    // Back on the page it was showing (the address keeps it).
    await page.getByRole("button", { name: "Sign out" }).waitFor();
    expect(await liveSessions()).toBe(before + 1);
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByRole("heading", { level: 1, name: /Sign in/ }).waitFor();
    await page.getByRole("status").filter({ hasText: "You are signed out." }).waitFor();
    expect(await liveSessions()).toBe(before);
  });

  it("signs out when the server ends the session (revoked elsewhere), saying why", async () => {
    const gone = await openPage(stack, context);
    await gone.page.goto(`${stack.base}/console/`);
    await signIn(gone.page, admin.email, admin.password, admin.recoveryCodes[3]);
    await gone.page.getByRole("heading", { level: 1, name: "Users" }).waitFor();
    await gone.page.getByRole("table").waitFor(); // the list is in: nothing is still on its way
    await stack.sql`update auth_sessions set revoked_at = now(), revoked_reason = 'test' where user_id = ${admin.id} and revoked_at is null`;
    await gone.page.getByRole("link", { name: "Audit log" }).click();
    await gone.page.getByRole("status").filter({ hasText: "Your session ended" }).waitFor();
    await gone.page.getByLabel("Email").waitFor();
    expect(cspProblems(gone)).toEqual([]);
    await gone.page.close();
  });

  it("signs out after CONSOLE_IDLE_TIMEOUT (15 minutes) without activity, ending the session", async () => {
    const idle = await openPage(stack, context);
    await idle.page.clock.install();
    await idle.page.goto(`${stack.base}/console/`);
    await signIn(idle.page, admin.email, admin.password, admin.recoveryCodes[2]);
    await idle.page.getByRole("heading", { level: 1, name: "Users" }).waitFor();
    const [before] = await stack.sql`select count(*)::int as n from auth_sessions where user_id = ${admin.id} and revoked_at is null`;
    await idle.page.clock.fastForward("14:00");
    expect(await idle.page.getByRole("button", { name: "Sign out" }).count()).toBe(1);
    await idle.page.keyboard.press("Shift"); // activity starts the 15 minutes again
    await idle.page.clock.fastForward("14:00");
    expect(await idle.page.getByRole("button", { name: "Sign out" }).count()).toBe(1);
    await idle.page.clock.fastForward("01:01");
    await idle.page.getByRole("status").filter({ hasText: "signed out after 15 minutes without activity" }).waitFor();
    await expect
      .poll(
        async () => (await stack.sql`select count(*)::int as n from auth_sessions where user_id = ${admin.id} and revoked_at is null`)[0].n,
      )
      .toBe(before.n - 1);
    expect(cspProblems(idle)).toEqual([]);
    await idle.page.close();
  });

  it("stops a non-admin and an admin without a second factor at sign-in, with the reason", async () => {
    const student = await registerUser(stack, `stu-${RUN}@example.com`, "Stu Student");
    const noFactor = await createAdmin(stack, `nofactor-${RUN}@example.com`, "Nora Nofactor", { mfa: false });
    const live = async (id: string) =>
      (await stack.sql`select count(*)::int as n from auth_sessions where user_id = ${id} and revoked_at is null`)[0].n as number;
    const before = [await live(student.id), await live(noFactor.id)];
    const stopped = await openPage(stack, context);
    await stopped.page.goto(`${stack.base}/console/`);
    await signIn(stopped.page, student.email, PASSWORD);
    await stopped.page.getByRole("alert").filter({ hasText: "not an administrator" }).waitFor();
    expect(await stopped.page.getByRole("button", { name: "Sign out" }).count()).toBe(0);
    expect(await axeViolations(stopped.page)).toEqual([]);
    await screenshots(stopped.page, "sign-in-refused");
    await signIn(stopped.page, noFactor.email, noFactor.password);
    await stopped.page.getByRole("alert").filter({ hasText: "no second factor" }).waitFor();
    expect(await stopped.page.getByRole("button", { name: "Sign out" }).count()).toBe(0);
    // The sessions their logins started were ended.
    await expect.poll(async () => [await live(student.id), await live(noFactor.id)]).toEqual(before);
    expect(cspProblems(stopped)).toEqual([]);
    await stopped.page.close();
  });

  it("tells how to reach it when an admin is made (npm run create-admin)", () => {
    expect(admin.createAdminOutput).toMatch(/\/console\//);
  });
});
