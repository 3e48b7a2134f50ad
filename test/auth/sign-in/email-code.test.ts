import { decodeJwt } from "jose";
import { describe, expect, it } from "vitest";
import { codeGuesses, login, PASSWORD, registerUser, uniqueEmail, verifyEmailOf, wrongCode } from "../../support/accounts";
import { setRole } from "../../support/admin";
import { fakeClock, SEC } from "../../support/clock";
import { auditRows, userRow, withDb } from "../../support/db";
import { codeIn, mailsTo } from "../../support/mail";
import { codeAt, enableMfa, loginWithMfa, mfaAccount } from "../../support/mfa";
import { type CallOptions, call, json } from "../../support/worker";

// Sign-in by emailed code, through the real Worker, Postgres and the local mail capture.

const request = (email: string, opts: CallOptions = {}) => call("/auth/sign-in/code", { body: { email }, ...opts });
const verify = (email: string, code: string, opts: CallOptions = {}) =>
  call("/auth/sign-in/code/verify", { body: { email, code }, ...opts });
const codeMails = (email: string) => mailsTo(email, "sign_in_code");
const claims = (token: string) => decodeJwt(token) as { amr: string[]; acr: string; email_verified: boolean; sid: string };

async function mailedCode(email: string, opts: CallOptions = {}): Promise<string> {
  const res = await request(email, opts);
  expect(res.status).toBe(202);
  const [mail] = await codeMails(email);
  expect(mail, `a sign-in code mail to ${email}`).toBeDefined();
  return codeIn(mail);
}

