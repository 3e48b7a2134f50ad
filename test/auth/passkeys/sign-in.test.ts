import { describe, expect, it } from "vitest";
import { login, PASSWORD, registerUser, uniqueEmail, verifyEmailOf } from "../../support/accounts";
import { setRole } from "../../support/admin";
import { auditRows, withDb } from "../../support/db";
import { claimsOf } from "../../support/mfa";
import {
  addPasskey,
  authenticator,
  codeOf,
  loginOptions,
  loginVerify,
  passkeyLogin,
  signInWithPasskey,
  signUp,
} from "../../support/passkeys";
import type { SoftwareAuthenticator } from "../../support/software-authenticator";
import { call, json } from "../../support/worker";

// Signing in with a passkey through the Worker, with the software authenticator: no address typed,
// the assurance the ways-in registry gives it, and every refusal (the challenge, the credential, the
// signature, the counter, the account's state).

/** A verified account holding a passkey on `device`; its password session and the passkey's credential id. */
async function accountWithPasskey(device: SoftwareAuthenticator, o: Parameters<typeof addPasskey>[2] = {}) {
  const user = await registerUser();
  await verifyEmailOf(user.email);
  const session = await login(user.email);
  const { passkey, response } = await addPasskey(session.access_token, device, o);
  return { user, session, passkey, credentialId: response.id };
}

const failures = async (userId: string | null, event = "passkey_sign_in_failed") =>
  userId ? (await auditRows(userId)).filter((r) => r.event === event).map((r) => ({ outcome: r.outcome, reason: r.detail.reason })) : [];

