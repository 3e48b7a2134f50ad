import { describe, expect, it } from "vitest";
import { login, loginAs, me, PASSWORD, registerUser, uniqueEmail, verifyEmailOf } from "../../support/accounts";
import { fakeClock, MIN, SEC } from "../../support/clock";
import { auditRows, db, untilBlocked, withDb } from "../../support/db";
import { latestCode, mailsTo } from "../../support/mail";
import { claimsOf, codeAt, enableMfa, wrongTotp } from "../../support/mfa";
import {
  codeOf,
  exchangeCall,
  idTokenSignIn,
  mintIdToken,
  nativeToken,
  newPkce,
  redirectTargets,
  socialLogin,
  startCall,
  uniqueSub,
  webCode,
} from "../../support/oidc";
import { type CallOptions, call, json, testEnv } from "../../support/worker";

// Account linking: which account a new identity may enter, explicit linking from a signed-in
// session (a credential change: the current password, the second factor, a notice), the identity
// list, and unlinking that never removes the last way to sign in.

const [APP] = redirectTargets(testEnv);
const OWNERS_PASSWORD = "Owners-New-Passw0rd!";

const identityRows = (userId: string) =>
  withDb(
    (sql) =>
      sql`select id, provider, subject, email, email_verified from auth_identities where user_id = ${userId} order by created_at, id`,
  );

const link = (provider: string, token: string, body: Record<string, unknown>, opts: CallOptions = {}) =>
  call(`/auth/oauth/${provider}/link`, { body, token, ...opts });
const listIdentities = async (token: string) => {
  const res = await call("/auth/identities", { token });
  expect(res.status).toBe(200);
  return json(res);
};
const unlink = (id: string, token: string, body: Record<string, unknown> = {}, opts: CallOptions = {}) =>
  call(`/auth/identities/${id}`, { method: "DELETE", body, token, ...opts });

/** Reset the password of `email` with the mailed code (proves the mailbox). */
async function resetPassword(email: string, newPassword = OWNERS_PASSWORD) {
  expect((await call("/auth/forgot-password", { body: { email } })).status).toBe(200);
  const otp = await latestCode(email, /reset/i);
  const res = await call("/auth/reset-password", { body: { email, otp, new_password: newPassword } });
  expect(res.status, await res.clone().text()).toBe(200);
}

/** A registered account with its address verified, and a fresh session. */
async function verifiedOwner() {
  const owner = await registerUser();
  await verifyEmailOf(owner.email);
  return { owner, session: await login(owner.email) };
}

const mailTagged = async (email: string, tag: string) => (await mailsTo(email, tag))[0];