describe("sign-in by emailed code", () => {
  it("an existing account: 202, a mailed code, then a session with amr email (single factor) and the address verified", async () => {
    const u = await registerUser();
    expect(u.user.email_verified).toBe(false);
    const code = await mailedCode(u.email);
    const [mail] = await codeMails(u.email);
    expect(mail.subject).not.toContain(code);
    expect(mail.html).toContain(code);

    const res = await verify(u.email.toUpperCase(), code);
    expect(res.status).toBe(200);
    const body = await json(res);
    expect(body).toMatchObject({ status: "success", user: { id: u.user.id, email_verified: true } });
    const c = claims(body.access_token);
    expect(c.amr).toEqual(["email"]);
    expect(c.amr).not.toContain("otp");
    expect(c.acr).toBe("single-factor");
    expect(c.email_verified).toBe(true);
    const [session] = await withDb((sql) => sql`select array_to_json(amr) as amr, acr from auth_sessions where id = ${c.sid}`);
    expect(session).toEqual({ amr: ["email"], acr: "single-factor" });
    expect((await userRow(u.user.id)).email_verified_at).toBeInstanceOf(Date);
    expect((await json(await call("/auth/me", { token: body.access_token }))).user.email_verified).toBe(true);
    const events = (await auditRows(u.user.id)).map((r) => `${r.event}:${r.outcome}`);
    expect(events).toEqual(expect.arrayContaining(["sign_in_code_requested:success", "email_verified:success", "login_succeeded:success"]));
    const succeeded = (await auditRows(u.user.id)).find((r) => r.event === "login_succeeded" && r.detail?.method === "email_code");
    expect(succeeded?.detail).toMatchObject({ method: "email_code", amr: "email" });
    for (const r of await auditRows(u.user.id)) expect(JSON.stringify(r.detail ?? {})).not.toContain(code);

    // Single use.
    const again = await verify(u.email, code);
    expect(again.status).toBe(400);
    expect((await json(again)).code).toBe("otp_used");
  });

  it("an account whose address is verified (the common case): a session, nothing of a change of owner, the guess budget forgotten", async () => {
    const u = await registerUser();
    await verifyEmailOf(u.email);
    const verifiedAt = (await userRow(u.user.id)).email_verified_at;
    const other = await login(u.email, PASSWORD);
    const code = await mailedCode(u.email);
    expect((await verify(u.email, wrongCode(code))).status).toBe(400);
    // One guess counted (the verification code's was forgotten when it matched).
    expect(await codeGuesses(u.email)).toBe(1);
    const res = await verify(u.email, code);
    expect(res.status).toBe(200);
    const body = await json(res);
    expect(body).toMatchObject({ status: "success", user: { id: u.user.id, email_verified: true } });
    expect(claims(body.access_token).amr).toEqual(["email"]);
    // The right code consumed the code and forgot the account's guesses, in one statement.
    expect(await codeGuesses(u.email)).toBe(0);
    // Not a first proof: the session signed in before stays, the address keeps its first proof's time, one email_verified row.
    expect((await call("/auth/me", { token: other.access_token })).status).toBe(200);
    const rows = await auditRows(u.user.id);
    expect(rows.filter((r) => r.event === "email_verified")).toHaveLength(1);
    expect(rows.find((r) => r.event === "login_succeeded" && r.detail?.method === "email_code")?.detail).toMatchObject({ amr: "email" });
    expect(
      await withDb((sql) => sql`select 1 from auth_events where user_id = ${u.user.id} and type = 'user.email_verified'`),
    ).toHaveLength(1);
    expect(verifiedAt).toBeInstanceOf(Date);
    expect((await userRow(u.user.id)).email_verified_at).toEqual(verifiedAt);
    // Single use.
    expect((await json(await verify(u.email, code))).code).toBe("otp_used");
  });

  it("an account whose only way in is a password still gets it; a social-only account too", async () => {
    const u = await registerUser();
    const code = await mailedCode(u.email);
    expect((await verify(u.email, code)).status).toBe(200);
    const social = await registerUser();
    await withDb((sql) => sql`update users set password = '!unusable' where id = ${social.user.id}`);
    expect((await verify(social.email, await mailedCode(social.email))).status).toBe(200);
  });

  it("an unknown email and a suspended or deleted account: the same 202 and body, and no mail", async () => {
    const known = await registerUser();
    const suspended = await registerUser();
    const deleted = await registerUser();
    await withDb((sql) => sql`update users set status = 'suspended' where id = ${suspended.user.id}`);
    await withDb((sql) => sql`update users set status = 'deleted' where id = ${deleted.user.id}`);
    const nobody = uniqueEmail("nobody");
    const answers = [];
    for (const email of [known.email, nobody, suspended.email, deleted.email]) {
      const res = await request(email);
      answers.push(`${res.status} ${await res.text()}`);
    }
    expect(new Set(answers).size).toBe(1);
    expect(answers[0]).toMatch(/^202 /);
    expect(await codeMails(known.email)).toHaveLength(1);
    expect(await codeMails(nobody)).toHaveLength(0);
    expect(await codeMails(suspended.email)).toHaveLength(0);
    expect(await codeMails(deleted.email)).toHaveLength(0);
    const refused = (await auditRows(suspended.user.id)).find((r) => r.event === "sign_in_code_requested");
    expect(refused).toMatchObject({ outcome: "failure", detail: { reason: "not_eligible" } });
  });

  it("a suspended account's right code (mailed before the suspension) is refused with its status and no session", async () => {
    const u = await registerUser();
    const code = await mailedCode(u.email);
    await withDb((sql) => sql`update users set status = 'suspended' where id = ${u.user.id}`);
    const res = await verify(u.email, code);
    expect(res.status).toBe(403);
    expect((await json(res)).code).toBe("account_suspended");
  });

  it("an MFA account answers mfa_required: the code alone gives no session and never opens the admin API", async () => {
    const clock = fakeClock();
    const u = await registerUser({}, { now: clock.now });
    const mfa = await enableMfa(u.access_token, clock);
    await setRole(u.user.id, "admin");
    clock.advance(61 * SEC);
    const code = await mailedCode(u.email, { now: clock.now });
    const res = await verify(u.email, code, { now: clock.now });
    expect(res.status).toBe(200);
    const step = await json(res);
    expect(step).toMatchObject({ status: "mfa_required", methods: ["totp", "recovery_code"] });
    expect(step.access_token).toBeUndefined();
    const sessions = await withDb((sql) => sql`select amr from auth_sessions where user_id = ${u.user.id} and 'email' = any(amr)`);
    expect(sessions).toHaveLength(0);

    // The second factor completes it: amr email+otp, multi-factor, and then the admin API opens.
    const done = await call("/auth/mfa/verify", {
      body: { mfa_token: step.mfa_token, code: await codeAt(mfa.secret, clock) },
      now: clock.now,
    });
    expect(done.status).toBe(200);
    const token = (await json(done)).access_token;
    expect(claims(token)).toMatchObject({ amr: ["email", "otp"], acr: "multi-factor" });
    expect((await call("/auth/admin/users", { token, now: clock.now })).status).toBe(200);
  });

  it("an admin without a second factor signed in by code is refused by the admin gate (a single factor)", async () => {
    const clock = fakeClock();
    const u = await registerUser({}, { now: clock.now });
    await setRole(u.user.id, "admin");
    clock.advance(61 * SEC);
    const code = await mailedCode(u.email, { now: clock.now });
    const token = (await json(await verify(u.email, code, { now: clock.now }))).access_token;
    const res = await call("/auth/admin/users", { token, now: clock.now, env: { REQUIRE_MFA_ROLES: "none" } });
    expect(res.status).toBe(403);
    expect((await json(res)).code).toBe("admin_mfa_required");
  });

  it("40 wrong codes in flight at once: at most the budget is compared, then the owner's right code works after the delay", async () => {
    const clock = fakeClock();
    const u = await registerUser({}, { now: clock.now });
    const code = await mailedCode(u.email, { now: clock.now });
    const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => verify(u.email, wrongCode(code, i + 1), { now: clock.now })));
    const statuses = answers.map((a) => a.status);
    expect(statuses.every((s) => s === 400 || s === 429)).toBe(true);
    const rows = (await auditRows(u.user.id)).filter((r) => r.event === "sign_in_code_failed");
    expect(rows).toHaveLength(40);
    const compared = rows.filter((r) => r.detail?.attempt !== undefined);
    // The per-account budget (OTP_FREE_FAILURES, 5) and the per-code limit (OTP_MAX_ATTEMPTS, 5).
    expect(compared.length).toBeLessThanOrEqual(5);
    expect(new Set(compared.map((r) => r.detail.attempt)).size).toBe(compared.length);
    const sessions = await withDb((sql) => sql`select id from auth_sessions where user_id = ${u.user.id} and 'email' = any(amr)`);
    expect(sessions).toHaveLength(0);
  });

  it("resend back-off: a second code too soon answers 429 with Retry-After (unknown emails alike), and after the wait a new code replaces the first", async () => {
    const clock = fakeClock();
    const u = await registerUser({}, { now: clock.now });
    const first = await mailedCode(u.email, { now: clock.now });
    clock.advance(10 * SEC);
    const nobody = uniqueEmail("nobody");
    expect((await request(nobody, { now: clock.now })).status).toBe(202);
    clock.advance(5 * SEC);
    const answers: string[] = [];
    for (const email of [u.email, nobody]) {
      const res = await request(email, { now: clock.now });
      expect(res.status).toBe(429);
      expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
      answers.push(await res.text());
    }
    expect(answers[0]).toBe(answers[1]);
    expect(await codeMails(u.email)).toHaveLength(1);
    clock.advance(61 * SEC);
    const second = await mailedCode(u.email, { now: clock.now });
    expect((await codeMails(u.email)).length).toBe(2);
    if (second !== first) expect((await json(await verify(u.email, first, { now: clock.now }))).code).toBe("invalid_otp");
    expect((await verify(u.email, second, { now: clock.now })).status).toBe(200);
  });

  it("expires after SIGN_IN_CODE_TTL (10 minutes by default)", async () => {
    const clock = fakeClock();
    const u = await registerUser({}, { now: clock.now });
    const code = await mailedCode(u.email, { now: clock.now });
    clock.advance(10 * 60 * SEC + SEC);
    const res = await verify(u.email, code, { now: clock.now });
    expect(res.status).toBe(400);
    expect((await json(res)).code).toBe("otp_expired");
  });

  it("SIGN_IN_CODE=false: both routes answer 404 not_found and nothing is mailed", async () => {
    const u = await registerUser();
    const env = { SIGN_IN_CODE: "false" };
    const res = await request(u.email, { env });
    expect(res.status).toBe(404);
    expect((await json(res)).code).toBe("not_found");
    expect(await codeMails(u.email)).toHaveLength(0);
    const v = await verify(u.email, "123456", { env });
    expect(v.status).toBe(404);
  });

  it("a password login records amr pwd and acr single-factor; with TOTP, pwd+otp and multi-factor", async () => {
    const clock = fakeClock();
    const a = await mfaAccount(clock);
    expect(claims(a.user.access_token)).toMatchObject({ amr: ["pwd"], acr: "single-factor" });
    const session = await loginWithMfa(a, clock);
    expect(claims(session.access_token)).toMatchObject({ amr: ["pwd", "otp"], acr: "multi-factor" });
  });
});
