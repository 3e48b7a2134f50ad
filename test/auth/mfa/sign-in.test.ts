// Two-factor sign-in end to end: enrollment, the mfa_required login, verify with TOTP or a
// recovery code, single use of steps, codes and tokens (also with requests in flight at once),
// the per-account throttle, claims and sessions.
import { describe, expect, it } from "vitest";
import { createClient } from "../../../src/client";
import { PASSWORD, registerUser, verifyAndLogIn } from "../../support/accounts";
import { fakeClock, MIN, SEC } from "../../support/clock";
import { auditRows, withDb } from "../../support/db";
import { latestCode, mailsTo } from "../../support/mail";
import { base32Decode, claimsOf, codeAt, loginWithMfa, mfaAccount, mfaToken, verify, wrongTotp } from "../../support/mfa";
import { call, json } from "../../support/worker";

const RECOVERY_FORMAT = /^[0-9a-hjkmnp-tv-z]{4}-[0-9a-hjkmnp-tv-z]{4}-[0-9a-hjkmnp-tv-z]{4}$/;
/** A budget for tests whose subject is not the throttle. */
const ROOMY = { MFA_FREE_FAILURES: "50" };

/** n mfa_tokens for one account, one after the other (parallel right passwords would meet the login throttle). */
async function mfaTokens(email: string, clock: ReturnType<typeof fakeClock>, n: number) {
  const tokens: string[] = [];
  for (let i = 0; i < n; i++) tokens.push(await mfaToken(email, clock));
  return tokens;
}

const sessionCount = (userId: string) =>
  withDb(async (sql) => Number((await sql`select count(*) from auth_sessions where user_id = ${userId}`)[0].count));

