import { afterEach, describe, expect, inject, it } from "vitest";
import { generateCode } from "../../../src/auth/codes/one-time-codes";
import { loginAs as login, PASSWORD, registerUser, uniqueEmail, wrongCode as wrong } from "../../support/accounts";
import { fakeClock } from "../../support/clock";
import { db } from "../../support/db";
import { captureStats, codeIn, failNextSends, latestCode, mailsTo } from "../../support/mail";
import { call, json } from "../../support/worker";

// Password reset through the real Worker, the real `resend` SDK and the local capture server
// (scripts/stack/mail-capture.ts) that test/support/global-setup.ts starts and points RESEND_BASE_URL at.

const NEW_PASSWORD = "Brand-New-Passw0rd!";

const forgot = (email: string, opts: Parameters<typeof call>[1] = {}) => call("/auth/forgot-password", { body: { email }, ...opts });
const reset = (email: string, otp: string | number, newPassword = NEW_PASSWORD, opts: Parameters<typeof call>[1] = {}) =>
  call("/auth/reset-password", { body: { email, otp, new_password: newPassword }, ...opts });
async function hmacHex(secret: string, message: string) {
  const enc = new TextEncoder();
  const key = await crypto.subtle.importKey("raw", enc.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return [...new Uint8Array(await crypto.subtle.sign("HMAC", key, enc.encode(message)))]
    .map((b) => b.toString(16).padStart(2, "0"))
    .join("");
}

afterEach(async () => {
  await failNextSends(0); // never leak a simulated outage into the next test
});

describe("forgot password → mailed code → reset", () => {
  it("resets with the mailed code: new password works, old fails, earlier tokens die, email counts as verified", async () => {
    const u = await registerUser();
    const before = await call("/auth/me", { token: u.access_token });
    expect(before.status).toBe(200);

    const res = await forgot(u.email);
    expect(res.status).toBe(200);
    expect(await json(res)).toEqual({
      status: "success",
      message: "If an account exists for this email, we have sent it a code to reset the password.",
      user: { email: u.email },
    });

    const mails = await mailsTo(u.email, "password_reset");
    expect(mails).toHaveLength(1);
    const code = codeIn(mails[0]);
    expect(code).toMatch(/^\d{6}$/);

    const done = await reset(u.email.toUpperCase(), code);
    expect(done.status).toBe(200);
    expect(await json(done)).toEqual({ status: "success", message: "Your password has been reset. Log in with your new password." });

    expect((await login(u.email, PASSWORD)).status).toBe(401);
    const fresh = await login(u.email, NEW_PASSWORD);
    expect(fresh.status).toBe(200);

    const me = await call("/auth/me", { token: u.access_token });
    expect(me.status).toBe(401);
    expect((await json(me)).code).toBe("invalid_token");
    expect((await call("/auth/refresh", { body: { refresh_token: u.refresh_token } })).status).toBe(401);
    expect((await call("/auth/me", { token: (await json(fresh)).access_token })).status).toBe(200);

    const sql = db();
    const [row] = await sql`select email_verified_at, password_changed_at from users where id = ${u.user.id}`;
    const events =
      await sql`select event, outcome, detail::text as detail from auth_audit_events where user_id = ${u.user.id} and event like 'reset_%' order by id`;
    await sql.end();
    expect(row.email_verified_at).toBeInstanceOf(Date);
    expect(row.password_changed_at).toBeInstanceOf(Date);
    expect(events.map((e) => `${e.event}:${e.outcome}`)).toEqual(["reset_requested:success", "reset_completed:success"]);
    for (const e of events) expect(e.detail ?? "").not.toContain(code);
  });

  it("mails a plain-text and an HTML body, both with the code and its expiry, under a subject that says what it is", async () => {
    const clock = fakeClock(Date.UTC(2031, 4, 17, 13, 55, 0));
    const u = await registerUser();
    const env = { APP_NAME: `Acme <b>"Learn"</b> & Co` };
    expect((await forgot(u.email, { now: clock.now, env })).status).toBe(200);
    const [mail] = await mailsTo(u.email, "password_reset");
    const code = codeIn(mail);
    expect(mail.from).toBe("Edge Auth <no-reply@auth.test>");
    expect(mail.to).toEqual([u.email]);
    expect(mail.subject).toBe(`Your Acme <b>"Learn"</b> & Co password reset code`);
    expect(mail.subject).not.toContain(code);
    expect(mail.text).toContain(code);
    // 14:05 UTC as a clock time in MAIL_TIME_ZONE (default Asia/Kolkata, UTC+5:30).
    expect(mail.text).toContain("expires in 10 minutes (at 7:35 pm IST)");
    expect(mail.html).toContain(`>${code}</p>`);
    expect(mail.html).toContain("<strong>10 minutes</strong> (at 7:35 pm IST)");
    expect(mail.html).toContain('<html lang="en">');
    // The app name is escaped in the HTML body.
    expect(mail.html).toContain("Acme &lt;b&gt;&quot;Learn&quot;&lt;/b&gt; &amp; Co");
    expect(mail.html).not.toContain("<b>");
  });

  it("answers an unknown email exactly like a known one and mails nothing", async () => {
    const u = await registerUser();
    const nobody = uniqueEmail("nobody");
    const known = await forgot(u.email);
    const unknown = await forgot(nobody);
    expect(unknown.status).toBe(known.status);
    // Byte for byte, but for the echoed address the caller sent.
    expect((await unknown.text()).replace(nobody, "<email>")).toBe((await known.text()).replace(u.email, "<email>"));
    expect(unknown.headers.get("content-type")).toBe(known.headers.get("content-type"));
    expect(unknown.headers.get("retry-after")).toBeNull();
    expect(await mailsTo(u.email, "password_reset")).toHaveLength(1);
    expect(await mailsTo(nobody)).toHaveLength(0);
  });

  it("accepts the code as a number too (leading zeros restored) and rejects malformed codes as invalid input", async () => {
    const u = await registerUser();
    await forgot(u.email);
    const code = await latestCode(u.email);
    const malformed = await reset(u.email, "12345");
    expect(malformed.status).toBe(400);
    expect(await json(malformed)).toMatchObject({ code: "validation_failed", message: "Enter the 6-digit code from the email." });
    expect((await reset(u.email, Number(code))).status).toBe(200);
  });

  it("checks the new password before the code, so a refused password does not burn the code", async () => {
    const u = await registerUser();
    await forgot(u.email);
    const code = await latestCode(u.email);
    const weak = await reset(u.email, code, "short");
    expect(weak.status).toBe(400);
    expect(await json(weak)).toMatchObject({ code: "validation_failed", issues: [{ path: "new_password" }] });
    expect((await reset(u.email, code)).status).toBe(200);
  });
});

describe("codes are single-use, guess-limited and short-lived", () => {
  it("refuses the right code after 5 wrong ones, and the password stays", async () => {
    const clock = fakeClock();
    const u = await registerUser();
    await forgot(u.email, { now: clock.now });
    const code = await latestCode(u.email);
    for (let k = 1; k <= 5; k++) {
      const res = await reset(u.email, wrong(code, k), NEW_PASSWORD, { now: clock.now });
      expect(res.status).toBe(400);
      expect(await json(res)).toEqual({
        status: "error",
        code: "invalid_otp",
        message: "The code is incorrect. Check the code in the email or request a new one.",
      });
    }
    // After 5 wrong guesses the account's next guess waits 1 s (one-time-codes.test.ts); wait it
    // out, so what answers is the code's own limit.
    clock.advance(1000);
    const right = await reset(u.email, code, NEW_PASSWORD, { now: clock.now });
    expect(right.status).toBe(400);
    expect(await json(right)).toMatchObject({ code: "otp_attempts_exceeded" });
    expect((await login(u.email, PASSWORD)).status).toBe(200);
    expect((await login(u.email, NEW_PASSWORD)).status).toBe(401);
    const sql = db();
    const [row] =
      await sql`select attempts, consumed_at from auth_one_time_codes where user_id = ${u.user.id} and purpose = 'password_reset'`;
    await sql.end();
    expect(row).toEqual({ attempts: 5, consumed_at: null });
  });

  it("still accepts the right code after 4 wrong ones (the limit is exactly 5)", async () => {
    const u = await registerUser();
    await forgot(u.email);
    const code = await latestCode(u.email);
    for (let k = 1; k <= 4; k++) expect((await reset(u.email, wrong(code, k))).status).toBe(400);
    expect((await reset(u.email, code)).status).toBe(200);
  });

  it("refuses an expired code with its own message (the clock is controlled)", async () => {
    const clock = fakeClock();
    const u = await registerUser();
    expect((await forgot(u.email, { now: clock.now })).status).toBe(200);
    const code = await latestCode(u.email);
    clock.advance(600_000); // exactly OTP_TTL later: no longer valid
    const res = await reset(u.email, code, NEW_PASSWORD, { now: clock.now });
    expect(res.status).toBe(400);
    expect(await json(res)).toEqual({ status: "error", code: "otp_expired", message: "This code has expired. Request a new code." });
    expect((await login(u.email, PASSWORD)).status).toBe(200);
  });

  it("accepts a code just before it expires", async () => {
    const clock = fakeClock();
    const u = await registerUser();
    await forgot(u.email, { now: clock.now });
    const code = await latestCode(u.email);
    clock.advance(599_000);
    expect((await reset(u.email, code, NEW_PASSWORD, { now: clock.now })).status).toBe(200);
  });

  it("refuses a code that was already used", async () => {
    const u = await registerUser();
    await forgot(u.email);
    const code = await latestCode(u.email);
    expect((await reset(u.email, code)).status).toBe(200);
    const again = await reset(u.email, code, "Yet-Another-Passw0rd");
    expect(again.status).toBe(400);
    expect(await json(again)).toMatchObject({ code: "otp_used" });
    expect((await login(u.email, NEW_PASSWORD)).status).toBe(200);
    expect((await login(u.email, "Yet-Another-Passw0rd")).status).toBe(401);
  });

  it("two (and five) concurrent resets with one code: exactly one 200", async () => {
    for (const n of [2, 5]) {
      const u = await registerUser();
      await forgot(u.email);
      const code = await latestCode(u.email);
      const passwords = Array.from({ length: n }, (_, i) => `Racer-${i}-Passw0rd!`);
      const results = await Promise.all(passwords.map((pw) => reset(u.email, code, pw)));
      const statuses = results.map((r) => r.status);
      expect(statuses.filter((s) => s === 200)).toHaveLength(1);
      expect(statuses.filter((s) => s === 400)).toHaveLength(n - 1);
      for (const r of results.filter((r) => r.status === 400)) expect((await json(r)).code).toBe("otp_used");
      const winner = passwords[statuses.indexOf(200)];
      expect((await login(u.email, winner)).status).toBe(200);
    }
  });

  it("a new code invalidates the previous one", async () => {
    const clock = fakeClock();
    const u = await registerUser();
    await forgot(u.email, { now: clock.now });
    const first = await latestCode(u.email);
    clock.advance(61_000);
    expect((await forgot(u.email, { now: clock.now })).status).toBe(200);
    const mails = await mailsTo(u.email, "password_reset");
    expect(mails).toHaveLength(2);
    const second = codeIn(mails[0]);
    expect(second).not.toBe(first); // a 1-in-a-million coincidence would fail here, not pass
    const old = await reset(u.email, first, NEW_PASSWORD, { now: clock.now });
    expect(old.status).toBe(400);
    expect((await json(old)).code).toBe("invalid_otp");
    expect((await reset(u.email, second, NEW_PASSWORD, { now: clock.now })).status).toBe(200);
    const sql = db();
    const rows = await sql`select consumed_at from auth_one_time_codes where user_id = ${u.user.id} and purpose = 'password_reset'`;
    await sql.end();
    expect(rows).toHaveLength(1);
  });

  it("codes are 6 digits, uniformly drawn, leading zeros included", () => {
    const codes = Array.from({ length: 5000 }, () => generateCode());
    for (const c of codes) expect(c).toMatch(/^\d{6}$/);
    const leadingZero = codes.filter((c) => c.startsWith("0")).length;
    // Expected 500 (1 in 10); a biased or zero-stripping generator lands far outside this band.
    expect(leadingZero).toBeGreaterThan(380);
    expect(leadingZero).toBeLessThan(620);
    expect(new Set(codes).size).toBeGreaterThan(4950);
  });
});

describe("throttling and storage", () => {
  it("a second request within 60 s answers 429 with Retry-After, for unknown emails too", async () => {
    const clock = fakeClock();
    const u = await registerUser();
    const nobody = uniqueEmail("nobody");
    for (const email of [u.email, nobody]) {
      expect((await forgot(email, { now: clock.now })).status).toBe(200);
    }
    clock.advance(15_000);
    const answers: string[] = [];
    for (const email of [u.email, nobody]) {
      const res = await forgot(email.toUpperCase(), { now: clock.now });
      expect(res.status).toBe(429);
      expect(res.headers.get("retry-after")).toBe("45");
      answers.push(await res.text());
    }
    expect(answers[0]).toBe(answers[1]);
    expect(JSON.parse(answers[0])).toMatchObject({ status: "error", code: "too_many_requests" });
    expect(await mailsTo(u.email, "password_reset")).toHaveLength(1);
    clock.advance(45_000);
    expect((await forgot(u.email, { now: clock.now })).status).toBe(200);
    expect(await mailsTo(u.email, "password_reset")).toHaveLength(2);
  });

  it("the database never holds the code in clear: only its HMAC with the server secret", async () => {
    const u = await registerUser();
    await forgot(u.email);
    const code = await latestCode(u.email);
    const sql = db();
    const rows =
      await sql`select t::text as row, code_hash from auth_one_time_codes t where user_id = ${u.user.id} and purpose = 'password_reset'`;
    const audits = await sql`select coalesce(detail::text, '') as detail from auth_audit_events where user_id = ${u.user.id}`;
    const throttles = await sql`select key from auth_throttles where key like 'otp:%'`;
    await sql.end();
    expect(rows).toHaveLength(1);
    expect(rows[0].row).not.toContain(code);
    const secret = inject("workerBindings").AUTH_SECRET;
    expect(rows[0].code_hash).toBe(await hmacHex(secret, `otp:password_reset:${u.user.id}:${code}`));
    for (const a of audits) expect(a.detail).not.toContain(code);
    for (const t of throttles) expect(t.key).not.toContain(u.email);
  });

  it("the mail service answering 500 twice then 200 still delivers exactly once", async () => {
    const u = await registerUser();
    const before = await captureStats();
    await failNextSends(2, 500);
    const res = await forgot(u.email);
    expect(res.status).toBe(200);
    const after = await captureStats();
    expect(after.failRemaining).toBe(0);
    expect(after.received - before.received).toBe(3);
    const mails = await mailsTo(u.email, "password_reset");
    expect(mails).toHaveLength(1);
    expect((await reset(u.email, codeIn(mails[0]))).status).toBe(200);
  });

  it("a send that times out is retried under the same idempotency key: still one mail", async () => {
    const u = await registerUser();
    const before = await captureStats();
    await failNextSends(1, 200, 2000); // stored at once, answered after 2 s; the mailer gives up after 300 ms
    const res = await forgot(u.email, { env: { MAIL_TIMEOUT_MS: "300" } });
    expect(res.status).toBe(200);
    expect((await captureStats()).received - before.received).toBe(2);
    expect(await mailsTo(u.email, "password_reset")).toHaveLength(1);
  });

  it("a mail service that keeps failing changes nothing in the answer, and the failure is recorded", async () => {
    const u = await registerUser();
    const nobody = uniqueEmail("nobody");
    await failNextSends(10, 503);
    const known = await forgot(u.email);
    const unknown = await forgot(nobody);
    expect(known.status).toBe(200);
    expect((await known.text()).replace(u.email, "<email>")).toBe((await unknown.text()).replace(nobody, "<email>"));
    expect(await mailsTo(u.email, "password_reset")).toHaveLength(0);
    const sql = db();
    const [event] = await sql`select outcome, detail from auth_audit_events where user_id = ${u.user.id} and event = 'reset_requested'`;
    await sql.end();
    expect(event).toEqual({ outcome: "failure", detail: { purpose: "password_reset", mail: "internal_server_error", mail_attempts: 3 } });
  });

  it("a reset lets a locked-out owner log in again", async () => {
    const clock = fakeClock();
    const env = { LOGIN_LOCKOUT_FAILURES: "10" };
    const u = await registerUser();
    for (let i = 0; i < 10; i++) {
      expect((await login(u.email, "Wrong-password-123", { now: clock.now, env })).status).toBe(401);
      clock.advance(3600_000); // past any delay
    }
    const locked = await login(u.email, PASSWORD, { now: clock.now, env });
    expect(locked.status).toBe(403);
    expect((await json(locked)).code).toBe("password_reset_required");
    await forgot(u.email, { now: clock.now, env });
    expect((await reset(u.email, await latestCode(u.email), NEW_PASSWORD, { now: clock.now, env })).status).toBe(200);
    expect((await login(u.email, NEW_PASSWORD, { now: clock.now, env })).status).toBe(200);
  });

  it("documents both endpoints in the OpenAPI document", async () => {
    const doc = await json(await call("/openapi.json"));
    const forgotOp = doc.paths["/auth/forgot-password"].post;
    const resetOp = doc.paths["/auth/reset-password"].post;
    expect(Object.keys(forgotOp.responses)).toEqual(expect.arrayContaining(["200", "400", "429"]));
    expect(Object.keys(resetOp.responses)).toEqual(expect.arrayContaining(["200", "400", "429"]));
    expect(
      Object.keys(
        resetOp.requestBody.content["application/json"].schema.properties ?? doc.components.schemas.ResetPasswordRequest.properties,
      ),
    ).toEqual(expect.arrayContaining(["email", "otp", "new_password"]));
  });
});

describe("after a reset", () => {
  it("the account's address gets a password-changed notice, sent in the background, without the password or the code", async () => {
    const u = await registerUser();
    await forgot(u.email);
    const code = await latestCode(u.email, /reset/);
    expect((await reset(u.email, code)).status).toBe(200);
    const [notice] = (await mailsTo(u.email)).filter((m) => /password was changed/i.test(m.subject));
    expect(notice).toBeDefined();
    expect(notice.text).toMatch(/reset with a code/);
    expect(notice.text + notice.html).not.toContain(code);
    expect(notice.text + notice.html).not.toContain(NEW_PASSWORD);
  });
});
