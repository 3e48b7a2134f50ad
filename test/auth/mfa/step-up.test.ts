// Step-up and policy: recent login for the routes that weaken an account, mfa_code on
// change-password, new recovery codes, turning MFA off, and REQUIRE_MFA_ROLES (an admin without a
// factor can only enroll).
import { describe, expect, it } from "vitest";
import { hashPassword, scryptParams } from "../../../src/auth/password/hash";
import { getConfig } from "../../../src/config";
import { login, PASSWORD, registerUser, uniqueEmail, verifyAndLogIn } from "../../support/accounts";
import { fakeClock, MIN, SEC } from "../../support/clock";
import { auditRows, withDb } from "../../support/db";
import { mailsTo } from "../../support/mail";
import { base32Decode, claimsOf, codeAt, enableMfa, loginWithMfa, mfaAccount, mfaToken, verify, wrongTotp } from "../../support/mfa";
import { call, json, recordStatements, testEnv } from "../../support/worker";

const NEW_PASSWORD = "Quiet-Lantern-Orbit-4821";
const NO_BREACH_CHECK = { BREACHED_PASSWORD_CHECK: "off" };

describe("recent login (RECENT_AUTH_MAX_AGE)", () => {
  it("turning MFA off needs a login within 10 minutes: 403 recent_login_required, a refresh does not renew it", async () => {
    const clock = fakeClock();
    const a = await mfaAccount(clock);
    const session = await loginWithMfa(a, clock);
    clock.advance(11 * MIN);
    // The refreshed access token carries the session's sign-in time, not the refresh's.
    const refreshed = await json(await call("/auth/refresh", { body: { refresh_token: session.refresh_token }, now: clock.now }));
    const token = refreshed.access_token;
    for (const [path, body] of [
      ["/auth/mfa/totp/disable", { code: await codeAt(a.secret, clock), current_password: PASSWORD }],
      ["/auth/mfa/recovery-codes", { code: await codeAt(a.secret, clock), current_password: PASSWORD }],
    ] as const) {
      const res = await call(path, { body, token, now: clock.now });
      expect(res.status, path).toBe(403);
      expect((await json(res)).code, path).toBe("recent_login_required");
    }
    // Nothing changed, the code was not used up.
    expect((await json(await call("/auth/mfa", { token, now: clock.now }))).totp).toBe("on");

    const fresh = await loginWithMfa(a, clock);
    const off = await call("/auth/mfa/totp/disable", {
      body: { code: await codeAt(a.secret, clock), current_password: PASSWORD },
      token: fresh.access_token,
      now: clock.now,
    });
    expect(off.status).toBe(200);
    const rows = await withDb(
      (sql) => sql`select (select count(*)::int from auth_mfa_factors where user_id = ${a.user.user.id}) as factors,
                          (select count(*)::int from auth_mfa_recovery_codes where user_id = ${a.user.user.id}) as codes`,
    );
    expect(rows[0]).toEqual({ factors: 0, codes: 0 });
    expect((await mailsTo(a.user.email)).some((m) => /two-factor sign-in was turned off/i.test(m.subject))).toBe(true);
    expect((await auditRows(a.user.user.id)).some((r) => r.event === "mfa_disabled")).toBe(true);
    // The password alone signs in again.
    const plain = await json(await call("/auth/login", { body: { email: a.user.email, password: PASSWORD }, now: clock.now }));
    expect(plain.status).toBe("success");
    expect(claimsOf(plain.access_token).amr).toEqual(["pwd"]);
  });

  it("enrolling needs a recent login; the window is RECENT_AUTH_MAX_AGE", async () => {
    const clock = fakeClock();
    const u = await registerUser({}, { now: clock.now });
    await verifyAndLogIn(u, { now: clock.now });
    clock.advance(10 * MIN + SEC);
    const stale = await call("/auth/mfa/totp/enroll", { method: "POST", token: u.access_token, now: clock.now });
    expect(stale.status).toBe(403);
    expect((await json(stale)).code).toBe("recent_login_required");
    const longer = await call("/auth/mfa/totp/enroll", {
      method: "POST",
      token: u.access_token,
      now: clock.now,
      env: { RECENT_AUTH_MAX_AGE: "15m" },
    });
    expect(longer.status).toBe(200);
  });

  it("turning MFA off with a recovery code works (the lost-phone path)", async () => {
    const clock = fakeClock();
    const a = await mfaAccount(clock);
    const token = await mfaToken(a.user.email, clock);
    const signedIn = await json(await verify({ mfa_token: token, recovery_code: a.recoveryCodes[0] }, clock));
    const wrong = await call("/auth/mfa/totp/disable", {
      body: { recovery_code: a.recoveryCodes[0], current_password: PASSWORD },
      token: signedIn.access_token,
      now: clock.now,
    });
    expect(wrong.status).toBe(401); // already used for the sign-in
    const off = await call("/auth/mfa/totp/disable", {
      body: { recovery_code: a.recoveryCodes[1], current_password: PASSWORD },
      token: signedIn.access_token,
      now: clock.now,
    });
    expect(off.status).toBe(200);
    const both = await call("/auth/mfa/totp/disable", {
      body: { code: "123456", recovery_code: a.recoveryCodes[2], current_password: PASSWORD },
      token: signedIn.access_token,
      now: clock.now,
    });
    expect(both.status).toBe(400);
  });
});

