import { describe, expect, it } from "vitest";
import { login, PASSWORD, registerUser, verifyEmailOf } from "../../support/accounts";
import { fakeClock, MIN } from "../../support/clock";
import { auditRows, withDb } from "../../support/db";
import { eventsOf } from "../../support/events";
import { mailsTo } from "../../support/mail";
import { codeAt, enableMfa } from "../../support/mfa";
import {
  ANDROID_ORIGIN,
  addPasskey,
  authenticator,
  codeOf,
  listPasskeys,
  passkeyLogin,
  RP_ID,
  registerVerify,
  registrationOptions,
  removePasskey,
  signInWithPasskey,
  signUp,
  strip,
} from "../../support/passkeys";
import { fromB64url } from "../../support/software-authenticator";
import { call, json } from "../../support/worker";

// Adding a passkey is a credential change (the owner's proof, the second factor, a verified
// address, a notice, an audit row); the list never shows a key; removing one never removes the
// last way in; the Signal API's data names what the account accepts.

/** A registered account with a verified address, and a fresh session. */
async function verifiedAccount(opts: { now?: () => Date } = {}) {
  const user = await registerUser({}, opts);
  await verifyEmailOf(user.email, opts);
  return { user, session: await login(user.email, PASSWORD, opts) };
}

const passkeyRows = (userId: string) =>
  withDb(
    (sql) => sql`select id, credential_id, public_key, sign_count, device_type, backed_up from auth_passkeys where user_id = ${userId}`,
  );