describe("pre-registration takeover is refused", () => {
  it("an attacker's unverified account with the victim's email never receives the victim's Google identity", async () => {
    const victimEmail = uniqueEmail("victim");
    // The attacker registers first, with the victim's address and their own password (never verified).
    const attacker = await registerUser({ email: victimEmail, password: "Attackers-Own-Passw0rd!" });
    expect(attacker.user.email_verified).toBe(false);
    const victim = { sub: uniqueSub("victim"), email: victimEmail, email_verified: true };

    // Native sign-in: 409, nothing linked, no session.
    const res = await idTokenSignIn("google", await nativeToken("google", victim));
    expect([res.status, await codeOf(res)]).toEqual([409, "account_exists_unverified_link"]);
    expect((await json(res)).access_token).toBeUndefined();
    // The web flow: the same answer at the exchange.
    const viaWeb = await exchangeCall(await webCode("google", victim, { redirect_to: APP }));
    expect([viaWeb.status, await codeOf(viaWeb)]).toEqual([409, "account_exists_unverified_link"]);
    expect(await identityRows(attacker.user.id)).toEqual([]);
    const [{ n }] = await withDb((sql) => sql`select count(*)::int as n from users where lower(email) = ${victimEmail}`);
    expect(n).toBe(1);
    const refused = (await auditRows(attacker.user.id)).filter((r) => r.event === "identity_link_refused");
    expect(refused.map((r) => [r.outcome, r.detail])).toEqual([
      ["blocked", { provider: "google", reason: "account_email_unverified" }],
      ["blocked", { provider: "google", reason: "account_email_unverified" }],
    ]);

    // The real owner takes the address back by reset (proving the mailbox): the attacker's
    // password and sessions are gone, and now both sides vouch for the email, so Google links.
    await resetPassword(victimEmail);
    expect((await loginAs(victimEmail, "Attackers-Own-Passw0rd!")).status).toBe(401);
    expect((await call("/auth/me", { token: attacker.access_token })).status).toBe(401);
    const owner = await socialLogin("google", victim);
    expect(owner.user.id).toBe(attacker.user.id);
    expect((await identityRows(owner.user.id)).map((i) => i.subject)).toEqual([victim.sub]);
  });

  it("the squatter cannot plant a way in of their own while the address is unverified: no link, no factor", async () => {
    const clock = fakeClock();
    const at = { now: clock.now };
    const victimEmail = uniqueEmail("squatted");
    const squatter = await registerUser({ email: victimEmail, password: "Attackers-Own-Passw0rd!" }, at);
    const theirGoogle = { sub: uniqueSub("squatter-g"), email: uniqueEmail("squatter-g") };
    for (const env of [{}, { REQUIRE_VERIFIED_EMAIL: "off" }]) {
      const linked = await link(
        "google",
        squatter.access_token,
        { ...(await nativeToken("google", theirGoogle)), current_password: "Attackers-Own-Passw0rd!" },
        { ...at, env },
      );
      expect([linked.status, await codeOf(linked)]).toEqual([403, "email_unverified"]);
      expect((await json(linked)).message).toMatch(/before adding a way to sign in/);
      const started = await startCall(
        "google",
        { redirect_to: APP, code_challenge: (await newPkce()).challenge, intent: "link" },
        { token: squatter.access_token, ...at, env },
      );
      expect([started.status, await codeOf(started)]).toEqual([403, "email_unverified"]);
      const enroll = await call("/auth/mfa/totp/enroll", { method: "POST", token: squatter.access_token, ...at, env });
      expect([enroll.status, await codeOf(enroll)]).toEqual([403, "email_unverified"]);
    }
    const rows = await withDb(
      (sql) => sql`select (select count(*)::int from auth_identities where user_id = ${squatter.user.id}) as identities,
                          (select count(*)::int from auth_mfa_factors where user_id = ${squatter.user.id}) as factors,
                          (select count(*)::int from auth_oauth_states where session_id is not null
                             and session_id in (select id from auth_sessions where user_id = ${squatter.user.id})) as states`,
    );
    expect(rows[0]).toEqual({ identities: 0, factors: 0, states: 0 });
  });

  it("the verify-email variant: the owner enters the squatter's unsolicited code; the squatter's password predates it, so the owner's Google does not join (409)", async () => {
    const victimEmail = uniqueEmail("variant");
    const squatter = await registerUser({ email: victimEmail, password: "Attackers-Own-Passw0rd!" });
    // The owner receives the registration's verification code and enters it.
    await verifyEmailOf(victimEmail);
    const victim = { sub: uniqueSub("variant"), email: victimEmail, email_verified: true };
    const res = await idTokenSignIn("google", await nativeToken("google", victim));
    expect([res.status, await codeOf(res)]).toEqual([409, "account_exists_reset_required"]);
    expect((await json(res)).access_token).toBeUndefined();
    const viaWeb = await exchangeCall(await webCode("google", victim, { redirect_to: APP }));
    expect([viaWeb.status, await codeOf(viaWeb)]).toEqual([409, "account_exists_reset_required"]);
    expect(await identityRows(squatter.user.id)).toEqual([]);
    const refused = (await auditRows(squatter.user.id)).filter((r) => r.event === "identity_link_refused").map((r) => r.detail);
    expect(refused).toEqual([
      { provider: "google", reason: "password_predates_verification" },
      { provider: "google", reason: "password_predates_verification" },
    ]);
    // The owner resets (as the answer says): now the password is theirs, and Google joins.
    await resetPassword(victimEmail);
    expect((await socialLogin("google", victim)).user.id).toBe(squatter.user.id);
  });

  it("a verified account is not linked to an identity whose provider does not vouch for the email", async () => {
    const { owner } = await verifiedOwner();
    const claimant = { sub: uniqueSub("claimant"), email: owner.email, email_verified: false };
    for (const provider of ["google", "apple"] as const) {
      const res = await idTokenSignIn(provider, await nativeToken(provider, claimant));
      expect([res.status, await codeOf(res)]).toEqual([409, "account_exists_unverified_link"]);
    }
    expect(await identityRows(owner.user.id)).toEqual([]);
    const reasons = (await auditRows(owner.user.id)).filter((r) => r.event === "identity_link_refused").map((r) => r.detail.reason);
    expect(reasons).toEqual(["provider_email_unverified", "provider_email_unverified"]);
  });

  it("an account created from an unvouched email loses that identity when the mailbox's owner resets the password", async () => {
    const email = uniqueEmail("squatted");
    const squatter = { sub: uniqueSub("squatter"), email, email_verified: false };
    const created = await socialLogin("apple", squatter);
    expect(created.user.email_verified).toBe(false);
    await resetPassword(email, "Mailbox-Owner-Passw0rd!");
    expect(await identityRows(created.user.id)).toEqual([]);
    const reset = (await auditRows(created.user.id)).find((r) => r.event === "reset_completed");
    expect(reset?.detail).toMatchObject({ change_of_owner: true, ways_in_removed: 1 });
    // Its session rested on that identity: it is gone with it.
    expect(await me(created.access_token)).toBe(401);
    // The squatter's identity is now a stranger to a verified account whose email it cannot vouch for.
    const again = await idTokenSignIn("apple", await nativeToken("apple", squatter));
    expect([again.status, await codeOf(again)]).toEqual([409, "account_exists_unverified_link"]);
  });
});