describe("turning MFA on and off is a credential change", () => {
  it("confirming needs the current password; turning MFA on ends every other session, the current one goes on", async () => {
    const clock = fakeClock();
    const at = { now: clock.now };
    const u = await registerUser({}, at);
    await verifyAndLogIn(u, at);
    const other = await login(u.email, PASSWORD, at); // e.g. a stolen session, signed in with the password alone
    const enroll = await json(await call("/auth/mfa/totp/enroll", { method: "POST", token: u.access_token, ...at }));
    const secret = base32Decode(enroll.secret);
    const confirm = (body: Record<string, unknown>) => call("/auth/mfa/totp/confirm", { body, token: u.access_token, ...at });
    const missing = await confirm({ code: await codeAt(secret, clock) });
    expect([missing.status, (await json(missing)).code]).toEqual([400, "validation_failed"]);
    const wrong = await confirm({ code: await codeAt(secret, clock), current_password: "Not-The-Passw0rd!" });
    expect([wrong.status, (await json(wrong)).code]).toEqual([401, "invalid_current_password"]);
    expect((await json(await call("/auth/mfa", { token: u.access_token, ...at }))).totp).toBe("pending");
    expect((await call("/auth/me", { token: other.access_token, ...at })).status).toBe(200);

    const on = await confirm({ code: await codeAt(secret, clock), current_password: PASSWORD });
    expect(on.status, await on.clone().text()).toBe(200);
    expect((await call("/auth/me", { token: other.access_token, ...at })).status).toBe(401);
    expect((await call("/auth/refresh", { body: { refresh_token: other.refresh_token }, ...at })).status).toBe(401);
    // The session that turned it on continues, as it was signed in (no second factor proven).
    expect((await call("/auth/me", { token: u.access_token, ...at })).status).toBe(200);
    const refreshed = await json(await call("/auth/refresh", { body: { refresh_token: u.refresh_token }, ...at }));
    expect(claimsOf(refreshed.access_token).amr).toEqual(["pwd"]);
    const enabled = (await auditRows(u.user.id)).find((r) => r.event === "mfa_enabled" && r.outcome === "success");
    expect(enabled?.detail).toEqual({ method: "totp", sessions_ended: 1 });
  });

  it("turning it off and replacing the recovery codes need the current password too; each is mailed", async () => {
    const clock = fakeClock();
    const a = await mfaAccount(clock);
    const session = await loginWithMfa(a, clock);
    const at = { token: session.access_token, now: clock.now };
    for (const path of ["/auth/mfa/totp/disable", "/auth/mfa/recovery-codes"]) {
      const missing = await call(path, { body: { code: await codeAt(a.secret, clock) }, ...at });
      expect([path, missing.status, (await json(missing)).code]).toEqual([path, 400, "validation_failed"]);
      const wrong = await call(path, { body: { code: await codeAt(a.secret, clock), current_password: "Not-The-Passw0rd!" }, ...at });
      expect([path, wrong.status, (await json(wrong)).code]).toEqual([path, 401, "invalid_current_password"]);
    }
    // The code was not used by the refusals: it still replaces the codes.
    const replaced = await call("/auth/mfa/recovery-codes", {
      body: { code: await codeAt(a.secret, clock), current_password: PASSWORD },
      ...at,
    });
    expect(replaced.status, await replaced.clone().text()).toBe(200);
    const notice = (await mailsTo(a.user.email, "mfa_recovery_codes_regenerated"))[0];
    expect(notice?.subject).toMatch(/New recovery codes/);
    for (const c of (await json(replaced)).recovery_codes) expect(notice.text + notice.html).not.toContain(c);
  });

  it("an account without a password turns it off with a recent sign-in and the code", async () => {
    const clock = fakeClock();
    const u = await registerUser({}, { now: clock.now });
    const mfa = await enableMfa(u.access_token, clock);
    u.access_token = mfa.token; // the session that enrolled (the address's verification ended the first)
    // Make it password-less (as a social-only or create-admin account is).
    await withDb((sql) => sql`update users set password = ${`!${"0".repeat(40)}`} where id = ${u.user.id}`);
    const off = await call("/auth/mfa/totp/disable", {
      body: { code: await codeAt(mfa.secret, clock) },
      token: u.access_token,
      now: clock.now,
    });
    expect(off.status, await off.clone().text()).toBe(200);
  });
});