describe("adding a passkey", () => {
  it("creation options: resident key required, UV preferred, attestation none, EdDSA/ES256/RS256, a random user handle; the account's passkeys excluded", async () => {
    const { user, session } = await verifiedAccount();
    const options = await registrationOptions(session.access_token);
    expect(options).toMatchObject({
      rp: { id: RP_ID },
      user: { name: user.email, displayName: "Test User" },
      attestation: "none",
      authenticatorSelection: { residentKey: "required", userVerification: "preferred" },
      excludeCredentials: [],
    });
    expect(options.pubKeyCredParams.map((p: { alg: number }) => p.alg)).toEqual([-8, -7, -257]);
    const handle = fromB64url(options.user.id);
    expect(handle.length).toBeGreaterThanOrEqual(16);
    expect(handle.length).toBeLessThanOrEqual(64);
    expect(new TextDecoder().decode(handle)).not.toContain(user.email);
    // One handle per account: the next options carry the same one, and now exclude the passkey added.
    const device = authenticator();
    const { response } = await addPasskey(session.access_token, device);
    const again = await registrationOptions(session.access_token);
    expect(again.user.id).toBe(options.user.id);
    expect(again.excludeCredentials.map((c: { id: string }) => c.id)).toEqual([response.id]);
    // A real authenticator refuses to make a second passkey for the account.
    await expect(device.register(again)).rejects.toMatchObject({ name: "InvalidStateError" });
  });

  it.each(["EdDSA", "ES256", "RS256"] as const)("stores a %s passkey: listed without its key, the address told, audited", async (alg) => {
    const { user, session } = await verifiedAccount();
    const device = authenticator({ aaguid: "01020304-0506-0708-0102-030405060708", backupEligible: false, backupState: false });
    const { passkey, response } = await addPasskey(session.access_token, device, { alg, name: `Laptop ${alg}` });
    expect(passkey).toMatchObject({
      name: `Laptop ${alg}`,
      device_type: "single_device",
      backed_up: false,
      transports: ["internal", "hybrid"],
      aaguid: "01020304-0506-0708-0102-030405060708",
      last_used_at: null,
    });
    const list = await listPasskeys(session.access_token);
    expect(list).toEqual([passkey]);
    expect(JSON.stringify(list)).not.toContain(response.id);
    const [row] = await passkeyRows(user.user.id);
    expect(row).toMatchObject({ credential_id: response.id, sign_count: "0", device_type: "singleDevice" });
    expect(JSON.stringify(list)).not.toContain(row.public_key);
    // It signs in.
    const signedIn = await signInWithPasskey(device);
    expect(signedIn.user.id).toBe(user.user.id);
    const notice = (await mailsTo(user.email, "passkey_added"))[0];
    expect(notice?.text).toContain(`Laptop ${alg}`);
    expect((await auditRows(user.user.id)).find((r) => r.event === "passkey_registered")).toMatchObject({ outcome: "success" });
  });

  it("needs the current password (a wrong one is refused and audited, nothing stored)", async () => {
    const { user, session } = await verifiedAccount();
    const device = authenticator();
    const response = strip(await device.register(await registrationOptions(session.access_token)));
    const missing = await registerVerify(session.access_token, { response });
    expect([missing.status, await codeOf(missing)]).toEqual([400, "validation_failed"]);
    const wrong = await registerVerify(session.access_token, { response, current_password: "Not-The-Passw0rd" });
    expect([wrong.status, await codeOf(wrong)]).toEqual([401, "invalid_current_password"]);
    expect(await passkeyRows(user.user.id)).toEqual([]);
    // The challenge was not used by the refusals: the right password completes it.
    const ok = await registerVerify(session.access_token, { response, current_password: PASSWORD });
    expect(ok.status).toBe(201);
  });

  it("with an authenticator app on, needs a current code too", async () => {
    const clock = fakeClock();
    const { user, session } = await verifiedAccount({ now: clock.now });
    const mfa = await enableMfa(session.access_token, clock);
    const at = { now: clock.now };
    const device = authenticator();
    const response = strip(await device.register(await registrationOptions(session.access_token, at)));
    const noCode = await registerVerify(session.access_token, { response, current_password: PASSWORD }, at);
    expect([noCode.status, await codeOf(noCode)]).toEqual([403, "mfa_code_required"]);
    expect(await passkeyRows(user.user.id)).toEqual([]);
    // The refused verify used the challenge up: a new ceremony, with the code.
    const { passkey } = await addPasskey(session.access_token, authenticator(), { mfaCode: await codeAt(mfa.secret, clock), opts: at });
    expect(passkey.name).toBe("Passkey");
  });

  it("an unverified address may not add one (whatever REQUIRE_VERIFIED_EMAIL says)", async () => {
    const user = await registerUser();
    const res = await call("/auth/passkeys/register/options", { method: "POST", token: user.access_token });
    expect([res.status, await codeOf(res)]).toEqual([403, "email_unverified"]);
  });

  it("needs a recent login", async () => {
    const clock = fakeClock();
    const { session } = await verifiedAccount({ now: clock.now });
    clock.advance(11 * MIN);
    const res = await call("/auth/passkeys/register/options", { method: "POST", token: session.access_token, now: clock.now });
    expect([res.status, await codeOf(res)]).toEqual([403, "recent_login_required"]);
  });

  it("the challenge is single-use and the account's own: a replay and another account's challenge are refused", async () => {
    const a = await verifiedAccount();
    const b = await verifiedAccount();
    const device = authenticator();
    // B answers a challenge A's session asked for: not B's challenge.
    const forA = strip(await device.register(await registrationOptions(a.session.access_token)));
    const foreign = await registerVerify(b.session.access_token, { response: forA, current_password: PASSWORD });
    expect([foreign.status, await codeOf(foreign)]).toEqual([401, "passkey_challenge_invalid"]);
    expect(await passkeyRows(b.user.user.id)).toEqual([]);
    // A uses it once; the same response again finds nothing.
    expect((await registerVerify(a.session.access_token, { response: forA, current_password: PASSWORD })).status).toBe(201);
    const replay = await registerVerify(a.session.access_token, { response: forA, current_password: PASSWORD });
    expect([replay.status, await codeOf(replay)]).toEqual([401, "passkey_challenge_invalid"]);
    expect(await passkeyRows(a.user.user.id)).toHaveLength(1);
    const failed = (await auditRows(b.user.user.id)).filter((r) => r.event === "passkey_registration_failed");
    expect(failed.map((r) => r.detail.reason)).toEqual(["challenge_invalid"]);
  });

  it("refuses a wrong origin, a wrong RP ID, a missing user presence, an unsupported format", async () => {
    const { user, session } = await verifiedAccount();
    const cases: [Parameters<ReturnType<typeof authenticator>["register"]>[1], string][] = [
      [{ origin: "https://evil.test" }, "wrong_origin"],
      [{ rpId: "evil.test" }, "wrong_rp_id"],
      [{ userPresent: false }, "invalid_response"],
      [{ fmt: "packed" }, "invalid_response"],
      [{ type: "webauthn.get" }, "invalid_response"],
    ];
    for (const [overrides] of cases) {
      const device = authenticator();
      const response = strip(await device.register(await registrationOptions(session.access_token), overrides));
      const res = await registerVerify(session.access_token, { response, current_password: PASSWORD });
      expect([res.status, await codeOf(res)], JSON.stringify(overrides)).toEqual([401, "passkey_invalid"]);
      // The library's message (it quotes the expected challenge) never reaches the client.
      expect((await json(res)).message).not.toMatch(/expected|challenge/i);
    }
    expect(await passkeyRows(user.user.id)).toEqual([]);
    const reasons = (await auditRows(user.user.id)).filter((r) => r.event === "passkey_registration_failed").map((r) => r.detail.reason);
    expect(reasons).toEqual(cases.map(([, reason]) => reason));
  });

  it("the Android app's origin is accepted", async () => {
    const { session } = await verifiedAccount();
    const device = authenticator({ origin: ANDROID_ORIGIN });
    await addPasskey(session.access_token, device);
    expect((await signInWithPasskey(device)).status).toBe("success");
  });

  it("a credential already registered (to any account) is refused", async () => {
    const a = await verifiedAccount();
    const b = await verifiedAccount();
    const id = crypto.getRandomValues(new Uint8Array(32));
    await addPasskey(a.session.access_token, authenticator(), { credentialId: id });
    const response = strip(await authenticator().register(await registrationOptions(b.session.access_token), { credentialId: id }));
    const res = await registerVerify(b.session.access_token, { response, current_password: PASSWORD });
    expect([res.status, await codeOf(res)]).toEqual([409, "passkey_already_registered"]);
    expect(await passkeyRows(b.user.user.id)).toEqual([]);
  });
});

