import { describe, expect, it } from "vitest";
import { me, uniqueEmail } from "../../support/accounts";
import { fakeClock, SEC } from "../../support/clock";
import { auditRows, db, untilBlocked, withDb } from "../../support/db";
import { latestCode } from "../../support/mail";
import { codeAt, enableMfa, verify } from "../../support/mfa";
import { codeOf, idTokenSignIn, nativeToken, type SocialUser, socialLogin, uniqueSub } from "../../support/oidc";
import { call, json } from "../../support/worker";

// A social session rests on grounds, as a password session rests on its password: its identity
// (the session is deleted with it) and the account's password as it was when it was resolved. So
// a sign-in racing a reset keeps no session, and an mfa_token of any first factor dies with a reset.

const liveSessions = (userId: string) =>
  withDb((sql) => sql`select id, identity_id from auth_sessions where user_id = ${userId} and revoked_at is null`);

async function mailedResetCode(email: string) {
  expect((await call("/auth/forgot-password", { body: { email } })).status).toBe(200);
  return latestCode(email, /reset/i);
}

/**
 * A social sign-in of `user` that runs into a reset of `email` while the reset is committing,
 * made deterministic by holding the account's session rows from the test (as the password race in
 * test/auth/login.test.ts does): the reset updates the users row, then waits to end the sessions;
 * the sign-in resolves the account (its identity still there), then its session insert waits for
 * the reset's row lock; released, the reset ends the sessions, removes what it removes and
 * commits, and the sign-in's insert goes on.
 */
async function signInDuringReset(userId: string, email: string, user: SocialUser) {
  const otp = await mailedResetCode(email);
  const token = await nativeToken("apple", user);
  const sql = db();
  const watch = db();
  try {
    const held = sql.begin(async (tx) => {
      await tx`select id from auth_sessions where user_id = ${userId} for update`;
      await untilBlocked(watch, "%auth_sessions%revoked%");
      await untilBlocked(watch, "%for share%", 1);
    });
    const resetting = call("/auth/reset-password", { body: { email, otp, new_password: "Mailbox-Owner-Passw0rd!" } });
    const signingIn = (async () => {
      await untilBlocked(watch, "%auth_sessions%revoked%");
      return idTokenSignIn("apple", token);
    })();
    await held;
    return await Promise.all([resetting, signingIn]);
  } finally {
    await sql.end();
    await watch.end();
  }
}

describe("a social sign-in racing a password reset keeps no session", () => {
  it("the reset removes the identity (the provider never vouched for the address): the sign-in gets 401 and no session", async () => {
    const email = uniqueEmail("race-unproven");
    const squatter = { sub: uniqueSub("race-unproven"), email, email_verified: false };
    const created = await socialLogin("apple", squatter);
    const [reset, signIn] = await signInDuringReset(created.user.id, email, squatter);
    expect(reset.status).toBe(200);
    expect([signIn.status, await codeOf(signIn)]).toEqual([401, "invalid_credentials"]);
    expect((await json(signIn)).message).toMatch(/changed during this sign-in/);
    expect(await liveSessions(created.user.id)).toEqual([]);
    expect(await withDb((sql) => sql`select id from auth_identities where user_id = ${created.user.id}`)).toEqual([]);
    expect(await me(created.access_token)).toBe(401);
  });

  it("the reset keeps the identity (the provider vouched for the address): the sign-in still gets no session, as a password login would not", async () => {
    const email = uniqueEmail("race-proven");
    const owner = { sub: uniqueSub("race-proven"), email, email_verified: true };
    const created = await socialLogin("apple", owner);
    const [reset, signIn] = await signInDuringReset(created.user.id, email, owner);
    expect(reset.status).toBe(200);
    expect(signIn.status).toBe(401);
    expect(await liveSessions(created.user.id)).toEqual([]);
    // Signing in again afterwards works: the identity stayed.
    expect((await socialLogin("apple", owner)).user.id).toBe(created.user.id);
  });

  it("a social session records the identity it rests on", async () => {
    const body = await socialLogin("google", { sub: uniqueSub("rec"), email: uniqueEmail("rec") });
    const [identity] = await withDb((sql) => sql`select id from auth_identities where user_id = ${body.user.id}`);
    expect(await liveSessions(body.user.id)).toEqual([expect.objectContaining({ identity_id: identity.id })]);
  });
});

describe("an mfa_token of any first factor dies with a reset", () => {
  it("Google sign-in -> mfa_required -> the password is reset -> mfa/verify with that token is refused", async () => {
    const clock = fakeClock();
    const user = { sub: uniqueSub("g-mfa-reset"), email: uniqueEmail("g-mfa-reset"), email_verified: true };
    const first = await socialLogin("google", user, { now: clock.now });
    const { secret } = await enableMfa(first.access_token, clock);

    const step = await json(await idTokenSignIn("google", await nativeToken("google", user), { now: clock.now }));
    expect(step.status).toBe("mfa_required");
    const otp = await mailedResetCode(user.email);
    const reset = await call("/auth/reset-password", {
      body: { email: user.email, otp, new_password: "After-The-Reset-Pw1!" },
      now: clock.now,
    });
    expect(reset.status).toBe(200);
    expect((await auditRows(first.user.id)).find((r) => r.event === "reset_completed")?.detail).toMatchObject({ mfa_tokens_revoked: 1 });

    const res = await verify({ mfa_token: step.mfa_token, code: await codeAt(secret, clock) }, clock);
    expect([res.status, await codeOf(res)]).toEqual([401, "mfa_token_invalid"]);
    expect(await liveSessions(first.user.id)).toEqual([]);
    // The owner signs in again with Google and the code: the identity and the factor stayed.
    clock.advance(30 * SEC);
    const again = await json(await idTokenSignIn("google", await nativeToken("google", user), { now: clock.now }));
    expect((await verify({ mfa_token: again.mfa_token, code: await codeAt(secret, clock) }, clock)).status).toBe(200);
  });

  it("an mfa_token whose identity was unlinked meanwhile is refused", async () => {
    const clock = fakeClock();
    const email = uniqueEmail("unlinked-mfa");
    const google = { sub: uniqueSub("g"), email, email_verified: true };
    const apple = { sub: uniqueSub("a"), email, email_verified: true };
    const g = await socialLogin("google", google, { now: clock.now });
    await socialLogin("apple", apple, { now: clock.now }); // joins the account: both vouch for the address
    const { secret } = await enableMfa(g.access_token, clock);

    const appleStep = await json(await idTokenSignIn("apple", await nativeToken("apple", apple), { now: clock.now }));
    expect(appleStep.status).toBe("mfa_required");
    // The owner removes Apple (from the Google session, with a code).
    const [appleIdentity] = await withDb((sql) => sql`select id from auth_identities where subject = ${apple.sub}`);
    const unlinked = await call(`/auth/identities/${appleIdentity.id}`, {
      method: "DELETE",
      body: { mfa_code: await codeAt(secret, clock) },
      token: g.access_token,
      now: clock.now,
    });
    expect(unlinked.status, await unlinked.clone().text()).toBe(200);
    clock.advance(30 * SEC);
    const res = await verify({ mfa_token: appleStep.mfa_token, code: await codeAt(secret, clock) }, clock);
    expect([res.status, await codeOf(res)]).toEqual([401, "mfa_token_invalid"]);
  });
});
