import { describe, expect, it } from "vitest";
import { createAdmin } from "../../../scripts/ops/create-admin-db.ts";
import { login, PASSWORD, refresh, registerUser, uniqueEmail, verifyAndLogIn, verifyEmailOf } from "../../support/accounts";
import { adminAccount, adminCall } from "../../support/admin";
import { DAY, fakeClock, MIN, SEC } from "../../support/clock";
import { db } from "../../support/db";
import { eventsOf, revokedOf, typesOf } from "../../support/events";
import { codeIn, latestCode, mailsTo } from "../../support/mail";
import { claimsOf, codeAt, enableMfa, loginWithMfa } from "../../support/mfa";
import { nativeToken, socialLogin, uniqueSub } from "../../support/oidc";
import { call, json, runScheduled } from "../../support/worker";

/**
 * Every flow that changes an account writes its events exactly once, in the transaction of the
 * change (test/auth/events/outbox.test.ts covers registration, logout, profile, password change,
 * admin changes, rollback and positions).
 */
const sidOf = (token: string) => claimsOf(token).sid as string;
const NEW_PASSWORD = "Another-Long-Passphrase-42";

/** An account's events after the first `skip`, as [type, data] pairs. */
const laterEvents = async (userId: string, skip: number) => (await eventsOf(userId)).slice(skip).map((e) => [e.type, e.data]);

describe("events of the code flows", () => {
  it("a password reset: credentials.changed (reset), every session revoked, and the address verified once", async () => {
    const u = await registerUser();
    const other = await login(u.email);
    expect((await call("/auth/forgot-password", { body: { email: u.email } })).status).toBe(200);
    const otp = await latestCode(u.email, /reset/i);
    const res = await call("/auth/reset-password", { body: { email: u.email, otp, new_password: NEW_PASSWORD } });
    expect(res.status).toBe(200);
    const events = await laterEvents(u.user.id, 1);
    // The first proof of the mailbox comes first (a change of owner: src/auth/account/owner.ts).
    expect(events.filter(([t]) => t !== "session.revoked")).toEqual([
      ["user.email_verified", {}],
      ["credentials.changed", { credential: "password", change: "reset" }],
    ]);
    expect(await revokedOf(u.user.id)).toEqual(
      [`${sidOf(u.access_token)}:password_reset`, `${sidOf(other.access_token)}:password_reset`].sort(),
    );
    // A second reset of the now verified account: no second user.email_verified.
    await call("/auth/forgot-password", { body: { email: u.email }, now: () => new Date(Date.now() + 2 * MIN) });
    const otp2 = await latestCode(u.email, /reset/i);
    expect(otp2).not.toBe(otp);
    const again = await call("/auth/reset-password", { body: { email: u.email, otp: otp2, new_password: PASSWORD } });
    expect(again.status).toBe(200);
    expect((await typesOf(u.user.id)).filter((t) => t === "user.email_verified")).toHaveLength(1);
    expect((await typesOf(u.user.id)).filter((t) => t === "credentials.changed")).toHaveLength(2);
  });

  it("verify-email and a sign-in code: user.email_verified once, when the address becomes verified", async () => {
    // The first proof of the mailbox is a change of owner: the sessions from before it end too.
    const u = await registerUser();
    await verifyEmailOf(u.email);
    expect(await laterEvents(u.user.id, 1)).toEqual([
      ["session.revoked", { sid: sidOf(u.access_token), reason: "email_verified" }],
      ["user.email_verified", {}],
    ]);

    const v = await registerUser();
    expect((await call("/auth/sign-in/code", { body: { email: v.email } })).status).toBe(202);
    const [mail] = await mailsTo(v.email, "sign_in_code");
    expect((await call("/auth/sign-in/code/verify", { body: { email: v.email, code: codeIn(mail) } })).status).toBe(200);
    expect(await laterEvents(v.user.id, 1)).toEqual([
      ["session.revoked", { sid: sidOf(v.access_token), reason: "email_verified" }],
      ["user.email_verified", {}],
    ]);
  });

  it("an email change and its revert: the email field, a proven address, and the other sessions revoked", async () => {
    const u = await registerUser();
    const other = await login(u.email);
    const newEmail = uniqueEmail("moved");
    expect(
      (await call("/auth/change-email", { body: { new_email: newEmail, current_password: PASSWORD }, token: u.access_token })).status,
    ).toBe(202);
    const undo = codeIn((await mailsTo(u.email, "email_change_notice"))[0]);
    const code = await latestCode(newEmail, /Confirm your new/);
    expect((await call("/auth/change-email/confirm", { body: { code }, token: u.access_token })).status).toBe(200);
    expect(await laterEvents(u.user.id, 1)).toEqual([
      ["user.updated", { fields: ["email"] }],
      ["user.email_verified", {}],
      ["session.revoked", { sid: sidOf(other.access_token), reason: "email_changed" }],
    ]);
    expect((await call("/auth/change-email/revert", { body: { email: u.email, code: undo } })).status).toBe(200);
    expect(await laterEvents(u.user.id, 4)).toEqual([
      ["user.updated", { fields: ["email"] }],
      ["user.email_verified", {}],
      ["session.revoked", { sid: sidOf(u.access_token), reason: "email_change_reverted" }],
    ]);
    for (const e of await eventsOf(u.user.id)) expect(JSON.stringify(e)).not.toMatch(/@/);
  });
});

