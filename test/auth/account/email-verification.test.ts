import { decodeJwt, jwtVerify } from "jose";
import { describe, expect, it } from "vitest";
import { createClient } from "../../../src/client";
import { login, loginAs, PASSWORD, registerUser, uniqueEmail, verifyEmailOf, wrongCode } from "../../support/accounts";
import { fakeClock, SEC } from "../../support/clock";
import { auditRows, userRow, withDb } from "../../support/db";
import { codeIn, latestCode, mailsTo } from "../../support/mail";
import { type CallOptions, call, json } from "../../support/worker";

// Email verification through the real Worker, Postgres and the local mail capture.

const verify = (email: string, code: string, opts: CallOptions = {}) => call("/auth/verify-email", { body: { email, code }, ...opts });
const resend = (email: string, opts: CallOptions = {}) => call("/auth/verify-email/resend", { body: { email }, ...opts });
const verificationMails = (email: string) => mailsTo(email, "email_verification");
const claims = (token: string) => decodeJwt(token) as { email_verified?: unknown; email?: string };

/** Past the send throttle's first wait (OTP_RESEND_INTERVAL, 60 s), so a new code may go out. */
const PAST_RESEND = 61 * SEC;

describe("register → mailed code → verify", () => {
  it("verifies with the code from the mail: email_verified true in /auth/me and in a fresh token's claims", async () => {
    const u = await registerUser();
    expect(u.user.email_verified).toBe(false);
    expect(claims(u.access_token).email_verified).toBe(false);
    const mails = await verificationMails(u.email);
    expect(mails).toHaveLength(1);
    const code = codeIn(mails[0]);

    const res = await verify(u.email.toUpperCase(), code);
    expect(res.status).toBe(200);
    const body = await json(res);
    expect(body).toEqual({
      status: "success",
      message: "Your email address is verified.",
      user: { ...u.user, email_verified: true },
    });

    // The first proof of the mailbox is a change of owner: the session from before it ended (its
    // access and refresh tokens are refused); a new login carries email_verified and /me reads it.
    expect((await call("/auth/me", { token: u.access_token })).status).toBe(401);
    expect((await call("/auth/refresh", { body: { refresh_token: u.refresh_token } })).status).toBe(401);
    const fresh = await login(u.email);
    expect(claims(fresh.access_token).email_verified).toBe(true);
    expect((await json(await call("/auth/me", { token: fresh.access_token }))).user.email_verified).toBe(true);
    const refreshed = await json(await call("/auth/refresh", { body: { refresh_token: fresh.refresh_token } }));
    expect(claims(refreshed.access_token).email_verified).toBe(true);

    expect((await userRow(u.user.id)).email_verified_at).toBeInstanceOf(Date);
    const events = (await auditRows(u.user.id)).map((r) => `${r.event}:${r.outcome}`);
    expect(events).toEqual(expect.arrayContaining(["email_verification_requested:success", "email_verified:success"]));
    for (const r of await auditRows(u.user.id)) expect(JSON.stringify(r.detail ?? {})).not.toContain(code);

    // Single use.
    const again = await verify(u.email, code);
    expect(again.status).toBe(400);
    expect((await json(again)).code).toBe("otp_used");
  });

  it("mails a plain-text and an HTML body, both with the code and its 15-minute expiry; the subject carries no code", async () => {
    const clock = fakeClock(Date.UTC(2031, 4, 17, 13, 50, 0));
    const env = { APP_NAME: `Acme <b>"Learn"</b>` };
    const u = await registerUser({}, { now: clock.now, env });
    const [mail] = await verificationMails(u.email);
    const code = codeIn(mail);
    expect(mail.to).toEqual([u.email]);
    expect(mail.subject).toBe(`Your Acme <b>"Learn"</b> verification code`);
    expect(mail.subject).not.toContain(code);
    // 14:05 UTC in MAIL_TIME_ZONE (default Asia/Kolkata, UTC+5:30).
    expect(mail.text).toContain("expires in 15 minutes (at 7:35 pm IST)");
    expect(mail.html).toContain(`>${code}</p>`);
    expect(mail.html).toContain("<strong>15 minutes</strong> (at 7:35 pm IST)");
    expect(mail.html).toContain("Acme &lt;b&gt;&quot;Learn&quot;&lt;/b&gt;");
    expect(mail.html).not.toContain("<b>");
    // EMAIL_CODE_TTL is the code's lifetime: valid until just before, refused at it.
    clock.advance(15 * 60 * SEC);
    const late = await verify(u.email, code, { now: clock.now, env });
    expect(late.status).toBe(400);
    expect((await json(late)).code).toBe("otp_expired");
  });

  it("REGISTER_ENUMERATION_SAFE registrations are mailed a code too", async () => {
    const email = uniqueEmail("safe");
    const res = await call("/auth/register", {
      body: { full_name: "Safe", email, password: PASSWORD, role: "student" },
      env: { REGISTER_ENUMERATION_SAFE: "true" },
    });
    expect(res.status).toBe(202);
    const { user } = await verifyEmailOf(email);
    expect(user.email_verified).toBe(true);
  });

  it("legacy HS256 tokens carry the email_verified claim too", async () => {
    const secret = "legacy-shared-secret-0123456789abcdef";
    const env = { LEGACY_HS256: "true", JWT_SECRET: secret };
    const u = await registerUser({}, { env });
    await verifyEmailOf(u.email, { env });
    const { access_token } = await login(u.email, PASSWORD, { env });
    const { payload, protectedHeader } = await jwtVerify(access_token, new TextEncoder().encode(secret));
    expect(protectedHeader.alg).toBe("HS256");
    expect(payload.email_verified).toBe(true);
    expect(claims(u.access_token).email_verified).toBe(false);
  });

  it("the typed client includes the endpoints", async () => {
    const u = await registerUser();
    const intoWorker: typeof fetch = (input, init) => {
      const req = new Request(input, init);
      return call(new URL(req.url).pathname, {
        method: req.method,
        body: init?.body as string,
        headers: { "content-type": "application/json" },
      });
    };
    const api = createClient("http://auth.test", { fetch: intoWorker });
    const res = await api.auth["verify-email"].$post({ json: { email: u.email, code: await latestCode(u.email, /verification/) } });
    expect(res.status).toBe(200);
    if (res.status !== 200) throw new Error("verify failed");
    const body = await res.json(); // typed: the user carries email_verified
    expect(body.user.email_verified).toBe(true);
  });
});