describe("recovery codes can be replaced", () => {
  it("with a recent login and a TOTP code: the old set stops working, the new one works", async () => {
    const clock = fakeClock();
    const a = await mfaAccount(clock);
    const session = await loginWithMfa(a, clock);
    const wrong = await call("/auth/mfa/recovery-codes", {
      body: { code: await wrongTotp(a.secret, clock), current_password: PASSWORD },
      token: session.access_token,
      now: clock.now,
    });
    expect(wrong.status).toBe(401);
    const res = await call("/auth/mfa/recovery-codes", {
      body: { code: await codeAt(a.secret, clock), current_password: PASSWORD },
      token: session.access_token,
      now: clock.now,
    });
    expect(res.status).toBe(200);
    const { recovery_codes } = await json(res);
    expect(recovery_codes).toHaveLength(10);
    expect(recovery_codes.filter((c: string) => a.recoveryCodes.includes(c))).toEqual([]);
    const old = await verify({ mfa_token: await mfaToken(a.user.email, clock), recovery_code: a.recoveryCodes[5] }, clock);
    expect(old.status).toBe(401);
    const fresh = await verify({ mfa_token: await mfaToken(a.user.email, clock), recovery_code: recovery_codes[5] }, clock);
    expect(fresh.status).toBe(200);
  });
});

describe("change-password on an account with MFA", () => {
  it("needs mfa_code besides the current password: missing 403, wrong 401, right 200 with amr pwd+otp", async () => {
    const clock = fakeClock();
    const a = await mfaAccount(clock);
    const session = await loginWithMfa(a, clock);
    const at = { token: session.access_token, now: clock.now, env: NO_BREACH_CHECK };
    const missing = await call("/auth/change-password", { body: { current_password: PASSWORD, new_password: NEW_PASSWORD }, ...at });
    expect(missing.status).toBe(403);
    expect((await json(missing)).code).toBe("mfa_code_required");
    const wrong = await call("/auth/change-password", {
      body: { current_password: PASSWORD, new_password: NEW_PASSWORD, mfa_code: await wrongTotp(a.secret, clock) },
      ...at,
    });
    expect(wrong.status).toBe(401);
    expect((await json(wrong)).code).toBe("invalid_mfa_code");
    // Unchanged so far.
    expect((await json(await call("/auth/login", { body: { email: a.user.email, password: PASSWORD }, now: clock.now }))).status).toBe(
      "mfa_required",
    );
    const ok = await call("/auth/change-password", {
      body: { current_password: PASSWORD, new_password: NEW_PASSWORD, mfa_code: await codeAt(a.secret, clock) },
      ...at,
    });
    expect(ok.status).toBe(200);
    expect(claimsOf((await json(ok)).access_token).amr).toEqual(["pwd", "otp"]);
  });

  it("accepts a recovery code as mfa_code; an account without MFA needs none", async () => {
    const clock = fakeClock();
    const a = await mfaAccount(clock);
    const session = await loginWithMfa(a, clock);
    const ok = await call("/auth/change-password", {
      body: { current_password: PASSWORD, new_password: NEW_PASSWORD, mfa_code: a.recoveryCodes[9] },
      token: session.access_token,
      now: clock.now,
      env: NO_BREACH_CHECK,
    });
    expect(ok.status).toBe(200);
    const plain = await registerUser();
    const res = await call("/auth/change-password", {
      body: { current_password: PASSWORD, new_password: NEW_PASSWORD },
      token: plain.access_token,
      env: NO_BREACH_CHECK,
    });
    expect(res.status).toBe(200);
  });
});