describe("automatic linking when both sides vouch for the email and the password is the owner's", () => {
  it("a verified account whose password was set after the verification: the identity joins, the owner is told, the password still works", async () => {
    const { owner, session } = await verifiedOwner();
    const changed = await call("/auth/change-password", {
      body: { current_password: PASSWORD, new_password: OWNERS_PASSWORD },
      token: session.access_token,
    });
    expect(changed.status, await changed.clone().text()).toBe(200);
    const body = await socialLogin("google", { sub: uniqueSub("auto"), email: owner.email.toUpperCase(), email_verified: true });
    expect(body.user.id).toBe(owner.user.id);
    expect(claimsOf(body.access_token).amr).toEqual(["google"]);
    expect(await identityRows(owner.user.id)).toHaveLength(1);
    expect((await loginAs(owner.email, OWNERS_PASSWORD)).status).toBe(200);
    const linked = (await auditRows(owner.user.id)).find((r) => r.event === "identity_linked");
    expect(linked?.detail).toEqual({ provider: "google", how: "verified_email" });
    const notice = await mailTagged(owner.email, "identity_linked");
    expect(notice?.subject).toMatch(/Google sign-in was added/);
  });

  it("an account without a password (made by a provider that vouched for the email) takes the other provider's identity", async () => {
    const email = uniqueEmail("no-pw");
    const g = await socialLogin("google", { sub: uniqueSub("g"), email, email_verified: true });
    const a = await socialLogin("apple", { sub: uniqueSub("a"), email, email_verified: true });
    expect(a.user.id).toBe(g.user.id);
  });
});

