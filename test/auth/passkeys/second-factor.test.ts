import { describe, expect, it } from "vitest";
import { login, PASSWORD, registerUser, verifyEmailOf } from "../../support/accounts";
import { adminAccount, setRole } from "../../support/admin";
import { fakeClock } from "../../support/clock";
import { auditRows } from "../../support/db";
import { claimsOf, codeAt, loginWithMfa, mfaAccount, verify } from "../../support/mfa";
import {
  addPasskey,
  authenticator,
  codeOf,
  passkeyLogin,
  registerVerify,
  registrationOptions,
  signInWithPasskey,
  stepUpWithPasskey,
  strip,
} from "../../support/passkeys";
import { call, json } from "../../support/worker";

// A passkey as the second step of a sign-in (the MFA challenge offers what the account holds and
// what completes the sign-in, by the ways-in registry), and REQUIRE_PHISHING_RESISTANT_ROLES.

type Clock = ReturnType<typeof fakeClock>;

/** POST /auth/login answering mfa_required: the body. */
async function passwordStep(email: string, clock?: Clock) {
  const res = await call("/auth/login", { body: { email, password: PASSWORD }, now: clock?.now });
  const body = await json(res);
  expect(body.status, JSON.stringify(body)).toBe("mfa_required");
  return body as { mfa_token: string; methods: string[] };
}

describe("a passkey as the second factor", () => {
  it("password + TOTP account with a passkey: offered with the codes; the passkey completes it, phishing-resistant", async () => {
    const clock = fakeClock();
    const at = { now: clock.now };
    const account = await mfaAccount(clock);
    const session = await loginWithMfa(account, clock);
    const device = authenticator();
    await addPasskey(session.access_token, device, { mfaCode: await codeAt(account.secret, clock), opts: at });
    clock.advance(30_000);
    const step = await passwordStep(account.user.email, clock);
    expect(step.methods).toEqual(["totp", "recovery_code", "passkey"]);
    const res = await stepUpWithPasskey(step.mfa_token, device, {}, at);
    expect(res.status, await res.clone().text()).toBe(200);
    const claims = claimsOf((await json(res)).access_token);
    expect(claims.amr).toEqual(["pwd", "swk", "user"]);
    expect(claims.acr).toBe("phishing-resistant");
    const verified = (await auditRows(account.user.user.id)).findLast((r) => r.event === "mfa_verified");
    expect(verified?.detail).toMatchObject({ method: "passkey", context: "sign_in" });
    // The mfa_token was used up.
    const again = await call("/auth/mfa/passkey/options", { body: { mfa_token: step.mfa_token }, ...at });
    expect([again.status, await codeOf(again)]).toEqual([401, "mfa_token_invalid"]);
  });

  it("a password-only account that added a passkey: the passkey, even without user verification, is its second factor", async () => {
    const user = await registerUser();
    await verifyEmailOf(user.email);
    const session = await login(user.email);
    const device = authenticator({ backupEligible: false, backupState: false });
    await addPasskey(session.access_token, device);
    const step = await passwordStep(user.email);
    expect(step.methods).toEqual(["passkey"]);
    const res = await stepUpWithPasskey(step.mfa_token, device, { userVerified: false });
    expect(res.status).toBe(200);
    expect(claimsOf((await json(res)).access_token)).toMatchObject({ amr: ["pwd", "hwk"], acr: "phishing-resistant" });
  });

  it("after a passkey without user verification: only a passkey with it completes the sign-in (a code adds no kind)", async () => {
    const clock = fakeClock();
    const at = { now: clock.now };
    const account = await mfaAccount(clock);
    const session = await loginWithMfa(account, clock);
    const device = authenticator();
    await addPasskey(session.access_token, device, { mfaCode: await codeAt(account.secret, clock), opts: at });
    clock.advance(30_000);
    const first = await passkeyLogin(device, { userVerified: false }, at);
    const step = await json(first);
    expect(step).toMatchObject({ status: "mfa_required", methods: ["passkey"] });
    // A TOTP code is possession, like the passkey: not offered, not accepted.
    const code = await verify({ mfa_token: step.mfa_token, code: await codeAt(account.secret, clock) }, clock);
    expect([code.status, await codeOf(code)]).toEqual([401, "mfa_token_invalid"]);
    const noUv = await stepUpWithPasskey(step.mfa_token, device, { userVerified: false }, at);
    expect([noUv.status, await codeOf(noUv)]).toEqual([401, "passkey_user_verification_required"]);
    const ok = await stepUpWithPasskey(step.mfa_token, device, {}, at);
    expect(ok.status, await ok.clone().text()).toBe(200);
    expect(claimsOf((await json(ok)).access_token).amr).toEqual(["swk", "swk", "user"]);
  });

  it("the challenge is the mfa_token's: another account's passkey, and a response to another token's options, are refused", async () => {
    const mine = authenticator();
    const other = authenticator();
    const a = await registerUser();
    await verifyEmailOf(a.email);
    await addPasskey((await login(a.email)).access_token, mine);
    const b = await registerUser();
    await verifyEmailOf(b.email);
    await addPasskey((await login(b.email)).access_token, other);
    const stepA = await passwordStep(a.email);
    const stepB = await passwordStep(b.email);
    // B's passkey for A's token: not one of A's.
    const optsA = (await json(await call("/auth/mfa/passkey/options", { body: { mfa_token: stepA.mfa_token } }))).options;
    const foreign = await call("/auth/mfa/verify", {
      body: { mfa_token: stepA.mfa_token, passkey: await other.authenticate(optsA, { credentialId: other.credentials[0].idB64 }) },
    });
    expect([foreign.status, await codeOf(foreign)]).toEqual([401, "passkey_unknown"]);
    // A's answer to the options of B's token, sent with A's token: the challenge is not A's token's.
    const optsB = (await json(await call("/auth/mfa/passkey/options", { body: { mfa_token: stepB.mfa_token } }))).options;
    const crossed = await call("/auth/mfa/verify", {
      body: { mfa_token: stepA.mfa_token, passkey: await mine.authenticate(optsB, { credentialId: mine.credentials[0].idB64 }) },
    });
    expect([crossed.status, await codeOf(crossed)]).toEqual([401, "passkey_challenge_invalid"]);
    // A's token still completes with A's passkey.
    expect((await stepUpWithPasskey(stepA.mfa_token, mine)).status).toBe(200);
  });

  it("an account without a passkey: the passkey options answer mfa_token_invalid", async () => {
    const clock = fakeClock();
    const account = await mfaAccount(clock);
    const step = await passwordStep(account.user.email, clock);
    expect(step.methods).toEqual(["totp", "recovery_code"]);
    const res = await call("/auth/mfa/passkey/options", { body: { mfa_token: step.mfa_token }, now: clock.now });
    expect([res.status, await codeOf(res)]).toEqual([401, "mfa_token_invalid"]);
  });

  it("exactly one of code, recovery_code and passkey", async () => {
    const res = await call("/auth/mfa/verify", { body: { mfa_token: "x", code: "123456", passkey: { id: "a" } } });
    expect(res.status).toBe(400);
  });
});