describe("resend", () => {
  it("answers an unknown email byte-identically to a known one and mails it nothing; a verified account is not mailed", async () => {
    const clock = fakeClock();
    const opts = { now: clock.now };
    const u = await registerUser({}, opts);
    const done = await registerUser({}, opts);
    await verifyEmailOf(done.email, opts);
    const nobody = uniqueEmail("nobody");
    clock.advance(PAST_RESEND);
    const [known, verified, unknown] = [await resend(u.email, opts), await resend(done.email, opts), await resend(nobody, opts)];
    const texts = [await known.text(), await verified.text(), await unknown.text()];
    for (const r of [known, verified, unknown]) {
      expect(r.status).toBe(200);
      expect(r.headers.get("content-type")).toBe(known.headers.get("content-type"));
      expect(r.headers.get("retry-after")).toBeNull();
    }
    expect(texts[1]).toBe(texts[0]);
    expect(texts[2]).toBe(texts[0]);
    expect(JSON.parse(texts[0])).toEqual({
      status: "success",
      message: "If this email belongs to an account that is not verified yet, we have sent it a new code.",
    });
    expect(await mailsTo(nobody)).toHaveLength(0);
    expect(await verificationMails(done.email)).toHaveLength(1);
    const mails = await verificationMails(u.email);
    expect(mails).toHaveLength(2);
    // The new code replaces the first one.
    const [second, first] = mails.map(codeIn);
    expect((await json(await verify(u.email, first, opts))).code).toBe("invalid_otp");
    expect((await verify(u.email, second, opts)).status).toBe(200);
  });

  it("uses the module's send throttle: too soon answers 429 with Retry-After, for unknown emails alike", async () => {
    const clock = fakeClock();
    const u = await registerUser({}, { now: clock.now });
    const nobody = uniqueEmail("nobody");
    expect((await resend(nobody, { now: clock.now })).status).toBe(200);
    clock.advance(15 * SEC);
    const answers: string[] = [];
    for (const email of [u.email, nobody]) {
      const res = await resend(email, { now: clock.now });
      expect(res.status).toBe(429);
      answers.push(`${res.headers.get("retry-after")} ${await res.text()}`);
    }
    expect(answers[0]).toBe(answers[1]);
    expect(await verificationMails(u.email)).toHaveLength(1);
  });
});

