import { describe, expect, it } from "vitest";
import { createAdmin } from "../../../scripts/ops/create-admin-db.ts";
import { login, loginAs, PASSWORD, registerUser, uniqueEmail, verifyAndLogIn, verifyEmailOf } from "../../support/accounts";
import { fakeClock } from "../../support/clock";
import { auditRows, db, withDb } from "../../support/db";
import { eventsOf } from "../../support/events";
import { codeIn, latestCode, mailsTo } from "../../support/mail";
import { claimsOf, codeAt, enableMfa, verify } from "../../support/mfa";
import { nativeToken, uniqueSub } from "../../support/oidc";
import { type CallOptions, call, json } from "../../support/worker";

/**
 * A change of owner (src/auth/account/owner.ts): the first proof of the mailbox on an unverified
 * account (verification code, password reset, sign-in by code) and an operator's setup end every
 * session and pending sign-in step, and remove every way in added before it; an address change's
 * undo removes those added since the change. Through the real Worker and Postgres.
 */

const SQUATTER_PASSWORD = "Squatters-Own-Passw0rd!";
const OWNER_PASSWORD = "Mailbox-Owner-Passw0rd!";

/** What the account holds besides its password: identities, factors, recovery codes, pending mfa_tokens, live sessions. */
const holdings = (userId: string) =>
  withDb(
    async (sql) =>
      (
        await sql`select (select count(*)::int from auth_identities where user_id = ${userId}) as identities,
                         (select count(*)::int from auth_mfa_factors where user_id = ${userId}) as factors,
                         (select count(*)::int from auth_mfa_recovery_codes where user_id = ${userId}) as recovery_codes,
                         (select count(*)::int from auth_mfa_challenges where user_id = ${userId} and consumed_at is null) as mfa_tokens,
                         (select count(*)::int from auth_sessions where user_id = ${userId} and revoked_at is null) as sessions`
      )[0],
  );

/**
 * Ways in planted on an unverified account as the old code let a squatter plant them (a linked
 * Google identity, an active TOTP factor and its recovery codes): written straight to the tables,
 * since the API now refuses them to an unverified address (test/auth/oauth/linking.test.ts).
 */
async function plantWaysIn(userId: string, googleSub: string) {
  await withDb(async (sql) => {
    await sql`insert into auth_identities (id, user_id, provider, subject, email, email_verified, created_at)
              values (${crypto.randomUUID()}, ${userId}, 'google', ${googleSub}, ${uniqueEmail("squatters-google")}, true, now() - interval '1 minute')`;
    await sql`insert into auth_mfa_factors (id, user_id, kind, status, secret, created_at, confirmed_at)
              values (${crypto.randomUUID()}, ${userId}, 'totp', 'active', 'v1:planted', now() - interval '1 minute', now() - interval '1 minute')`;
    for (let i = 0; i < 3; i++)
      await sql`insert into auth_mfa_recovery_codes (id, user_id, code_hash, created_at)
                values (${crypto.randomUUID()}, ${userId}, ${`planted-${i}-${crypto.randomUUID()}`}, now() - interval '1 minute')`;
  });
}

async function resetPassword(email: string, newPassword: string, opts: CallOptions = {}) {
  expect((await call("/auth/forgot-password", { body: { email }, ...opts })).status).toBe(200);
  const otp = await latestCode(email, /reset/i);
  const res = await call("/auth/reset-password", { body: { email, otp, new_password: newPassword }, ...opts });
  expect(res.status, await res.clone().text()).toBe(200);
}

