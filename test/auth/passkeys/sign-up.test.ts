import { describe, expect, it } from "vitest";
import { PASSWORD, registerUser, uniqueEmail } from "../../support/accounts";
import { DAY, fakeClock } from "../../support/clock";
import { auditRows, userRow, withDb } from "../../support/db";
import { codeIn, mailsTo } from "../../support/mail";
import { claimsOf } from "../../support/mfa";
import { authenticator, codeOf, passkeyLogin, signInWithPasskey, signUp, signUpCode, signUpOptions, strip } from "../../support/passkeys";
import { b64url } from "../../support/software-authenticator";
import { call, json, runScheduled } from "../../support/worker";

// Passkey-first sign-up: an account whose only way in is its passkey, made after the mailbox is
// proven by a code the options mail; a taken address is answered exactly as registration does,
// never a way into an existing account.

const passkeyCount = (userId: string) =>
  withDb(async (sql) => (await sql`select count(*)::int as n from auth_passkeys where user_id = ${userId}`)[0].n as number);

describe("passkey-first sign-up", () => {
  it("creates a verified account without a password after the mailed code, and signs in (no address typed later)", async () => {
    const email = uniqueEmail("pk");
    const device = authenticator();
    const res = await signUp(device, email);
    expect(res.status, await res.clone().text()).toBe(201);
    const body = await json(res);
    expect(body).toMatchObject({ status: "success", user: { email, full_name: "Passkey User", role: "student", email_verified: true } });
    expect(claimsOf(body.access_token)).toMatchObject({ amr: ["swk", "user"], acr: "phishing-resistant" });
    const row = await userRow(body.user.id);
    expect(row.password.startsWith("!")).toBe(true);
    expect(row.webauthn_user_id).toBe(b64url(device.credentials[0].userHandle));
    expect((await userRow(body.user.id)).email_verified_at).toBeInstanceOf(Date);
    const events = (await auditRows(body.user.id)).map((r) => [r.event, r.detail?.method ?? r.detail?.context ?? r.detail?.how]);
    expect(events).toEqual(
      expect.arrayContaining([
        ["passkey_registered", "sign_up"],
        ["email_verified", "passkey_sign_up"],
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
    const code = await signUpCode(email);
    const squatter = await registerUser({ email });
    const res = await call("/auth/passkeys/signup/verify", {
      body: { challenge_token, code, response: strip(await device.register(options)) },
    });
    expect([res.status, await codeOf(res)]).toEqual([409, "email_taken"]);
    expect(await passkeyCount(squatter.user.id)).toBe(0);
    expect((await passkeyLogin(device)).status).toBe(401);
  });

  it("REGISTER_ENUMERATION_SAFE: the same options for a new and a taken address; no code for the taken one (its owner is told), nothing joins it", async () => {
    const clock = fakeClock();
    const env = { REGISTER_ENUMERATION_SAFE: "true" };
    const owner = await registerUser({}, { now: clock.now });
    clock.advance(61_000); // past the send throttle of the registration's verification mail
    const at = { env, now: clock.now };
    // A new address completes with its code: 202 without tokens (the passkey signs in next).
    const fresh = await signUp(authenticator(), uniqueEmail("safe"), {}, at);
    expect(fresh.status).toBe(202);
    // The taken one got the same options but no code: nothing can complete it, nothing joins the account.
    const taken = await signUp(authenticator(), owner.email, {}, at);
    expect([taken.status, await codeOf(taken)]).toEqual([400, "invalid_otp"]);
    expect(await passkeyCount(owner.user.id)).toBe(0);
    expect((await mailsTo(owner.email, "registration_attempt")).length).toBeGreaterThan(0);
  });

  it("REQUIRE_VERIFIED_EMAIL: the code proved the address, so the new account gets its session at once", async () => {
    const env = { REQUIRE_VERIFIED_EMAIL: "all" };
    const email = uniqueEmail("verify");
    const device = authenticator();
    const res = await signUp(device, email, {}, { env });
    expect(res.status, await res.clone().text()).toBe(201);
    expect((await json(res)).access_token).toBeDefined();
    expect((await signInWithPasskey(device, {}, { env })).user.email).toBe(email);
  });

  it("without the mailbox's code nobody gets an account: a wrong code is refused and leaves the challenge usable; guesses are limited", async () => {
    const email = uniqueEmail("squat");
    const data = await json(await signUpOptions(email));
    const response = strip(await authenticator().register(data.options));
    const code = await signUpCode(email);
    const wrong = String((Number(code) + 1) % 1_000_000).padStart(6, "0");
    const refused = await call("/auth/passkeys/signup/verify", { body: { challenge_token: data.challenge_token, code: wrong, response } });
    expect([refused.status, await codeOf(refused)]).toEqual([400, "invalid_otp"]);
    const [{ n }] = await withDb((sql) => sql`select count(*)::int as n from users where email = ${email}`);
    expect(n).toBe(0);
    // 20 wrong guesses at once: the per-address budget compares at most its free guesses, the rest wait (429).
    const burst = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        call("/auth/passkeys/signup/verify", {
          body: { challenge_token: data.challenge_token, code: String((Number(code) + 2 + i) % 1_000_000).padStart(6, "0"), response },
        }),
      ),
    );
    expect(burst.every((r) => r.status === 400 || r.status === 429)).toBe(true);
    expect(burst.filter((r) => r.status === 429).length).toBeGreaterThan(0);
  });

  it("the challenge_token works once", async () => {
    const email = uniqueEmail("once");
    const data = await json(await signUpOptions(email));
    const response = strip(await authenticator().register(data.options));
    const body = { challenge_token: data.challenge_token, code: await signUpCode(email), response };
    const first = await call("/auth/passkeys/signup/verify", { body });
    expect(first.status).toBe(201);
    const again = await call("/auth/passkeys/signup/verify", { body });
    expect([again.status, await codeOf(again)]).toEqual([401, "passkey_challenge_invalid"]);
  });

  it("anonymisation removes the passkeys and the user handle", async () => {
    const clock = fakeClock();
    const at = { now: clock.now };
    const email = uniqueEmail("gone");
    const device = authenticator();
    const res = await signUp(device, email, {}, at);
    const { access_token, user } = await json(res);
    // An account without a password confirms its deletion with a code mailed to it.
    const ask = await call("/auth/account", { method: "DELETE", token: access_token, body: {}, ...at });
    expect([ask.status, await codeOf(ask)]).toEqual([403, "deletion_code_required"]);
    const code = codeIn((await mailsTo(email, "account_deletion_code"))[0]);
    const del = await call("/auth/account", { method: "DELETE", token: access_token, body: { code }, ...at });
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