describe("enroll, confirm, log in with TOTP", () => {
  it("enroll → confirm → logout → login answers mfa_required → verify → tokens with amr pwd+otp", async () => {
    const clock = fakeClock();
    const at = { now: clock.now };
    const u = await registerUser({}, at);
    expect(claimsOf(u.access_token)).toMatchObject({ amr: ["pwd"] });
    await verifyAndLogIn(u, at); // a factor is added only to a verified address (its proof ends the sessions)

    const status = await json(await call("/auth/mfa", { token: u.access_token, ...at }));
    expect(status).toEqual({ status: "success", totp: "off", recovery_codes_remaining: 0 });

    const enroll = await call("/auth/mfa/totp/enroll", { method: "POST", token: u.access_token, ...at });
    expect(enroll.status).toBe(200);
    const { secret, otpauth_uri } = await json(enroll);
    expect(secret).toMatch(/^[A-Z2-7]{32}$/); // 160 bits
    expect(otpauth_uri.startsWith(`otpauth://totp/Edge%20Auth:${encodeURIComponent(u.email)}?`)).toBe(true);
    expect(Object.fromEntries(new URL(otpauth_uri).searchParams)).toEqual({
      secret,
      issuer: "Edge Auth",
      algorithm: "SHA1",
      digits: "6",
      period: "30",
    });
    expect(otpauth_uri).toContain("issuer=Edge%20Auth"); // not "+": authenticator apps show it literally
    expect((await json(await call("/auth/mfa", { token: u.access_token, ...at }))).totp).toBe("pending");

    // Still pending: logging in needs no code yet.
    expect((await json(await call("/auth/login", { body: { email: u.email, password: PASSWORD }, ...at }))).status).toBe("success");

    const raw = base32Decode(secret);
    const wrong = await call("/auth/mfa/totp/confirm", {
      body: { code: await wrongTotp(raw, clock), current_password: PASSWORD },
      token: u.access_token,
      ...at,
    });
    expect(wrong.status).toBe(401);
    expect((await json(wrong)).code).toBe("invalid_mfa_code");

    const confirm = await call("/auth/mfa/totp/confirm", {
      body: { code: await codeAt(raw, clock), current_password: PASSWORD },
      token: u.access_token,
      ...at,
    });
    expect(confirm.status).toBe(200);
    const { recovery_codes } = await json(confirm);
    expect(recovery_codes).toHaveLength(10);
    expect(new Set(recovery_codes).size).toBe(10);
    for (const c of recovery_codes) expect(c).toMatch(RECOVERY_FORMAT);
    expect(await json(await call("/auth/mfa", { token: u.access_token, ...at }))).toEqual({
      status: "success",
      totp: "on",
      recovery_codes_remaining: 10,
    });
    const again = await call("/auth/mfa/totp/enroll", { method: "POST", token: u.access_token, ...at });
    expect(again.status).toBe(409);
    expect((await json(again)).code).toBe("mfa_already_enabled");

    const notice = (await mailsTo(u.email)).find((m) => /two-factor sign-in is on/i.test(m.subject));
    expect(notice).toBeDefined();
    for (const c of recovery_codes) expect(`${notice!.text}${notice!.html}`).not.toContain(c);

    expect((await call("/auth/logout", { method: "POST", token: u.access_token, ...at })).status).toBe(200);
    clock.advance(30 * SEC);

    const before = await sessionCount(u.user.id);
    const login = await call("/auth/login", { body: { email: u.email, password: PASSWORD }, ...at });
    expect(login.status).toBe(200);
    const step = await json(login);
    expect(step).toEqual({
      status: "mfa_required",
      message: expect.any(String),
      mfa_token: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
      expires_in: 300,
      methods: ["totp", "recovery_code"],
    });
    expect(await sessionCount(u.user.id)).toBe(before); // no session yet

    const done = await verify({ mfa_token: step.mfa_token, code: await codeAt(raw, clock) }, clock);
    expect(done.status).toBe(200);
    const body = await json(done);
    expect(body).toMatchObject({ status: "success", message: "Logged in.", token_type: "Bearer", user: { id: u.user.id, email: u.email } });
    const claims = claimsOf(body.access_token);
    expect(claims.amr).toEqual(["pwd", "otp"]);
    expect(claims.auth_time).toBe(Math.floor(clock.now().getTime() / 1000));
    expect(await sessionCount(u.user.id)).toBe(before + 1);
    expect((await call("/auth/me", { token: body.access_token, ...at })).status).toBe(200);
    const [session] = await withDb((sql) => sql`select array_to_json(amr) as amr from auth_sessions where id = ${claims.sid}`);
    expect(session.amr).toEqual(["pwd", "otp"]);

    // Refresh keeps the session's assurance: same amr, same auth_time, later iat.
    clock.advance(5 * MIN);
    const refreshed = await json(await call("/auth/refresh", { body: { refresh_token: body.refresh_token }, ...at }));
    const next = claimsOf(refreshed.access_token);
    expect(next).toMatchObject({ amr: ["pwd", "otp"], auth_time: claims.auth_time, sid: claims.sid });
    expect(next.iat).toBeGreaterThan(claims.iat);

    const events = (await auditRows(u.user.id)).map((r) => r.event);
    expect(events).toEqual(
      expect.arrayContaining(["mfa_enrollment_started", "mfa_failed", "mfa_enabled", "mfa_challenge_issued", "mfa_verified"]),
    );
  });

  it("verifies through the typed client", async () => {
    const clock = fakeClock();
    const account = await mfaAccount(clock);
    const api = createClient("http://auth.test", {
      fetch: (async (input: RequestInfo | URL, init?: RequestInit) =>
        call(new URL(String(input)).pathname, {
          method: init?.method,
          body: init?.body as string | undefined,
          headers: init?.headers as Record<string, string>,
          now: clock.now,
        })) as typeof fetch,
    });
    const first = await api.auth.login.$post({ json: { email: account.user.email, password: PASSWORD } });
    if (first.status !== 200) throw new Error(`login ${first.status}`);
    const step = await first.json();
    if (step.status !== "mfa_required") throw new Error("expected the MFA step");
    const done = await api.auth.mfa.verify.$post({ json: { mfa_token: step.mfa_token, code: await codeAt(account.secret, clock) } });
    if (done.status !== 200) throw new Error(`verify ${done.status}`);
    expect((await done.json()).token_type).toBe("Bearer");
  });
});