describe("events of two-factor sign-in", () => {
  it("turning TOTP on, new recovery codes and turning it off: one credentials.changed each", async () => {
    const clock = fakeClock();
    const u = await verifyAndLogIn(await registerUser({}, { now: clock.now }), { now: clock.now });
    const skip = (await eventsOf(u.user.id)).length;
    const other = await login(u.email, PASSWORD, { now: clock.now });
    const a = { user: u, ...(await enableMfa(u.access_token, clock)) };
    const enabled = await laterEvents(u.user.id, skip);
    expect(enabled).toEqual([
      ["credentials.changed", { credential: "totp", change: "enabled" }],
      // The other session ends; the one that turned it on goes on.
      ["session.revoked", { sid: sidOf(other.access_token), reason: "mfa_enabled" }],
    ]);
    const session = await loginWithMfa(a, clock);
    const at = { token: session.access_token, now: clock.now };
    const regen = await call("/auth/mfa/recovery-codes", {
      body: { code: await codeAt(a.secret, clock), current_password: PASSWORD },
      ...at,
    });
    expect(regen.status).toBe(200);
    clock.advance(30 * SEC);
    const off = await call("/auth/mfa/totp/disable", { body: { code: await codeAt(a.secret, clock), current_password: PASSWORD }, ...at });
    expect(off.status).toBe(200);
    expect(await laterEvents(u.user.id, skip + 2)).toEqual([
      ["credentials.changed", { credential: "recovery_codes", change: "regenerated" }],
      ["credentials.changed", { credential: "totp", change: "disabled" }],
    ]);
  });
});

describe("events of social sign-in", () => {
  it("a first sign-in creates the account; linking and unlinking an identity; the last way in stays, with no event", async () => {
    const clock = fakeClock();
    const google = { sub: uniqueSub("g"), email: uniqueEmail("social") };
    const first = await socialLogin("google", google, { now: clock.now });
    const id = first.user.id as string;
    expect(await eventsOf(id)).toEqual([
      expect.objectContaining({ type: "user.created", actor_type: "self", data: { role: "student", method: "google" } }),
    ]);
    // The only way in: unlinking it is refused, and the trial and the refusal leave no event.
    const identities = await json(await call("/auth/identities", { token: first.access_token, now: clock.now }));
    const googleId = identities.identities[0].id as string;
    const refused = await call(`/auth/identities/${googleId}`, { method: "DELETE", token: first.access_token, now: clock.now });
    expect(refused.status).toBe(409);
    expect(await typesOf(id)).toEqual(["user.created"]);

    // Link Apple, sign in with it (a session resting on it), then unlink it.
    const apple = { sub: uniqueSub("a"), email: google.email };
    const linked = await call("/auth/oauth/apple/link", {
      body: await nativeToken("apple", apple),
      token: first.access_token,
      now: clock.now,
    });
    expect(linked.status, await linked.clone().text()).toBe(200);
    const appleSession = await socialLogin("apple", apple, { now: clock.now });
    const appleId = (await json(linked)).identity.id as string;
    const gone = await call(`/auth/identities/${appleId}`, { method: "DELETE", token: first.access_token, now: clock.now });
    expect(gone.status, await gone.clone().text()).toBe(200);
    expect(await laterEvents(id, 1)).toEqual([
      ["credentials.changed", { credential: "identity", change: "linked", provider: "apple" }],
      ["session.revoked", { sid: sidOf(appleSession.access_token), reason: "identity_unlinked" }],
      ["credentials.changed", { credential: "identity", change: "unlinked", provider: "apple" }],
    ]);
  });

  it("a sign-in that links to an account by its verified address: credentials.changed (linked)", async () => {
    const u = await verifyAndLogIn(await registerUser());
    // A password set after the verification: the rule for linking by address holds.
    const changed = await call("/auth/change-password", {
      body: { current_password: PASSWORD, new_password: NEW_PASSWORD },
      token: u.access_token,
    });
    expect(changed.status).toBe(200);
    const before = (await eventsOf(u.user.id)).length;
    await socialLogin("google", { sub: uniqueSub("gl"), email: u.email });
    expect(await laterEvents(u.user.id, before)).toEqual([
      ["credentials.changed", { credential: "identity", change: "linked", provider: "google" }],
    ]);
  });
});