describe("REQUIRE_PHISHING_RESISTANT_ROLES", () => {
  const env = { REQUIRE_PHISHING_RESISTANT_ROLES: "admin" };

  it("an admin signed in with password + TOTP may only add a passkey and sign out; signed in with the passkey, everything", async () => {
    const clock = fakeClock();
    const at = { now: clock.now, env };
    const admin = await adminAccount(clock);
    // Password + TOTP: multi-factor, not phishing-resistant.
    for (const path of ["/admin/users?limit=1", "/sessions", "/mfa"]) {
      const res = await call(`/auth${path}`, { token: admin.token, ...at });
      expect([res.status, await codeOf(res)], path).toEqual([403, "phishing_resistant_required"]);
    }
    const refused = (await auditRows(admin.user.user.id)).findLast((r) => r.event === "admin_access_refused");
    expect(refused?.detail).toMatchObject({ reason: "phishing_resistant_required" });
    expect((await call("/auth/me", { token: admin.token, ...at })).status).toBe(200);
    // Enrollment: options and verify (the owner's proof: the password and a current code).
    const device = authenticator();
    const options = await registrationOptions(admin.token, at);
    const response = strip(await device.register(options));
    const added = await registerVerify(
      admin.token,
      { response, current_password: PASSWORD, mfa_code: await codeAt(admin.secret, clock) },
      at,
    );
    expect(added.status, await added.clone().text()).toBe(201);
    // Still this session: refused; a passkey sign-in: admitted.
    expect((await call("/auth/admin/users?limit=1", { token: admin.token, ...at })).status).toBe(403);
    const signedIn = await signInWithPasskey(device, {}, at);
    const ok = await call("/auth/admin/users?limit=1", { token: signedIn.access_token, ...at });
    expect(ok.status, await ok.clone().text()).toBe(200);
    expect((await call("/auth/logout", { method: "POST", token: admin.token, ...at })).status).toBe(200);
  });

  it("other roles are not affected, and the default (none) affects no one", async () => {
    const clock = fakeClock();
    const admin = await adminAccount(clock);
    expect((await call("/auth/admin/users?limit=1", { token: admin.token, now: clock.now })).status).toBe(200);
    const student = await registerUser();
    expect((await call("/auth/sessions", { token: student.access_token, env })).status).toBe(200);
  });

  it("applies to every listed role", async () => {
    const clock = fakeClock();
    const account = await mfaAccount(clock);
    await setRole(account.user.user.id, "instructor");
    const session = await loginWithMfa(account, clock);
    const roles = { REQUIRE_PHISHING_RESISTANT_ROLES: "admin, instructor" };
    const res = await call("/auth/sessions", { token: session.access_token, now: clock.now, env: roles });
    expect([res.status, await codeOf(res)]).toEqual([403, "phishing_resistant_required"]);
  });
});