describe("POST /auth/oauth/{provider}/link is a credential change", () => {
  it("links an identity with any email after the current password; signing in with it then reaches that account; the owner is told", async () => {
    const { owner, session } = await verifiedOwner();
    const identity = { sub: uniqueSub("explicit"), email: uniqueEmail("elsewhere"), email_verified: false };
    const token = await nativeToken("apple", identity);
    const missing = await link("apple", session.access_token, token);
    expect([missing.status, await codeOf(missing)]).toEqual([400, "validation_failed"]);
    const wrong = await link("apple", session.access_token, {
      ...(await nativeToken("apple", identity)),
      current_password: "Wrong-Passw0rd!",
    });
    expect([wrong.status, await codeOf(wrong)]).toEqual([401, "invalid_current_password"]);
    expect(await identityRows(owner.user.id)).toEqual([]);

    const res = await link("apple", session.access_token, { ...(await nativeToken("apple", identity)), current_password: PASSWORD });
    expect(res.status, await res.clone().text()).toBe(200);
    expect(await json(res)).toMatchObject({
      status: "success",
      message: "Apple is linked.",
      identity: { provider: "apple", email: identity.email, email_verified: false },
    });
    const again = await link("apple", session.access_token, { ...(await nativeToken("apple", identity)), current_password: PASSWORD });
    expect(await json(again)).toMatchObject({ status: "success", message: "Apple was already linked to this account." });
    expect((await socialLogin("apple", identity)).user.id).toBe(owner.user.id);
    const events = (await auditRows(owner.user.id)).filter((r) => r.event.startsWith("identity_link")).map((r) => [r.event, r.detail]);
    expect(events).toEqual([
      ["identity_link_refused", { reason: "wrong_current_password" }],
      ["identity_linked", { provider: "apple", how: "explicit" }],
    ]);
    const notice = await mailTagged(owner.email, "identity_linked");
    expect(notice.subject).toMatch(/Apple sign-in was added/);
    expect(notice.text).toContain(identity.email);
  });

  it("with two-factor sign-in on, mfa_code too: missing 403, wrong 401, right 200", async () => {
    const clock = fakeClock();
    const at = { now: clock.now };
    const owner = await registerUser({}, at);
    const { secret, token: enrolled } = await enableMfa(owner.access_token, clock);
    owner.access_token = enrolled; // the verification of the address ended the registration's session
    const identity = { sub: uniqueSub("mfa-link"), email: uniqueEmail("mfa-link") };
    const attempt = async (extra: Record<string, unknown>) =>
      link("google", owner.access_token, { ...(await nativeToken("google", identity)), current_password: PASSWORD, ...extra }, at);
    const missing = await attempt({});
    expect([missing.status, await codeOf(missing)]).toEqual([403, "mfa_code_required"]);
    const wrong = await attempt({ mfa_code: await wrongTotp(secret, clock) });
    expect([wrong.status, await codeOf(wrong)]).toEqual([401, "invalid_mfa_code"]);
    expect(await identityRows(owner.user.id)).toEqual([]);
    const right = await attempt({ mfa_code: await codeAt(secret, clock) });
    expect(right.status, await right.clone().text()).toBe(200);
    expect(await identityRows(owner.user.id)).toHaveLength(1);
  });

  it("an account without a password proves itself by a recent sign-in alone", async () => {
    const g = await socialLogin("google", { sub: uniqueSub("pwless"), email: uniqueEmail("pwless") });
    const other = { sub: uniqueSub("pwless-a"), email: uniqueEmail("pwless-a") };
    const stale = await link("apple", g.access_token, await nativeToken("apple", other), { now: () => new Date(Date.now() + 11 * MIN) });
    expect([stale.status, await codeOf(stale)]).toEqual([403, "recent_login_required"]);
    const res = await link("apple", g.access_token, await nativeToken("apple", other));
    expect(res.status, await res.clone().text()).toBe(200);
    expect((await identityRows(g.user.id)).map((i) => i.provider)).toEqual(["google", "apple"]);
  });

  it("the way out of a 409 on an unverified account: verify the address, then link with the current password", async () => {
    const owner = await registerUser(); // email never verified
    const g = { sub: uniqueSub("after409"), email: owner.email, email_verified: true };
    expect((await idTokenSignIn("google", await nativeToken("google", g))).status).toBe(409);
    const session = await login(owner.email);
    const unverified = await link("google", session.access_token, { ...(await nativeToken("google", g)), current_password: PASSWORD });
    expect([unverified.status, await codeOf(unverified)]).toEqual([403, "email_unverified"]);
    await verifyEmailOf(owner.email);
    // The verification was the first proof of the mailbox: it ended every session; log in again.
    expect((await call("/auth/me", { token: session.access_token })).status).toBe(401);
    const again = await login(owner.email);
    const res = await link("google", again.access_token, { ...(await nativeToken("google", g)), current_password: PASSWORD });
    expect(res.status, await res.clone().text()).toBe(200);
    expect((await socialLogin("google", g)).user.id).toBe(owner.user.id);
  });

  it("with an exchange code from a redirect flow this session started with intent=link (web apps hold no ID token)", async () => {
    const { owner, session } = await verifiedOwner();
    const identity = { sub: uniqueSub("webcode"), email: uniqueEmail("webcode") };
    const flow = await webCode("google", identity, { redirect_to: APP, intent: "link" }, { token: session.access_token });
    const [state] = await withDb(
      (sql) =>
        sql`select intent, session_id from auth_oauth_exchange_codes where intent = 'link' and session_id = ${claimsOf(session.access_token).sid}`,
    );
    expect(state).toEqual({ intent: "link", session_id: claimsOf(session.access_token).sid });
    const noVerifier = await link("google", session.access_token, { code: flow.code, current_password: PASSWORD });
    expect([noVerifier.status, await codeOf(noVerifier)]).toEqual([400, "validation_failed"]);
    const res = await link("google", session.access_token, { ...flow, current_password: PASSWORD });
    expect(res.status, await res.clone().text()).toBe(200);
    expect((await identityRows(owner.user.id)).map((i) => i.subject)).toEqual([identity.sub]);
    // A code is for its own provider's path, and works once.
    const otherProvider = await webCode(
      "google",
      { sub: uniqueSub("x"), email: uniqueEmail("x") },
      { redirect_to: APP, intent: "link" },
      { token: session.access_token },
    );
    const other = await link("apple", session.access_token, { ...otherProvider, current_password: PASSWORD });
    expect([other.status, await codeOf(other)]).toEqual([401, "oauth_exchange_code_invalid"]);
    const reused = await link("google", session.access_token, { ...flow, current_password: PASSWORD });
    expect([reused.status, await codeOf(reused)]).toEqual([401, "oauth_exchange_code_invalid"]);
  });

  it("refuses an identity of another account (409), a stale login (403), no session (401), a bad token (401), and both proofs (400)", async () => {
    const first = await socialLogin("google", { sub: uniqueSub("taken"), email: uniqueEmail("taken") });
    const taken = (await identityRows(first.user.id))[0];
    const { owner: other, session } = await verifiedOwner();
    const proof = { current_password: PASSWORD };
    const takenToken = await nativeToken("google", { sub: taken.subject, email: taken.email });
    const conflict = await link("google", session.access_token, { ...takenToken, ...proof });
    expect([conflict.status, await codeOf(conflict)]).toEqual([409, "identity_already_linked"]);
    expect(await identityRows(other.user.id)).toEqual([]);
    expect((await identityRows(first.user.id)).map((i) => i.id)).toEqual([taken.id]);

    const fresh = { ...(await nativeToken("google", { sub: uniqueSub("stale"), email: uniqueEmail("stale") })), ...proof };
    const stale = await link("google", session.access_token, fresh, { now: () => new Date(Date.now() + 11 * MIN) });
    expect([stale.status, await codeOf(stale)]).toEqual([403, "recent_login_required"]);
    const anonymous = await call("/auth/oauth/google/link", { body: fresh });
    expect(anonymous.status).toBe(401);
    const forged = await link("google", session.access_token, { id_token: await mintIdToken("google", {}, "foreign"), ...proof });
    expect([forged.status, await codeOf(forged)]).toEqual([401, "id_token_bad_signature"]);
    const both = await link("google", session.access_token, { ...fresh, code: "A".repeat(43), code_verifier: (await newPkce()).verifier });
    expect([both.status, await codeOf(both)]).toEqual([400, "validation_failed"]);
    expect(await identityRows(other.user.id)).toEqual([]);
    const refused = (await auditRows(other.user.id)).filter((r) => r.event === "identity_link_refused").map((r) => r.detail);
    expect(refused).toEqual([{ provider: "google", reason: "linked_to_another_account" }]);
  });
});