describe("TOTP codes are single-use and time-bound", () => {
  it("the same code twice: the second is refused, also for a code one step older", async () => {
    const clock = fakeClock();
    const a = await mfaAccount(clock);
    const code = await codeAt(a.secret, clock);
    const first = await verify({ mfa_token: await mfaToken(a.user.email, clock), code }, clock);
    expect(first.status).toBe(200);
    const second = await verify({ mfa_token: await mfaToken(a.user.email, clock), code }, clock);
    expect(second.status).toBe(401);
    expect((await json(second)).code).toBe("mfa_code_used");
    // The previous step is still inside the window, but older than the one used: refused too.
    const older = await verify({ mfa_token: await mfaToken(a.user.email, clock), code: await codeAt(a.secret, clock, -1) }, clock);
    expect(older.status).toBe(401);
    // The next step works.
    clock.advance(30 * SEC);
    expect((await verify({ mfa_token: await mfaToken(a.user.email, clock), code: await codeAt(a.secret, clock) }, clock)).status).toBe(200);
  });

  it("the same code in 10 requests at once: exactly one session", async () => {
    const clock = fakeClock();
    const a = await mfaAccount(clock);
    const tokens = await mfaTokens(a.user.email, clock, 10);
    const code = await codeAt(a.secret, clock);
    const before = await sessionCount(a.user.user.id);
    const results = await Promise.all(
      tokens.map((mfa_token) => call("/auth/mfa/verify", { body: { mfa_token, code }, now: clock.now, env: ROOMY })),
    );
    const statuses = results.map((r) => r.status).sort();
    expect(statuses).toEqual([200, ...Array(9).fill(401)]);
    const codes = await Promise.all(results.filter((r) => r.status === 401).map(async (r) => (await json(r)).code));
    expect(new Set(codes)).toEqual(new Set(["mfa_code_used"]));
    expect(await sessionCount(a.user.user.id)).toBe(before + 1);
  });

  it("a code from two steps ago is refused; one step either side is accepted", async () => {
    const clock = fakeClock();
    const a = await mfaAccount(clock);
    clock.advance(30 * SEC); // the step before now was not used by the enrollment's confirm
    const stale = await verify({ mfa_token: await mfaToken(a.user.email, clock), code: await codeAt(a.secret, clock, -2) }, clock);
    expect(stale.status).toBe(401);
    expect((await json(stale)).code).toBe("invalid_mfa_code");
    const early = await verify({ mfa_token: await mfaToken(a.user.email, clock), code: await codeAt(a.secret, clock, 2) }, clock);
    expect(early.status).toBe(401);
    const behind = await verify({ mfa_token: await mfaToken(a.user.email, clock), code: await codeAt(a.secret, clock, -1) }, clock);
    expect(behind.status).toBe(200);
    const ahead = await verify({ mfa_token: await mfaToken(a.user.email, clock), code: await codeAt(a.secret, clock, 1) }, clock);
    expect(ahead.status).toBe(200);
  });
});

describe("recovery codes", () => {
  it("each works exactly once, in any spelling, and its use is mailed", async () => {
    const clock = fakeClock();
    const a = await mfaAccount(clock);
    const [first, second] = a.recoveryCodes;
    // Upper case, without hyphens, with spaces: the same code.
    const typed = first.toUpperCase().replace(/-/g, " ");
    const ok = await verify({ mfa_token: await mfaToken(a.user.email, clock), recovery_code: typed }, clock);
    expect(ok.status).toBe(200);
    expect(claimsOf((await json(ok)).access_token).amr).toEqual(["pwd", "otp"]);
    const reused = await verify({ mfa_token: await mfaToken(a.user.email, clock), recovery_code: first }, clock);
    expect(reused.status).toBe(401);
    expect((await json(reused)).code).toBe("invalid_mfa_code");
    expect((await verify({ mfa_token: await mfaToken(a.user.email, clock), recovery_code: second }, clock)).status).toBe(200);

    const mail = (await mailsTo(a.user.email)).find((m) => /recovery code was used/i.test(m.subject));
    expect(mail?.text).toMatch(/8 unused recovery codes left/);
    const token = (await loginWithMfa(a, clock)).access_token;
    expect((await json(await call("/auth/mfa", { token, now: clock.now }))).recovery_codes_remaining).toBe(8);
    const used = (await auditRows(a.user.user.id)).filter((r) => r.event === "recovery_code_used");
    expect(used.map((r) => r.detail.remaining).sort()).toEqual([8, 9]);
  });

  it("one recovery code in 10 requests at once: exactly one session", async () => {
    const clock = fakeClock();
    const a = await mfaAccount(clock);
    const tokens = await mfaTokens(a.user.email, clock, 10);
    const code = a.recoveryCodes[3];
    const results = await Promise.all(
      tokens.map((mfa_token) => call("/auth/mfa/verify", { body: { mfa_token, recovery_code: code }, now: clock.now, env: ROOMY })),
    );
    expect(results.map((r) => r.status).sort()).toEqual([200, ...Array(9).fill(401)]);
    const [row] = await withDb(
      (sql) => sql`select count(*)::int as unused from auth_mfa_recovery_codes where user_id = ${a.user.user.id} and used_at is null`,
    );
    expect(row.unused).toBe(9);
  });
});