describe("signing in with a passkey", () => {
  it.each([
    ["EdDSA", true, ["swk", "user"]],
    ["ES256", false, ["hwk", "user"]],
  ] as const)("%s (synced: %s): a session at once, amr from the registry, acr phishing-resistant", async (alg, synced, amr) => {
    const device = authenticator({ backupEligible: synced, backupState: synced });
    const { user } = await accountWithPasskey(device, { alg });
    const body = await signInWithPasskey(device);
    expect(body.user.id).toBe(user.user.id);
    const claims = claimsOf(body.access_token);
    expect(claims.amr).toEqual(amr);
    expect(claims.acr).toBe("phishing-resistant");
    expect(claims.amr).not.toContain("pwd");
    expect(claims.amr).not.toContain("otp");
    const ok = (await auditRows(user.user.id)).findLast((r) => r.event === "login_succeeded");
    expect(ok?.detail).toMatchObject({ method: "passkey", amr: amr.join(" ") });
    // The counter moved forward and the use was recorded.
    const [row] = await withDb((sql) => sql`select sign_count, last_used_at from auth_passkeys where user_id = ${user.user.id}`);
    expect(Number(row.sign_count)).toBe(1);
    expect(row.last_used_at).not.toBeNull();
  });

  it("with the address typed, the options name that account's passkeys (an unknown address: none)", async () => {
    const device = authenticator();
    const { user, credentialId } = await accountWithPasskey(device);
    const named = await loginOptions({ email: user.email.toUpperCase() });
    expect(named.options.allowCredentials.map((c: { id: string }) => c.id)).toEqual([credentialId]);
    expect((await loginOptions({ email: uniqueEmail() })).options.allowCredentials).toEqual([]);
    expect((await loginOptions({})).options).toMatchObject({ rpId: "app.test", allowCredentials: [], userVerification: "preferred" });
    // REGISTER_ENUMERATION_SAFE: the address is ignored.
    const safe = await loginOptions({ email: user.email }, { env: { REGISTER_ENUMERATION_SAFE: "true" } });
    expect(safe.options.allowCredentials).toEqual([]);
    const res = await loginVerify(named.challengeToken, await device.authenticate(named.options));
    expect(res.status).toBe(200);
  });

  it("without user verification it is one factor: the account (which holds a passkey) answers mfa_required", async () => {
    const device = authenticator();
    const { user } = await accountWithPasskey(device);
    const res = await passkeyLogin(device, { userVerified: false });
    expect(res.status).toBe(200);
    const body = await json(res);
    expect(body).toMatchObject({ status: "mfa_required", methods: ["passkey"] });
    expect(body.access_token).toBeUndefined();
    expect((await auditRows(user.user.id)).some((r) => r.event === "mfa_challenge_issued")).toBe(true);
  });

  it("a replayed response (the challenge is used up) and an unknown challenge_token are refused", async () => {
    const device = authenticator();
    const { user } = await accountWithPasskey(device);
    const { options, challengeToken } = await loginOptions();
    const response = await device.authenticate(options);
    expect((await loginVerify(challengeToken, response)).status).toBe(200);
    const replay = await loginVerify(challengeToken, response);
    expect([replay.status, await codeOf(replay)]).toEqual([401, "passkey_challenge_invalid"]);
    const made = await loginVerify("bm90LWEtdG9rZW4", await device.authenticate(options));
    expect([made.status, await codeOf(made)]).toEqual([401, "passkey_challenge_invalid"]);
    // The response to another challenge than the token's.
    const other = await loginOptions();
    const mine = await loginOptions();
    const crossed = await loginVerify(mine.challengeToken, await device.authenticate(other.options));
    expect([crossed.status, await codeOf(crossed)]).toEqual([401, "passkey_challenge_invalid"]);
    expect(await failures(user.user.id)).toEqual([{ outcome: "failure", reason: "challenge_mismatch" }]);
  });

  it("20 parallel verifies of one challenge: exactly one signs in", async () => {
    const device = authenticator({ counting: false });
    await accountWithPasskey(device);
    const { options, challengeToken } = await loginOptions();
    const response = await device.authenticate(options);
    const results = await Promise.all(Array.from({ length: 20 }, () => loginVerify(challengeToken, response)));
    const statuses = results.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(statuses.filter((s) => s === 401)).toHaveLength(19);
    for (const r of results.filter((r) => r.status === 401)) expect(await codeOf(r)).toBe("passkey_challenge_invalid");
  });

  it("refuses a wrong origin and a wrong RP ID (audited; the library's message never reaches the client)", async () => {
    const device = authenticator();
    const { user } = await accountWithPasskey(device);
    for (const o of [{ origin: "https://app.test.evil.example" }, { origin: "http://app.test" }, { rpId: "evil.test" }]) {
      const res = await passkeyLogin(device, o);
      expect([res.status, await codeOf(res)], JSON.stringify(o)).toEqual([401, "passkey_invalid"]);
      expect((await json(res)).message).not.toMatch(/expected|challenge/i);
    }
    expect(await failures(user.user.id)).toEqual([
      { outcome: "failure", reason: "wrong_origin" },
      { outcome: "failure", reason: "wrong_origin" },
      { outcome: "failure", reason: "wrong_rp_id" },
    ]);
  });

  it("refuses a bad signature, another user handle, a missing user presence", async () => {
    const device = authenticator();
    const { user } = await accountWithPasskey(device);
    for (const o of [{ signature: "corrupt" as const }, { userHandle: "b3RoZXItdXNlci1oYW5kbGU" }, { userPresent: false }]) {
      const res = await passkeyLogin(device, o);
      expect([res.status, await codeOf(res)], JSON.stringify(o)).toEqual([401, "passkey_invalid"]);
    }
    expect((await failures(user.user.id)).map((f) => f.reason)).toEqual(["bad_signature", "user_handle_mismatch", "invalid_response"]);
    // Without a user handle (allowed) it signs in.
    expect((await passkeyLogin(device, { userHandle: null })).status).toBe(200);
  });

  it("a counter regression is refused and audited; a forged low counter without the key is only a bad signature", async () => {
    const device = authenticator();
    const { user, credentialId } = await accountWithPasskey(device);
    await signInWithPasskey(device, { signCount: 5 });
    for (const signCount of [3, 5, 0]) {
      const res = await passkeyLogin(device, { signCount });
      expect([res.status, await codeOf(res)], String(signCount)).toEqual([401, "passkey_counter_regressed"]);
    }
    // Someone without the key: a low counter with a signature that does not verify.
    const forged = await passkeyLogin(device, { signCount: 1, signature: "corrupt" });
    expect([forged.status, await codeOf(forged)]).toEqual([401, "passkey_invalid"]);
    const [row] = await withDb((sql) => sql`select sign_count from auth_passkeys where credential_id = ${credentialId}`);
    expect(Number(row.sign_count)).toBe(5);
    expect(await failures(user.user.id)).toEqual([
      { outcome: "blocked", reason: "counter_regression" },
      { outcome: "blocked", reason: "counter_regression" },
      { outcome: "blocked", reason: "counter_regression" },
      { outcome: "failure", reason: "bad_signature" },
    ]);
    expect((await passkeyLogin(device, { signCount: 6 })).status).toBe(200);
  });

  it("a synced passkey that never counts (always 0) signs in again and again", async () => {
    const device = authenticator({ counting: false });
    await accountWithPasskey(device);
    for (let i = 0; i < 3; i++) expect((await passkeyLogin(device)).status).toBe(200);
  });

  it("an unknown credential answers passkey_unknown with its id (for signalUnknownCredential)", async () => {
    const device = authenticator();
    const stray = await device.register({
      rp: { id: "app.test", name: "x" },
      user: { id: "c3RyYXk", name: "stray", displayName: "Stray" },
      challenge: "c3RyYXk",
      pubKeyCredParams: [{ alg: -7 }],
    });
    const res = await passkeyLogin(device, { credentialId: stray.id });
    expect(res.status).toBe(401);
    expect(await json(res)).toMatchObject({ code: "passkey_unknown", credential_id: stray.id });
  });

  it("a suspended or deletion-pending account cannot use its passkeys", async () => {
    for (const status of ["suspended", "deletion_pending"] as const) {
      const device = authenticator();
      const { user } = await accountWithPasskey(device);
      await withDb((sql) => sql`update users set status = ${status} where id = ${user.user.id}`);
      const res = await passkeyLogin(device);
      expect([res.status, await codeOf(res)]).toEqual([403, status === "suspended" ? "account_suspended" : "account_deletion_pending"]);
    }
  });

  it("REQUIRE_VERIFIED_EMAIL applies as to every sign-in", async () => {
    const device = authenticator();
    const res = await signUp(device, uniqueEmail("pk"), {});
    expect(res.status).toBe(201);
    // An account whose address is not (or no longer) verified: e.g. one that changed it and has not confirmed.
    const { user } = await json(res);
    await withDb((sql) => sql`update users set email_verified_at = null where id = ${user.id}`);
    const refused = await passkeyLogin(device, {}, { env: { REQUIRE_VERIFIED_EMAIL: "all" } });
    expect([refused.status, await codeOf(refused)]).toEqual([403, "email_unverified"]);
  });

  it("an admin signs in to the admin API with a passkey alone (two factors, phishing-resistant)", async () => {
    const device = authenticator();
    const { user } = await accountWithPasskey(device);
    await setRole(user.user.id, "admin");
    const { access_token } = await signInWithPasskey(device);
    const res = await call("/auth/admin/users?limit=1", { token: access_token });
    expect(res.status, await res.clone().text()).toBe(200);
  });

  it("the password still signs in, and now asks for the passkey as its second factor", async () => {
    const device = authenticator();
    const { user } = await accountWithPasskey(device);
    const res = await call("/auth/login", { body: { email: user.email, password: PASSWORD } });
    expect(await json(res)).toMatchObject({ status: "mfa_required", methods: ["passkey"] });
  });
});