describe("the first proof of the mailbox is a change of owner", () => {
  it("pre-registration takeover: the owner's reset removes the squatter's identity, factor, recovery codes, sessions and mfa_tokens", async () => {
    const victimEmail = uniqueEmail("victim");
    const squatter = await registerUser({ email: victimEmail, password: SQUATTER_PASSWORD });
    const googleSub = uniqueSub("squatters-google");
    await plantWaysIn(squatter.user.id, googleSub);
    // The squatter's password now leads to an MFA challenge with their factor: a pending mfa_token.
    const challenge = await json(await loginAs(victimEmail, SQUATTER_PASSWORD));
    expect(challenge.status).toBe("mfa_required");
    expect(await holdings(squatter.user.id)).toEqual({ identities: 1, factors: 1, recovery_codes: 3, mfa_tokens: 1, sessions: 1 });

    await resetPassword(victimEmail, OWNER_PASSWORD);

    expect(await holdings(squatter.user.id)).toEqual({ identities: 0, factors: 0, recovery_codes: 0, mfa_tokens: 0, sessions: 0 });
    // The owner signs in with the new password alone: no factor they never set.
    const owner = await json(await loginAs(victimEmail, OWNER_PASSWORD));
    expect(owner.status).toBe("success");
    expect(owner.access_token).toBeDefined();
    // Nothing of the squatter's works any more.
    expect((await call("/auth/me", { token: squatter.access_token })).status).toBe(401);
    expect((await loginAs(victimEmail, SQUATTER_PASSWORD)).status).toBe(401);
    expect((await call("/auth/mfa/verify", { body: { mfa_token: challenge.mfa_token, code: "123456" } })).status).toBe(401);
    const [row] = await withDb((sql) => sql`select user_id from auth_identities where subject = ${googleSub}`);
    expect(row).toBeUndefined();
    const reset = (await auditRows(squatter.user.id)).find((r) => r.event === "reset_completed");
    expect(reset?.detail).toMatchObject({ change_of_owner: true, ways_in_removed: 5 });
  });

  it("the verify-email variant: the owner enters the squatter's unsolicited code; the squatter's session ends and the planted ways in go", async () => {
    const victimEmail = uniqueEmail("variant");
    const squatter = await registerUser({ email: victimEmail, password: SQUATTER_PASSWORD });
    await plantWaysIn(squatter.user.id, uniqueSub("variant-google"));
    await verifyEmailOf(victimEmail);
    expect(await holdings(squatter.user.id)).toEqual({ identities: 0, factors: 0, recovery_codes: 0, mfa_tokens: 0, sessions: 0 });
    expect((await call("/auth/me", { token: squatter.access_token })).status).toBe(401);
    expect((await call("/auth/refresh", { body: { refresh_token: squatter.refresh_token } })).status).toBe(401);
    const verified = (await auditRows(squatter.user.id)).find((r) => r.event === "email_verified");
    expect(verified?.detail).toMatchObject({ change_of_owner: true, sessions_ended: 1, ways_in_removed: 5 });
    // Other services hear of it (src/auth/events/): the squatter's session, each kind of way in removed, the proof.
    const events = (await eventsOf(squatter.user.id)).map((e) => [e.type, e.data]);
    expect(events.slice(1)).toEqual([
      ["session.revoked", { sid: claimsOf(squatter.access_token).sid, reason: "email_verified" }],
      ["credentials.changed", { credential: "identity", change: "removed" }],
      ["credentials.changed", { credential: "totp", change: "removed" }],
      ["credentials.changed", { credential: "recovery_codes", change: "removed" }],
      ["user.email_verified", {}],
    ]);
    // The owner's own Google sign-in does not join an account whose password predates the proof.
    const google = await call("/auth/oauth/google/id-token", {
      body: await nativeToken("google", { sub: uniqueSub("owner"), email: victimEmail, email_verified: true }),
    });
    expect([google.status, (await json(google)).code]).toEqual([409, "account_exists_reset_required"]);
  });

  it("sign-in by emailed code on an unverified account is a first proof too", async () => {
    const victimEmail = uniqueEmail("code-owner");
    const squatter = await registerUser({ email: victimEmail, password: SQUATTER_PASSWORD });
    await plantWaysIn(squatter.user.id, uniqueSub("code-google"));
    expect((await call("/auth/sign-in/code", { body: { email: victimEmail } })).status).toBe(202);
    const code = /code is: (\d{6})/.exec((await mailsTo(victimEmail, "sign_in_code"))[0].text)?.[1];
    const res = await call("/auth/sign-in/code/verify", { body: { email: victimEmail, code } });
    // The planted factor is gone: the mailbox's owner gets a session, not the squatter's MFA challenge.
    expect((await json(res)).status).toBe("success");
    expect(await holdings(squatter.user.id)).toMatchObject({ identities: 0, factors: 0, recovery_codes: 0, sessions: 1 });
    expect((await call("/auth/me", { token: squatter.access_token })).status).toBe(401);
  });

  it("a verified account's reset keeps its factor (a stolen mailbox alone does not remove the second factor)", async () => {
    const clock = fakeClock();
    const u = await registerUser({}, { now: clock.now });
    const mfa = await enableMfa(u.access_token, clock);
    await resetPassword(u.email, OWNER_PASSWORD, { now: clock.now });
    const step = await json(await loginAs(u.email, OWNER_PASSWORD, { now: clock.now }));
    expect(step.status).toBe("mfa_required");
    expect((await verify({ mfa_token: step.mfa_token, code: await codeAt(mfa.secret, clock) }, clock)).status).toBe(200);
  });
});