describe("REQUIRE_VERIFIED_EMAIL", () => {
  type Mode = "off" | "instructors" | "all";
  const expectations: Record<Mode, { student: number; instructor: number }> = {
    off: { student: 200, instructor: 200 },
    instructors: { student: 200, instructor: 403 },
    all: { student: 403, instructor: 403 },
  };

  for (const mode of ["off", "instructors", "all"] as const) {
    it(`${mode}: unverified accounts it covers get 403 email_unverified and a fresh code; verified ones log in; wrong passwords get 401`, async () => {
      const clock = fakeClock();
      const env = { REQUIRE_VERIFIED_EMAIL: mode };
      // Registered while the setting is off, so every account has a session from before.
      const accounts = {
        student: await registerUser({ role: "student" }, { now: clock.now }),
        instructor: await registerUser({ role: "instructor" }, { now: clock.now }),
        verifiedStudent: await registerUser({ role: "student" }, { now: clock.now }),
        verifiedInstructor: await registerUser({ role: "instructor" }, { now: clock.now }),
      };
      await verifyEmailOf(accounts.verifiedStudent.email, { now: clock.now });
      await verifyEmailOf(accounts.verifiedInstructor.email, { now: clock.now });
      clock.advance(PAST_RESEND);
      const opts = { env, now: clock.now };

      for (const role of ["student", "instructor"] as const) {
        const u = accounts[role];
        const expected = expectations[mode][role];
        const res = await loginAs(u.email, PASSWORD, opts);
        expect(res.status, `${mode} ${role}`).toBe(expected);
        const body = await json(res);
        const me = await call("/auth/me", { token: u.access_token, ...opts });
        if (expected === 403) {
          expect(body).toEqual({
            status: "error",
            code: "email_unverified",
            message: "Verify your email address to continue: enter the code we emailed you, or request a new one.",
          });
          expect(JSON.stringify(body)).not.toMatch(/token/);
          // A fresh code arrived (the registration's and this one), and it verifies the account.
          const mails = await verificationMails(u.email);
          expect(mails).toHaveLength(2);
          // The protected route refuses the session from before with the same code; signing out still works.
          expect(me.status).toBe(403);
          expect((await json(me)).code).toBe("email_unverified");
          // A second login within the send throttle: still 403 (never 429 because of the mail), no new mail.
          const again = await loginAs(u.email, PASSWORD, opts);
          expect(again.status).toBe(403);
          expect((await json(again)).code).toBe("email_unverified");
          expect(await verificationMails(u.email)).toHaveLength(2);
          expect((await verify(u.email, codeIn(mails[0]), opts)).status).toBe(200);
          // The verification ended the session from before (a change of owner); a login now works.
          expect((await call("/auth/me", { token: u.access_token, ...opts })).status).toBe(401);
          const back = await loginAs(u.email, PASSWORD, opts);
          expect(back.status).toBe(200);
          u.access_token = (await json(back)).access_token;
          const rows = await auditRows(u.user.id);
          expect(rows.filter((r) => r.event === "login_refused").map((r) => r.detail)).toEqual([
            { reason: "email_unverified" },
            { reason: "email_unverified" },
          ]);
        } else {
          expect(body.user.email_verified).toBe(false);
          expect(claims(body.access_token).email_verified).toBe(false);
          expect(me.status).toBe(200);
          expect(await verificationMails(u.email)).toHaveLength(1);
        }
        expect((await call("/auth/logout", { method: "POST", token: u.access_token, ...opts })).status).toBe(200);
      }

      for (const role of ["verifiedStudent", "verifiedInstructor"] as const) {
        const u = accounts[role];
        const res = await loginAs(u.email, PASSWORD, opts);
        expect(res.status, `${mode} ${role}`).toBe(200);
        expect((await call("/auth/me", { token: (await json(res)).access_token, ...opts })).status).toBe(200);
      }

      // A wrong password is the generic 401 in every mode, verified or not: the 403 never confirms an account.
      for (const u of Object.values(accounts)) {
        const wrong = await loginAs(u.email, "Not-The-Password-1", opts);
        expect(wrong.status).toBe(401);
        expect((await json(wrong)).code).toBe("invalid_credentials");
      }
      const nobody = await loginAs(uniqueEmail("nobody"), "Not-The-Password-1", opts);
      expect(nobody.status).toBe(401);
    });
  }

  it("registration of an account the setting covers answers 202 without tokens and mails the code", async () => {
    const email = uniqueEmail("covered");
    const env = { REQUIRE_VERIFIED_EMAIL: "all" };
    const res = await call("/auth/register", { body: { full_name: "New", email, password: PASSWORD, role: "student" }, env });
    expect(res.status).toBe(202);
    expect(await json(res)).toEqual({
      status: "success",
      message: "Account created. Enter the code we have emailed you to verify your address, then log in.",
    });
    const rows = await withDb((sql) => sql`select s.id from auth_sessions s join users u on u.id = s.user_id where u.email = ${email}`);
    expect(rows).toHaveLength(0);
    await verifyEmailOf(email, { env });
    expect((await loginAs(email, PASSWORD, { env })).status).toBe(200);
  });

  it("refuses a bad setting value at parse time", async () => {
    const res = await call("/auth/login", { body: { email: "a@example.com", password: "x" }, env: { REQUIRE_VERIFIED_EMAIL: "students" } });
    expect(res.status).toBe(500);
    expect((await json(res)).code).toBe("internal_error");
  });
});

