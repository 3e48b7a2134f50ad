import { describe, expect, it } from "vitest";
import { PASSWORD, registerUser, uniqueEmail, verifyEmailOf } from "../../support/accounts";
import { DAY, fakeClock } from "../../support/clock";
import { auditRows, userRow, withDb } from "../../support/db";
import { latestCode, mailsTo } from "../../support/mail";
import { claimsOf } from "../../support/mfa";
import { authenticator, codeOf, passkeyLogin, signInWithPasskey, signUp, signUpOptions, strip } from "../../support/passkeys";
import { b64url } from "../../support/software-authenticator";
import { call, json, runScheduled } from "../../support/worker";

// Passkey-first sign-up: an account whose only way in is its passkey, answering a taken address
// exactly as registration does, never a way into an existing account.

const passkeyCount = (userId: string) =>
  withDb(async (sql) => (await sql`select count(*)::int as n from auth_passkeys where user_id = ${userId}`)[0].n as number);

describe("passkey-first sign-up", () => {
  it("creates an account without a password, mails the verification code, and signs in (no address typed later)", async () => {
    const email = uniqueEmail("pk");
    const device = authenticator();
    const res = await signUp(device, email);
    expect(res.status, await res.clone().text()).toBe(201);
    const body = await json(res);
    expect(body).toMatchObject({ status: "success", user: { email, full_name: "Passkey User", role: "student", email_verified: false } });
    expect(claimsOf(body.access_token)).toMatchObject({ amr: ["swk", "user"], acr: "phishing-resistant" });
    const row = await userRow(body.user.id);
    expect(row.password.startsWith("!")).toBe(true);
    expect(row.webauthn_user_id).toBe(b64url(device.credentials[0].userHandle));
    expect(await latestCode(email, /verification code/)).toMatch(/^\d{6}$/);
    const events = (await auditRows(body.user.id)).map((r) => [r.event, r.detail?.method ?? r.detail?.context]);
    expect(events).toEqual(
      expect.arrayContaining([
        ["passkey_registered", "sign_up"],
        ["registered", "passkey"],
      ]),
    );
    // Password login has nothing to match.
    const pwd = await call("/auth/login", { body: { email, password: PASSWORD } });
    expect(pwd.status).toBe(401);
    expect((await signInWithPasskey(device)).user.id).toBe(body.user.id);
    // The user handle is the account's, random, and the passkey made at sign-up carries it.
    expect(new TextDecoder().decode(device.credentials[0].userHandle)).not.toContain(email);
  });

  it("a taken address answers like registration: 409 at the options, and at the verify if taken meanwhile (nothing added to that account)", async () => {
    const owner = await registerUser();
    const taken = await signUpOptions(owner.email);
    expect([taken.status, await codeOf(taken)]).toEqual([409, "email_taken"]);
    // Taken between the options and the verify.
    const email = uniqueEmail("race");
    const device = authenticator();
    const optionsRes = await signUpOptions(email);
    const { options, challenge_token } = await json(optionsRes);
    const squatter = await registerUser({ email });
    const res = await call("/auth/passkeys/signup/verify", {
      body: { challenge_token, response: strip(await device.register(options)) },
    });
    expect([res.status, await codeOf(res)]).toEqual([409, "email_taken"]);
    expect(await passkeyCount(squatter.user.id)).toBe(0);
    expect((await passkeyLogin(device)).status).toBe(401);
  });

  it("REGISTER_ENUMERATION_SAFE: the same 202 for a new and a taken address; the owner is mailed, nothing joins the account", async () => {
    const env = { REGISTER_ENUMERATION_SAFE: "true" };
    const owner = await registerUser();
    const fresh = await signUp(authenticator(), uniqueEmail("safe"), {}, { env });
    const takenDevice = authenticator();
    const taken = await signUp(takenDevice, owner.email, {}, { env });
    expect([fresh.status, taken.status]).toEqual([202, 202]);
    expect(await json(fresh)).toEqual(await json(taken));
    expect(await passkeyCount(owner.user.id)).toBe(0);
    expect((await mailsTo(owner.email, "registration_attempt")).length).toBeGreaterThan(0);
  });

  it("REQUIRE_VERIFIED_EMAIL: no session until the address is verified, then the passkey signs in", async () => {
    const env = { REQUIRE_VERIFIED_EMAIL: "all" };
    const email = uniqueEmail("verify");
    const device = authenticator();
    const res = await signUp(device, email, {}, { env });
    expect(res.status).toBe(202);
    expect((await json(res)).access_token).toBeUndefined();
    await verifyEmailOf(email, { env });
    expect((await signInWithPasskey(device, {}, { env })).user.email).toBe(email);
  });

  it("the challenge_token works once", async () => {
    const data = await json(await signUpOptions(uniqueEmail("once")));
    const response = strip(await authenticator().register(data.options));
    const first = await call("/auth/passkeys/signup/verify", { body: { challenge_token: data.challenge_token, response } });
    expect(first.status).toBe(201);
    const again = await call("/auth/passkeys/signup/verify", { body: { challenge_token: data.challenge_token, response } });
    expect([again.status, await codeOf(again)]).toEqual([401, "passkey_challenge_invalid"]);
  });

  it("a password reset (the mailbox's owner taking the address back) drops a passkey made before the address was verified", async () => {
    const email = uniqueEmail("squat");
    const squatterDevice = authenticator();
    expect((await signUp(squatterDevice, email)).status).toBe(201);
    // The owner of the mailbox resets the password.
    expect((await call("/auth/forgot-password", { body: { email } })).status).toBe(200);
    const otp = await latestCode(email, /reset/i);
    const reset = await call("/auth/reset-password", { body: { email, otp, new_password: "Owners-New-Passw0rd!" } });
    expect(reset.status, await reset.clone().text()).toBe(200);
    const res = await passkeyLogin(squatterDevice);
    expect([res.status, await codeOf(res)]).toEqual([401, "passkey_unknown"]);
  });

  it("anonymisation removes the passkeys and the user handle", async () => {
    const clock = fakeClock();
    const at = { now: clock.now };
    const email = uniqueEmail("gone");
    const device = authenticator();
    const res = await signUp(device, email, {}, at);
    const { access_token, user } = await json(res);
    const del = await call("/auth/account", { method: "DELETE", token: access_token, body: {}, ...at });
    expect(del.status, await del.clone().text()).toBe(202);
    clock.advance(15 * DAY);
    await runScheduled(at);
    const row = await userRow(user.id);
    expect([row.status, row.webauthn_user_id]).toEqual(["deleted", null]);
    expect(await passkeyCount(user.id)).toBe(0);
    const after = await passkeyLogin(device, {}, at);
    expect([after.status, await codeOf(after)]).toEqual([401, "passkey_unknown"]);
  });
});