describe("managing passkeys", () => {
  it("rename: only the caller's own", async () => {
    const a = await verifiedAccount();
    const b = await verifiedAccount();
    const { passkey } = await addPasskey(a.session.access_token, authenticator());
    const renamed = await call(`/auth/passkeys/${passkey.id}`, {
      method: "PATCH",
      token: a.session.access_token,
      body: { name: " Phone " },
    });
    expect(renamed.status).toBe(200);
    expect((await json(renamed)).passkey.name).toBe("Phone");
    const foreign = await call(`/auth/passkeys/${passkey.id}`, { method: "PATCH", token: b.session.access_token, body: { name: "Mine" } });
    expect([foreign.status, await codeOf(foreign)]).toEqual([404, "passkey_not_found"]);
    const empty = await call(`/auth/passkeys/${passkey.id}`, { method: "PATCH", token: a.session.access_token, body: { name: "" } });
    expect(empty.status).toBe(400);
  });

  it("remove: the owner's proof, the address told; then the device's passkey answers passkey_unknown with its credential id", async () => {
    const { user, session } = await verifiedAccount();
    const device = authenticator();
    const { passkey, response } = await addPasskey(session.access_token, device);
    const wrong = await removePasskey(session.access_token, passkey.id, { current_password: "Not-The-Passw0rd" });
    expect([wrong.status, await codeOf(wrong)]).toEqual([401, "invalid_current_password"]);
    expect((await removePasskey(session.access_token, passkey.id)).status).toBe(200);
    expect(await listPasskeys(session.access_token)).toEqual([]);
    expect((await mailsTo(user.email, "passkey_removed"))[0]?.text).toContain("Passkey");
    const res = await passkeyLogin(device);
    expect(res.status).toBe(401);
    expect(await json(res)).toMatchObject({ code: "passkey_unknown", credential_id: response.id });
    const again = await removePasskey(session.access_token, passkey.id);
    expect([again.status, await codeOf(again)]).toEqual([404, "passkey_not_found"]);
    // Other services hear of each change once (src/auth/events/): the wrong proof and the 404 write nothing.
    const changes = (await eventsOf(user.user.id)).filter((e) => e.type === "credentials.changed").map((e) => e.data);
    expect(changes).toEqual([
      { credential: "passkey", change: "added" },
      { credential: "passkey", change: "removed" },
    ]);
  });

  it("never the last way in: a passkey-only account keeps its only passkey, and two removals racing for the last two keep one", async () => {
    const clock = fakeClock();
    const at = { now: clock.now };
    const device = authenticator();
    const res = await signUp(device, `pk-only-${crypto.randomUUID()}@example.com`, {}, at);
    expect(res.status, await res.clone().text()).toBe(201);
    const { access_token, user } = await json(res);
    const [only] = await listPasskeys(access_token);
    const last = await removePasskey(access_token, only.id, {}, at);
    expect([last.status, await codeOf(last)]).toEqual([409, "last_sign_in_method"]);
    expect(await listPasskeys(access_token)).toHaveLength(1);
    // The sign-up's code verified the address: add another and race the removals.
    await addPasskey(access_token, authenticator(), { password: null, opts: at });
    const both = await listPasskeys(access_token);
    const results = await Promise.all(both.map((p) => removePasskey(access_token, p.id, {}, at)));
    expect(results.map((r) => r.status).sort()).toEqual([200, 409]);
    expect(await listPasskeys(access_token)).toHaveLength(1);
    expect((await auditRows(user.id)).filter((r) => r.event === "passkey_removed").map((r) => r.outcome)).toEqual(
      expect.arrayContaining(["success", "blocked", "blocked"]),
    );
    // The sign-up's account, its proven address, one passkey added and one removed: the refusals write no event.
    const events = await eventsOf(user.id);
    expect(events.filter((e) => e.type !== "session.revoked").map((e) => [e.type, e.data.method ?? e.data.change ?? null])).toEqual([
      ["user.created", "passkey"],
      ["user.email_verified", null],
      ["credentials.changed", "added"],
      ["credentials.changed", "removed"],
    ]);
  });

  it("signals: the accepted credential ids and the current details, under the WebAuthn member names", async () => {
    const { user, session } = await verifiedAccount();
    const none = await json(await call("/auth/passkeys/signals", { token: session.access_token }));
    expect(none).toEqual({ status: "success", all_accepted_credentials: null, current_user_details: null });
    const { response: first, options } = await addPasskey(session.access_token, authenticator());
    const { response: second } = await addPasskey(session.access_token, authenticator());
    const signals = await json(await call("/auth/passkeys/signals", { token: session.access_token }));
    expect(signals).toEqual({
      status: "success",
      all_accepted_credentials: { rpId: RP_ID, userId: options.user.id, allAcceptedCredentialIds: [first.id, second.id] },
      current_user_details: { rpId: RP_ID, userId: options.user.id, name: user.email, displayName: "Test User" },
    });
    expect(fromB64url(signals.current_user_details.userId)).toHaveLength(32);
  });

  it("off without WEBAUTHN_RP_ID: every passkey route answers 404", async () => {
    const { session } = await verifiedAccount();
    const off = { env: { WEBAUTHN_RP_ID: "", WEBAUTHN_ORIGINS: "" } };
    for (const [path, init] of [
      ["/auth/passkeys/register/options", { method: "POST", token: session.access_token }],
      ["/auth/passkeys", { token: session.access_token }],
      ["/auth/passkeys/login/options", { body: {} }],
      ["/auth/passkeys/signup/options", { body: { email: "x@example.com", full_name: "X" } }],
    ] as const) {
      const res = await call(path, { ...init, ...off });
      expect([res.status, await codeOf(res)], path).toEqual([404, "not_found"]);
    }
  });
});