describe("link CSRF: an exchange code works only for the intent, and the session, chosen at start", () => {
  it("an attacker's code posted to /link by the victim's session is refused, and nothing is linked", async () => {
    const victim = await verifiedOwner();
    const attacker = await verifiedOwner();
    const attackersGoogle = { sub: uniqueSub("csrf-attacker"), email: uniqueEmail("csrf-attacker") };
    // A code from the attacker's own link flow (bound to the attacker's session) ...
    const linkCode = await webCode(
      "google",
      attackersGoogle,
      { redirect_to: APP, intent: "link" },
      { token: attacker.session.access_token },
    );
    // ... and one from a sign-in flow, both planted in the victim's app, which posts them with the victim's session.
    const signInCode = await webCode("google", attackersGoogle, { redirect_to: APP });
    for (const planted of [linkCode, signInCode]) {
      const res = await link("google", victim.session.access_token, { ...planted, current_password: PASSWORD });
      expect([res.status, await codeOf(res)]).toEqual([400, "oauth_intent_mismatch"]);
    }
    expect(await identityRows(victim.owner.user.id)).toEqual([]);
    // Nothing was used up: each code still works for what it was issued for.
    expect((await link("google", attacker.session.access_token, { ...linkCode, current_password: PASSWORD })).status).toBe(200);
    expect((await identityRows(attacker.owner.user.id)).map((i) => i.subject)).toEqual([attackersGoogle.sub]);
    expect((await exchangeCall(signInCode)).status).toBe(200);
  });

  it("a link code exchanged for a sign-in is refused (400) and stays usable for its link", async () => {
    const { owner, session } = await verifiedOwner();
    const identity = { sub: uniqueSub("link-as-signin"), email: uniqueEmail("link-as-signin") };
    const linkCode = await webCode("google", identity, { redirect_to: APP, intent: "link" }, { token: session.access_token });
    const res = await exchangeCall(linkCode);
    expect([res.status, await codeOf(res)]).toEqual([400, "oauth_intent_mismatch"]);
    expect((await json(res)).access_token).toBeUndefined();
    const [{ n }] = await withDb((sql) => sql`select count(*)::int as n from users where email = ${identity.email}`);
    expect(n).toBe(0);
    expect((await link("google", session.access_token, { ...linkCode, current_password: PASSWORD })).status).toBe(200);
    expect((await identityRows(owner.user.id)).map((i) => i.subject)).toEqual([identity.sub]);
  });
});