describe("the admin setup is a change of owner", () => {
  it("create-admin --existing, then setup: the account's other sessions, identities, factors and recovery codes go; the old password stops", async () => {
    const clock = fakeClock();
    const u = await registerUser({}, { now: clock.now });
    const { token: enrolled } = await enableMfa(u.access_token, clock);
    await withDb(
      (sql) => sql`insert into auth_identities (id, user_id, provider, subject, email, email_verified, created_at)
                   values (${crypto.randomUUID()}, ${u.user.id}, 'google', ${uniqueSub("pre-setup")}, ${u.email}, true, ${clock.now()})`,
    );
    const sql = db();
    const made = await createAdmin(sql, { email: u.email, existing: true, now: clock.now() }).finally(() => sql.end());
    clock.advance(60_000);
    const setup = await call("/auth/account/setup", { body: { token: made.token, new_password: OWNER_PASSWORD }, now: clock.now });
    expect(setup.status, await setup.clone().text()).toBe(200);
    expect(await holdings(u.user.id)).toEqual({ identities: 0, factors: 0, recovery_codes: 0, mfa_tokens: 0, sessions: 0 });
    expect((await call("/auth/me", { token: enrolled, now: clock.now })).status).toBe(401);
    expect((await loginAs(u.email, PASSWORD, { now: clock.now })).status).toBe(401);
    // The operator's admin signs in with the new password and must enroll its own factor.
    const first = await login(u.email, OWNER_PASSWORD, { now: clock.now });
    expect((await json(await call("/auth/admin/users", { token: first.access_token, now: clock.now }))).code).toBe(
      "mfa_enrollment_required",
    );
    const done = (await auditRows(u.user.id)).find((r) => r.event === "admin_setup_completed");
    expect(done?.detail).toMatchObject({ change_of_owner: true, ways_in_removed: 12 });
  });
});

describe("undoing an address change removes the ways in added since", () => {
  it("an identity linked after the change goes with the undo; one linked before stays; every session ends", async () => {
    const clock = fakeClock();
    const u = await registerUser({}, { now: clock.now });
    await verifyAndLogIn(u, { now: clock.now });
    const link = async (sub: string, token: string) =>
      call("/auth/oauth/google/link", {
        body: { ...(await nativeToken("google", { sub, email: uniqueEmail("linked") })), current_password: PASSWORD },
        token,
        now: clock.now,
      });
    const before = uniqueSub("before-change");
    expect((await link(before, u.access_token)).status).toBe(200);
    clock.advance(60_000);
    // Someone with the session and the password changes the address to theirs...
    const newEmail = uniqueEmail("attackers");
    expect(
      (
        await call("/auth/change-email", {
          body: { new_email: newEmail, current_password: PASSWORD },
          token: u.access_token,
          now: clock.now,
        })
      ).status,
    ).toBe(202);
    const undo = codeIn((await mailsTo(u.email, "email_change_notice"))[0]);
    const confirm = await latestCode(newEmail, /Confirm your new/);
    expect((await call("/auth/change-email/confirm", { body: { code: confirm }, token: u.access_token, now: clock.now })).status).toBe(200);
    clock.advance(60_000);
    // ...and plants a way in of their own.
    const session = await login(newEmail, PASSWORD, { now: clock.now });
    const after = uniqueSub("after-change");
    expect((await link(after, session.access_token)).status).toBe(200);

    const reverted = await call("/auth/change-email/revert", { body: { email: u.email, code: undo }, now: clock.now });
    expect(reverted.status, await reverted.clone().text()).toBe(200);
    const subjects = await withDb((sql) => sql`select subject from auth_identities where user_id = ${u.user.id}`);
    expect(subjects.map((r) => r.subject)).toEqual([before]);
    expect(await holdings(u.user.id)).toMatchObject({ sessions: 0 });
    const row = (await auditRows(u.user.id)).find((r) => r.event === "email_change_reverted");
    expect(row?.detail).toMatchObject({ ways_in_removed: 1 });
  });
});