describe("the mfa_token", () => {
  it("expires after 5 minutes (controlled clock)", async () => {
    const clock = fakeClock();
    const a = await mfaAccount(clock);
    const token = await mfaToken(a.user.email, clock);
    clock.advance(5 * MIN + SEC);
    const late = await verify({ mfa_token: token, code: await codeAt(a.secret, clock) }, clock);
    expect(late.status).toBe(401);
    expect((await json(late)).code).toBe("mfa_token_invalid");
    // The code was not used up by the refused attempt.
    expect((await verify({ mfa_token: await mfaToken(a.user.email, clock), code: await codeAt(a.secret, clock) }, clock)).status).toBe(200);
  });

  it("survives a typo, works once, and a reused or made-up token is refused", async () => {
    const clock = fakeClock();
    const a = await mfaAccount(clock);
    const token = await mfaToken(a.user.email, clock);
    expect((await verify({ mfa_token: token, code: await wrongTotp(a.secret, clock) }, clock)).status).toBe(401);
    expect((await verify({ mfa_token: token, code: await codeAt(a.secret, clock) }, clock)).status).toBe(200);
    clock.advance(30 * SEC);
    const reused = await verify({ mfa_token: token, code: await codeAt(a.secret, clock) }, clock);
    expect(reused.status).toBe(401);
    expect((await json(reused)).code).toBe("mfa_token_invalid");
    const madeUp = await verify({ mfa_token: "A".repeat(43), code: await codeAt(a.secret, clock) }, clock);
    expect((await json(madeUp)).code).toBe("mfa_token_invalid");
  });

  it("one token with a TOTP code and a recovery code at once: one session, and the loser's code stays unused", async () => {
    const clock = fakeClock();
    const a = await mfaAccount(clock);
    const token = await mfaToken(a.user.email, clock);
    const code = await codeAt(a.secret, clock);
    const [byCode, byRecovery] = await Promise.all([
      verify({ mfa_token: token, code }, clock),
      verify({ mfa_token: token, recovery_code: a.recoveryCodes[0] }, clock),
    ]);
    expect([byCode.status, byRecovery.status].sort()).toEqual([200, 401]);
    const loser = byCode.status === 401 ? { code } : { recovery_code: a.recoveryCodes[0] };
    expect((await json(byCode.status === 401 ? byCode : byRecovery)).code).toBe("mfa_token_invalid");
    expect((await verify({ mfa_token: await mfaToken(a.user.email, clock), ...loser }, clock)).status).toBe(200);
  });

  it("is bound to the password it followed: a reset in between refuses it, and never removes the factor", async () => {
    const clock = fakeClock();
    const at = { now: clock.now };
    const a = await mfaAccount(clock);
    const token = await mfaToken(a.user.email, clock);
    expect((await call("/auth/forgot-password", { body: { email: a.user.email }, ...at })).status).toBe(200);
    const otp = await latestCode(a.user.email, /reset/i);
    const newPassword = "Quiet-Lantern-Orbit-4821";
    const reset = await call("/auth/reset-password", {
      body: { email: a.user.email, otp, new_password: newPassword },
      env: { BREACHED_PASSWORD_CHECK: "off" },
      ...at,
    });
    expect(reset.status).toBe(200);
    const stale = await verify({ mfa_token: token, code: await codeAt(a.secret, clock) }, clock);
    expect(stale.status).toBe(401);
    expect((await json(stale)).code).toBe("mfa_token_invalid");
    // The new password still leads to the second factor.
    const fresh = await mfaToken(a.user.email, clock, newPassword);
    expect((await verify({ mfa_token: fresh, code: await codeAt(a.secret, clock) }, clock)).status).toBe(200);
  });
});

describe("wrong codes are throttled per account", () => {
  it("50 wrong codes at once: at most MFA_FREE_FAILURES are compared, the rest wait; then the owner gets in", async () => {
    const clock = fakeClock();
    const a = await mfaAccount(clock);
    const token = await mfaToken(a.user.email, clock);
    const wrong = await wrongTotp(a.secret, clock);
    const results = await Promise.all(Array.from({ length: 50 }, () => verify({ mfa_token: token, code: wrong }, clock)));
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 401)).toHaveLength(5);
    expect(statuses.filter((s) => s === 429)).toHaveLength(45);
    const limited = results.find((r) => r.status === 429)!;
    expect(Number(limited.headers.get("Retry-After"))).toBeGreaterThanOrEqual(1);
    expect((await json(limited)).code).toBe("too_many_requests");
    const compared = (await auditRows(a.user.user.id)).filter((r) => r.event === "mfa_failed" && r.outcome === "failure");
    expect(compared).toHaveLength(5);

    // Even the right code waits out the delay (nothing is compared meanwhile), then works.
    const right = await codeAt(a.secret, clock);
    expect((await verify({ mfa_token: token, code: right }, clock)).status).toBe(429);
    clock.advance(2 * SEC);
    expect((await verify({ mfa_token: token, code: right }, clock)).status).toBe(200);
    // The success cleared the count: five free wrong codes again.
    const next = await mfaToken(a.user.email, clock);
    const again = await Promise.all(Array.from({ length: 6 }, () => verify({ mfa_token: next, code: wrong }, clock)));
    expect(again.map((r) => r.status).sort()).toEqual([401, 401, 401, 401, 401, 429]);
  });
});