describe("code attack limits for email verification", () => {
  it("40 guesses in flight at once against one verification code: at most OTP_MAX_ATTEMPTS are ever compared", async () => {
    // A generous account budget, so what limits the burst is the code's own attempt count.
    const env = { OTP_FREE_FAILURES: "50" };
    for (const position of [0, 17, 39]) {
      const u = await registerUser({}, { env });
      const code = await latestCode(u.email, /verification/);
      const guesses = Array.from({ length: 40 }, (_, i) => (i === position ? code : wrongCode(code, i + 1)));
      const answers = await Promise.all(guesses.map((g) => verify(u.email, g, { env })));
      const rows = (await auditRows(u.user.id)).filter((r) => ["email_verification_failed", "email_verified"].includes(r.event));
      expect(rows).toHaveLength(40);
      const compared = rows.filter((r) => r.detail?.attempt !== undefined);
      expect(compared.length).toBeLessThanOrEqual(5);
      expect(new Set(compared.map((r) => r.detail.attempt)).size).toBe(compared.length);
      for (const r of compared) expect(r.detail.attempt).toBeLessThanOrEqual(5);
      for (const r of rows.filter((r) => r.event === "email_verification_failed" && r.detail.attempt === undefined))
        expect(r.detail.reason).toBe("not_evaluated");
      const won = answers[position].status === 200;
      expect(answers.filter((a) => a.status === 200)).toHaveLength(won ? 1 : 0);
      expect(rows.filter((r) => r.event === "email_verified")).toHaveLength(won ? 1 : 0);
      expect((await userRow(u.user.id)).email_verified_at !== null).toBe(won);
      if (!won) expect((await json(answers[position])).code).toBe("otp_attempts_exceeded");
      const [stored] = await withDb(
        (sql) => sql`select attempts from auth_one_time_codes where user_id = ${u.user.id} and purpose = 'email_verification'`,
      );
      expect(stored.attempts).toBeLessThanOrEqual(5);
    }
  });

  it("the per-account budget spans purposes: after 5 wrong guesses on verification and reset codes even the right code gets 429", async () => {
    const clock = fakeClock();
    const opts = { now: clock.now };
    const u = await registerUser({}, opts);
    const verification = await latestCode(u.email, /verification/);
    expect((await call("/auth/forgot-password", { body: { email: u.email }, ...opts })).status).toBe(200);
    const reset = await latestCode(u.email, /reset/);
    for (let i = 1; i <= 3; i++) expect((await verify(u.email, wrongCode(verification, i), opts)).status).toBe(400);
    for (let i = 1; i <= 2; i++) {
      const res = await call("/auth/reset-password", {
        body: { email: u.email, otp: wrongCode(reset, i), new_password: "Never-Set-Pw-99" },
        ...opts,
      });
      expect(res.status).toBe(400);
    }
    const early = await verify(u.email, verification, opts);
    expect(early.status).toBe(429);
    expect((await json(early)).code).toBe("too_many_requests");
    expect(early.headers.get("retry-after")).toBe("1");
    expect((await userRow(u.user.id)).email_verified_at).toBeNull();
    clock.advance(Number(early.headers.get("retry-after")) * SEC);
    expect((await verify(u.email, verification, opts)).status).toBe(200);
  });

  it("an unknown email is answered like a wrong code", async () => {
    const res = await verify(uniqueEmail("nobody"), "123456");
    expect(res.status).toBe(400);
    expect((await json(res)).code).toBe("invalid_otp");
  });
});

describe("OpenAPI", () => {
  it("documents the endpoints and email_unverified on protected routes and login", async () => {
    const doc = await json(await call("/openapi.json"));
    for (const path of [
      "/auth/verify-email",
      "/auth/verify-email/resend",
      "/auth/change-email",
      "/auth/change-email/confirm",
      "/auth/change-email/revert",
    ])
      expect(doc.paths[path]?.post, path).toBeDefined();
    expect(doc.paths["/auth/verify-email"].post.security).toEqual([{}]); // explicitly anonymous
    expect(doc.paths["/auth/change-email"].post.security).toEqual([{ bearerAuth: [] }]);
    expect(Object.keys(doc.paths["/auth/me"].get.responses["403"].content["application/json"].examples)).toContain("email_unverified");
    expect(Object.keys(doc.paths["/auth/login"].post.responses["403"].content["application/json"].examples)).toContain("email_unverified");
    expect(doc.paths["/auth/logout"].post.responses["403"]).toBeUndefined();
    expect(doc.components.schemas.User.required).toContain("email_verified");
  });
});