/** An admin account created in the database directly (no API route makes an admin), its address vouched for by the operator. */
async function createAdmin(): Promise<{ id: string; email: string }> {
  const id = crypto.randomUUID();
  const email = uniqueEmail("admin");
  const hash = await hashPassword(PASSWORD, scryptParams(getConfig(testEnv)));
  await withDb(
    (sql) =>
      sql`insert into users (id, full_name, email, password, role, email_verified_at) values (${id}, 'Admin', ${email}, ${hash}, 'admin', now())`,
  );
  return { id, email };
}

describe("REQUIRE_MFA_ROLES", () => {
  it("an admin without a factor can log in, but only enroll (and read /me) until MFA is on", async () => {
    const clock = fakeClock();
    const admin = await createAdmin();
    const session = await login(admin.email, PASSWORD, { now: clock.now });
    const token = session.access_token;
    const at = { token, now: clock.now };
    const refused: [string, { method?: string; body?: unknown }][] = [
      ["/auth/sessions", {}],
      ["/auth/logout-all", { method: "POST" }],
      ["/auth/change-password", { body: { current_password: PASSWORD, new_password: NEW_PASSWORD } }],
      [`/auth/sessions/${crypto.randomUUID()}`, { method: "DELETE" }],
      ["/auth/mfa/totp/disable", { body: { code: "123456" } }],
      ["/auth/mfa/recovery-codes", { body: { code: "123456" } }],
    ];
    const form = new FormData();
    form.set("full_name", "Renamed");
    refused.push(["/auth/update-profile", { body: form }]);
    for (const [path, opts] of refused) {
      const res = await call(path, { ...opts, ...at });
      expect(res.status, path).toBe(403);
      expect((await json(res)).code, path).toBe("mfa_enrollment_required");
    }
    expect((await call("/auth/me", at)).status).toBe(200);
    expect((await json(await call("/auth/mfa", at))).totp).toBe("off");
    // A refreshed token is held to the same rule.
    const refreshed = await json(await call("/auth/refresh", { body: { refresh_token: session.refresh_token }, now: clock.now }));
    expect((await call("/auth/sessions", { token: refreshed.access_token, now: clock.now })).status).toBe(403);

    await enableMfa(refreshed.access_token, clock);
    // The same session may do everything once the account has a factor.
    expect((await call("/auth/sessions", { token: refreshed.access_token, now: clock.now })).status).toBe(200);
    expect((await json(await call("/auth/login", { body: { email: admin.email, password: PASSWORD }, now: clock.now }))).status).toBe(
      "mfa_required",
    );
  });

  it("applies only to the listed roles; REQUIRE_MFA_ROLES=none turns it off", async () => {
    const admin = await createAdmin();
    const { access_token } = await login(admin.email);
    expect((await call("/auth/sessions", { token: access_token, env: { REQUIRE_MFA_ROLES: "none" } })).status).toBe(200);
    expect((await call("/auth/sessions", { token: access_token, env: { REQUIRE_MFA_ROLES: "instructor" } })).status).toBe(200);
    const instructor = await registerUser({ role: "instructor" });
    const res = await call("/auth/sessions", { token: instructor.access_token, env: { REQUIRE_MFA_ROLES: "admin,instructor" } });
    expect(res.status).toBe(403);
    expect((await call("/auth/sessions", { token: instructor.access_token })).status).toBe(200);
  });

  it("the session check reads the second factors only when the route's policy can refuse on them", async () => {
    const admin = await createAdmin();
    const { access_token: token } = await login(admin.email);
    /** The statement of authenticate(): the live session joined to its account. */
    const sessionCheck = async (path: string, env: Record<string, string> = {}) => {
      let status = 0;
      const statements = await recordStatements(async () => {
        status = (await call(path, { token, env })).status;
      });
      const checks = statements.filter((q) => /from "auth_sessions" inner join "users"/i.test(q));
      expect(checks, path).toHaveLength(1);
      return { status, readsFactors: /auth_mfa_/.test(checks[0]) };
    };
    // /me is open to an account that must enroll: nothing to read, and the admin without a factor gets in.
    expect(await sessionCheck("/auth/me")).toEqual({ status: 200, readsFactors: false });
    // Any other route can refuse it (REQUIRE_MFA_ROLES includes admin): read, and refused.
    expect(await sessionCheck("/auth/sessions")).toEqual({ status: 403, readsFactors: true });
    // No role must use MFA: nothing to read, and let through.
    expect(await sessionCheck("/auth/sessions", { REQUIRE_MFA_ROLES: "none" })).toEqual({ status: 200, readsFactors: false });
  });
});