describe("events of deletion, the first admin and session ends", () => {
  it("deletion requested, restored, requested again and anonymised by the purge (actor system)", async () => {
    const clock = fakeClock();
    const u = await registerUser({}, { now: clock.now });
    const requestedAt = clock.now().getTime();
    const del = () =>
      call("/auth/account", { method: "DELETE", body: { current_password: PASSWORD }, token: u.access_token, now: clock.now });
    expect((await del()).status).toBe(202);
    const [mail] = await mailsTo(u.email, "account_deletion");
    expect((await call("/auth/account/restore", { body: { email: u.email, code: codeIn(mail) }, now: clock.now })).status).toBe(200);
    const again = await login(u.email, PASSWORD, { now: clock.now });
    const res = await call("/auth/account", {
      method: "DELETE",
      body: { current_password: PASSWORD },
      token: again.access_token,
      now: clock.now,
    });
    expect(res.status).toBe(202);
    clock.advance(14 * DAY + MIN);
    await runScheduled({ now: clock.now });
    const events = await eventsOf(u.user.id);
    expect(events.map((e) => [e.type, e.actor_type, e.data.reason ?? null])).toEqual([
      ["user.created", "self", null],
      ["user.deletion_requested", "self", null],
      ["session.revoked", "self", "account_deletion"],
      ["user.restored", "self", null],
      ["user.deletion_requested", "self", null],
      ["session.revoked", "self", "account_deletion"],
      ["user.deleted", "system", null],
    ]);
    expect(events[1].data).toEqual({ due_at: new Date(requestedAt + 14 * DAY).toISOString() });
  });

  it("the first admin's setup: the password set and the address verified; an admin's revoke: its sessions, by that admin", async () => {
    const clock = fakeClock();
    const email = uniqueEmail("setup");
    const sql = db();
    const made = await createAdmin(sql, { email, now: clock.now() }).finally(() => sql.end());
    const setup = await call("/auth/account/setup", { body: { token: made.token, new_password: NEW_PASSWORD }, now: clock.now });
    expect(setup.status, await setup.clone().text()).toBe(200);
    expect(await laterEvents(made.id, 0)).toEqual([
      ["user.created", { role: "admin", method: "create_admin" }],
      ["credentials.changed", { credential: "password", change: "set" }],
      ["user.email_verified", {}],
    ]);

    const admin = await adminAccount(clock);
    const u = await registerUser({}, { now: clock.now });
    const revoked = await adminCall(`/users/${u.user.id}/revoke-sessions`, admin.token, clock, { method: "POST" });
    expect(revoked.status).toBe(200);
    expect(await eventsOf(u.user.id)).toEqual([
      expect.objectContaining({ type: "user.created" }),
      expect.objectContaining({
        type: "session.revoked",
        actor_type: "admin",
        actor_id: admin.user.user.id,
        data: { sid: sidOf(u.access_token), reason: "revoked_by_admin" },
      }),
    ]);
  });

  it("refresh-token reuse: the session revoked by the system", async () => {
    const clock = fakeClock();
    const u = await registerUser({}, { now: clock.now });
    expect((await refresh(u.refresh_token, { now: clock.now })).status).toBe(200);
    clock.advance(11 * SEC); // past REFRESH_REUSE_GRACE
    expect((await refresh(u.refresh_token, { now: clock.now })).status).toBe(401);
    expect((await eventsOf(u.user.id)).slice(1)).toEqual([
      expect.objectContaining({
        type: "session.revoked",
        actor_type: "system",
        actor_id: null,
        data: { sid: sidOf(u.access_token), reason: "refresh_reuse" },
      }),
    ]);
  });
});