describe("GET /auth/identities and DELETE /auth/identities/{id}", () => {
  it("a social-only account keeps its last identity (409 last_sign_in_method); a second one can go, with the sessions signed in with it", async () => {
    const email = uniqueEmail("only-social");
    const appleUser = { sub: uniqueSub("a"), email };
    const g = await socialLogin("google", { sub: uniqueSub("g"), email });
    const a = await socialLogin("apple", appleUser);
    expect(a.user.id).toBe(g.user.id);
    const list = await listIdentities(g.access_token);
    expect(list).toMatchObject({ status: "success", has_password: false });
    expect(list.identities.map((i: { provider: string }) => i.provider)).toEqual(["google", "apple"]);
    const [google, apple] = list.identities;

    const first = await unlink(google.id, a.access_token);
    expect(first.status, await first.clone().text()).toBe(200);
    expect((await json(first)).message).toBe("Google is unlinked; sessions signed in with it have ended.");
    // The Google session rested on that identity: it ended with it; the Apple one goes on.
    expect(await me(g.access_token)).toBe(401);
    expect(await me(a.access_token)).toBe(200);
    const last = await unlink(apple.id, a.access_token);
    expect([last.status, await codeOf(last)]).toEqual([409, "last_sign_in_method"]);
    expect((await identityRows(g.user.id)).map((i) => i.id)).toEqual([apple.id]);
    // The remaining identity still signs in.
    expect((await socialLogin("apple", appleUser)).user.id).toBe(g.user.id);
    const events = (await auditRows(g.user.id)).filter((r) => r.event === "identity_unlinked").map((r) => [r.outcome, r.detail]);
    expect(events).toEqual([
      ["success", { provider: "google" }],
      ["blocked", { reason: "last_sign_in_method" }],
    ]);
    expect((await mailTagged(email, "identity_unlinked")).subject).toMatch(/Google sign-in was removed/);
  });

  it("two unlinks at once of a social-only account's last two identities: one succeeds, one identity stays", async () => {
    const email = uniqueEmail("race-unlink");
    const g = await socialLogin("google", { sub: uniqueSub("g"), email });
    const a = await socialLogin("apple", { sub: uniqueSub("a"), email });
    const ids = (await identityRows(g.user.id)).map((i) => i.id);
    const sql = db();
    const watch = db();
    try {
      // Hold the account row: both requests pass their checks, then wait for the row lock their
      // unlink takes; released, they are decided one after the other.
      let both: Promise<Response[]> = Promise.resolve([]);
      await sql.begin(async (tx) => {
        await tx`select id from users where id = ${g.user.id} for update`;
        both = Promise.all([unlink(ids[0], a.access_token), unlink(ids[1], g.access_token)]);
        await untilBlocked(watch, '%from "users"%for update%', 2);
      });
      const answers = await both;
      expect(answers.map((r) => r.status).sort()).toEqual([200, 409]);
    } finally {
      await sql.end();
      await watch.end();
    }
    expect(await identityRows(g.user.id)).toHaveLength(1);
  });

  it("with a usable password the last identity may go (after the current password); what counts as usable is the stored hash's scheme", async () => {
    const { owner, session } = await verifiedOwner();
    const identity = { sub: uniqueSub("pw"), email: uniqueEmail("pw") };
    const linked = await link("google", session.access_token, { ...(await nativeToken("google", identity)), current_password: PASSWORD });
    expect(linked.status).toBe(200);
    const list = await listIdentities(session.access_token);
    expect(list.has_password).toBe(true);
    const [only] = list.identities;

    // An unusable or unreadable stored value is no way in: the identity is then the last one.
    const setPassword = (stored: string) => withDb((sql) => sql`update users set password = ${stored} where id = ${owner.user.id}`);
    const { password: real } = (await withDb((sql) => sql`select password from users where id = ${owner.user.id}`))[0];
    for (const stored of [`!${"0".repeat(40)}`, "not-a-password-hash", "$scrypt$ln=14$broken"]) {
      await setPassword(stored);
      expect((await listIdentities(session.access_token)).has_password).toBe(false);
      const refused = await unlink(only.id, session.access_token);
      expect([stored, refused.status, await codeOf(refused)]).toEqual([stored, 409, "last_sign_in_method"]);
    }
    // A legacy Django or bcrypt hash verifies at login: it counts.
    for (const stored of ["pbkdf2_sha256$870000$c2FsdHNhbHQ$Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmE=", `$2b$12$${"a".repeat(53)}`]) {
      await setPassword(stored);
      expect((await listIdentities(session.access_token)).has_password).toBe(true);
    }
    await setPassword(real);
    const noPassword = await unlink(only.id, session.access_token);
    expect([noPassword.status, await codeOf(noPassword)]).toEqual([400, "validation_failed"]);
    const wrong = await unlink(only.id, session.access_token, { current_password: "Wrong-Passw0rd!" });
    expect([wrong.status, await codeOf(wrong)]).toEqual([401, "invalid_current_password"]);
    expect(await identityRows(owner.user.id)).toHaveLength(1);
    const res = await unlink(only.id, session.access_token, { current_password: PASSWORD });
    expect(res.status).toBe(200);
    expect(await json(res)).toMatchObject({ status: "success", message: "Google is unlinked; sessions signed in with it have ended." });
    expect((await listIdentities(session.access_token)).identities).toEqual([]);
    expect((await loginAs(owner.email, PASSWORD)).status).toBe(200);
  });

  it("with two-factor sign-in on, unlinking needs mfa_code too", async () => {
    const clock = fakeClock();
    const at = { now: clock.now };
    const owner = await registerUser({}, at);
    const { secret, token: enrolled } = await enableMfa(owner.access_token, clock);
    owner.access_token = enrolled; // the verification of the address ended the registration's session
    const identity = { sub: uniqueSub("mfa-unlink"), email: uniqueEmail("mfa-unlink") };
    const linked = await link(
      "google",
      owner.access_token,
      { ...(await nativeToken("google", identity)), current_password: PASSWORD, mfa_code: await codeAt(secret, clock) },
      at,
    );
    expect(linked.status, await linked.clone().text()).toBe(200);
    clock.advance(30 * SEC);
    const [row] = await identityRows(owner.user.id);
    const missing = await unlink(row.id, owner.access_token, { current_password: PASSWORD }, at);
    expect([missing.status, await codeOf(missing)]).toEqual([403, "mfa_code_required"]);
    const ok = await unlink(row.id, owner.access_token, { current_password: PASSWORD, mfa_code: await codeAt(secret, clock) }, at);
    expect(ok.status, await ok.clone().text()).toBe(200);
    expect(await identityRows(owner.user.id)).toEqual([]);
  });

  it("someone else's identity, an unknown id: 404, nothing removed; a stale login: 403", async () => {
    const a = await socialLogin("google", { sub: uniqueSub("g"), email: uniqueEmail("mine") });
    const { session: bSession } = await verifiedOwner();
    const [theirs] = await identityRows(a.user.id);
    const foreign = await unlink(theirs.id, bSession.access_token, { current_password: PASSWORD });
    expect([foreign.status, await codeOf(foreign)]).toEqual([404, "identity_not_found"]);
    const unknown = await unlink(crypto.randomUUID(), bSession.access_token, { current_password: PASSWORD });
    expect([unknown.status, await codeOf(unknown)]).toEqual([404, "identity_not_found"]);
    const badId = await unlink("not-a-uuid", bSession.access_token);
    expect([badId.status, await codeOf(badId)]).toEqual([400, "validation_failed"]);
    expect(await identityRows(a.user.id)).toHaveLength(1);
    const stale = await unlink(theirs.id, a.access_token, {}, { now: () => new Date(Date.now() + 10 * MIN + 5 * SEC) });
    expect([stale.status, await codeOf(stale)]).toEqual([403, "recent_login_required"]);
    expect(await identityRows(a.user.id)).toHaveLength(1);
  });
});
