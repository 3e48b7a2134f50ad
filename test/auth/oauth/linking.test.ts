import { describe, expect, it } from "vitest";
import { login, loginAs, PASSWORD, registerUser, uniqueEmail, verifyEmailOf } from "../../support/accounts";
import { MIN, SEC } from "../../support/clock";
import { auditRows, withDb } from "../../support/db";
import { latestCode } from "../../support/mail";
import { claimsOf } from "../../support/mfa";
import {
  codeOf,
  exchangeCall,
  idTokenSignIn,
  mintIdToken,
  nativeToken,
  redirectResult,
  redirectTargets,
  socialLogin,
  uniqueSub,
  webFlowUntilCallback,
} from "../../support/oidc";
import { type CallOptions, call, json, testEnv } from "../../support/worker";

// Account linking: which account a new identity may enter, explicit linking from a signed-in
// session, the identity list, and unlinking that never removes the last way to sign in.

const [APP] = redirectTargets(testEnv);

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
const unlink = (id: string, token: string, opts: CallOptions = {}) => call(`/auth/identities/${id}`, { method: "DELETE", token, ...opts });

/** A code from the redirect flow for `user`. */
async function webCode(provider: "google" | "apple", user: { sub: string; email: string; email_verified?: boolean }) {
  const { callback } = await webFlowUntilCallback(provider, user, { redirect_to: APP });
  return redirectResult(callback, APP).code!;
}

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
    const viaWeb = await exchangeCall({ code: await webCode("google", victim) });
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
    expect((await call("/auth/forgot-password", { body: { email: victimEmail } })).status).toBe(200);
    const otp = await latestCode(victimEmail, /reset/i);
    expect((await call("/auth/reset-password", { body: { email: victimEmail, otp, new_password: "Owners-New-Passw0rd!" } })).status).toBe(
      200,
    );
    expect((await loginAs(victimEmail, "Attackers-Own-Passw0rd!")).status).toBe(401);
    expect((await call("/auth/me", { token: attacker.access_token })).status).toBe(401);
    const owner = await socialLogin("google", victim);
    expect(owner.user.id).toBe(attacker.user.id);
    expect((await identityRows(owner.user.id)).map((i) => i.subject)).toEqual([victim.sub]);
  });

  it("a verified account is not linked to an identity whose provider does not vouch for the email", async () => {
    const owner = await registerUser();
    await verifyEmailOf(owner.email);
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
    expect((await call("/auth/forgot-password", { body: { email } })).status).toBe(200);
    const otp = await latestCode(email, /reset/i);
    expect((await call("/auth/reset-password", { body: { email, otp, new_password: "Mailbox-Owner-Passw0rd!" } })).status).toBe(200);
    expect(await identityRows(created.user.id)).toEqual([]);
    const reset = (await auditRows(created.user.id)).find((r) => r.event === "reset_completed");
    expect(reset?.detail).toMatchObject({ identities_removed: 1 });
    // The squatter's identity is now a stranger to a verified account whose email it cannot vouch for.
    const again = await idTokenSignIn("apple", await nativeToken("apple", squatter));
    expect([again.status, await codeOf(again)]).toEqual([409, "account_exists_unverified_link"]);
  });
});

describe("automatic linking when both sides vouch for the email", () => {
  it("a verified account and a provider-verified email: the identity joins the account, the password still works", async () => {
    const owner = await registerUser();
    await verifyEmailOf(owner.email);
    const body = await socialLogin("google", { sub: uniqueSub("auto"), email: owner.email.toUpperCase(), email_verified: true });
    expect(body.user.id).toBe(owner.user.id);
    expect(claimsOf(body.access_token).amr).toEqual(["google"]);
    expect(await identityRows(owner.user.id)).toHaveLength(1);
    expect((await loginAs(owner.email, PASSWORD)).status).toBe(200);
    const linked = (await auditRows(owner.user.id)).find((r) => r.event === "identity_linked");
    expect(linked?.detail).toEqual({ provider: "google", how: "verified_email" });
  });
});

describe("POST /auth/oauth/{provider}/link", () => {
  it("links an identity with any email to the signed-in account; signing in with it then reaches that account", async () => {
    const owner = await registerUser();
    const session = await login(owner.email);
    const identity = { sub: uniqueSub("explicit"), email: uniqueEmail("elsewhere"), email_verified: false };
    const res = await link("apple", session.access_token, await nativeToken("apple", identity));
    expect(res.status, await res.clone().text()).toBe(200);
    expect(await json(res)).toMatchObject({
      status: "success",
      message: "Apple is linked.",
      identity: { provider: "apple", email: identity.email, email_verified: false },
    });
    const again = await link("apple", session.access_token, await nativeToken("apple", identity));
    expect(await json(again)).toMatchObject({ status: "success", message: "Apple was already linked to this account." });
    expect((await socialLogin("apple", identity)).user.id).toBe(owner.user.id);
    const events = (await auditRows(owner.user.id)).filter((r) => r.event === "identity_linked").map((r) => r.detail);
    expect(events).toEqual([{ provider: "apple", how: "explicit" }]);
  });

  it("the way out of a 409: log in with the password, then link", async () => {
    const owner = await registerUser(); // email never verified
    const g = { sub: uniqueSub("after409"), email: owner.email, email_verified: true };
    expect((await idTokenSignIn("google", await nativeToken("google", g))).status).toBe(409);
    const session = await login(owner.email);
    expect((await link("google", session.access_token, await nativeToken("google", g))).status).toBe(200);
    expect((await socialLogin("google", g)).user.id).toBe(owner.user.id);
  });

  it("with an exchange code from the redirect flow (web apps hold no ID token)", async () => {
    const owner = await registerUser();
    const session = await login(owner.email);
    const identity = { sub: uniqueSub("webcode"), email: uniqueEmail("webcode") };
    const res = await link("google", session.access_token, { code: await webCode("google", identity) });
    expect(res.status, await res.clone().text()).toBe(200);
    expect((await identityRows(owner.user.id)).map((i) => i.subject)).toEqual([identity.sub]);
    // A code is for its own provider's path, and works once.
    const other = await link("apple", session.access_token, {
      code: await webCode("google", { sub: uniqueSub("x"), email: uniqueEmail("x") }),
    });
    expect([other.status, await codeOf(other)]).toEqual([401, "oauth_exchange_code_invalid"]);
  });

  it("refuses an identity of another account (409), a stale login (403), no session (401), a bad token (401), and both proofs (400)", async () => {
    const first = await socialLogin("google", { sub: uniqueSub("taken"), email: uniqueEmail("taken") });
    const taken = (await identityRows(first.user.id))[0];
    const other = await registerUser();
    const session = await login(other.email);
    const takenToken = await nativeToken("google", { sub: taken.subject, email: taken.email });
    const conflict = await link("google", session.access_token, takenToken);
    expect([conflict.status, await codeOf(conflict)]).toEqual([409, "identity_already_linked"]);
    expect(await identityRows(other.user.id)).toEqual([]);
    expect((await identityRows(first.user.id)).map((i) => i.id)).toEqual([taken.id]);

    const fresh = await nativeToken("google", { sub: uniqueSub("stale"), email: uniqueEmail("stale") });
    const stale = await link("google", session.access_token, fresh, { now: () => new Date(Date.now() + 11 * MIN) });
    expect([stale.status, await codeOf(stale)]).toEqual([403, "recent_login_required"]);
    const anonymous = await call("/auth/oauth/google/link", { body: fresh });
    expect(anonymous.status).toBe(401);
    const forged = await link("google", session.access_token, { id_token: await mintIdToken("google", {}, "foreign") });
    expect([forged.status, await codeOf(forged)]).toEqual([401, "id_token_bad_signature"]);
    const both = await link("google", session.access_token, { ...fresh, code: "A".repeat(43) });
    expect([both.status, await codeOf(both)]).toEqual([400, "validation_failed"]);
    expect(await identityRows(other.user.id)).toEqual([]);
    const refused = (await auditRows(other.user.id)).filter((r) => r.event === "identity_link_refused").map((r) => r.detail);
    expect(refused).toEqual([{ provider: "google", reason: "linked_to_another_account" }]);
  });
});

describe("GET /auth/identities and DELETE /auth/identities/{id}", () => {
  it("a social-only account keeps its last identity (409 last_sign_in_method); a second one can go", async () => {
    const email = uniqueEmail("only-social");
    const appleUser = { sub: uniqueSub("a"), email };
    const g = await socialLogin("google", { sub: uniqueSub("g"), email });
    const a = await socialLogin("apple", appleUser);
    expect(a.user.id).toBe(g.user.id);
    const list = await listIdentities(g.access_token);
    expect(list).toMatchObject({ status: "success", has_password: false });
    expect(list.identities.map((i: { provider: string }) => i.provider)).toEqual(["google", "apple"]);
    const [google, apple] = list.identities;

    const first = await unlink(google.id, g.access_token);
    expect(first.status, await first.clone().text()).toBe(200);
    const last = await unlink(apple.id, g.access_token);
    expect([last.status, await codeOf(last)]).toEqual([409, "last_sign_in_method"]);
    expect((await identityRows(g.user.id)).map((i) => i.id)).toEqual([apple.id]);
    // The remaining identity still signs in.
    expect((await socialLogin("apple", appleUser)).user.id).toBe(g.user.id);
    const events = (await auditRows(g.user.id)).filter((r) => r.event === "identity_unlinked").map((r) => [r.outcome, r.detail]);
    expect(events).toEqual([
      ["success", { provider: "google" }],
      ["blocked", { reason: "last_sign_in_method" }],
    ]);
  });

  it("two unlinks at once of a social-only account's last two identities: one succeeds, one identity stays", async () => {
    const email = uniqueEmail("race-unlink");
    const g = await socialLogin("google", { sub: uniqueSub("g"), email });
    await socialLogin("apple", { sub: uniqueSub("a"), email });
    const ids = (await identityRows(g.user.id)).map((i) => i.id);
    const answers = await Promise.all(ids.map((id) => unlink(id, g.access_token)));
    expect(answers.map((r) => r.status).sort()).toEqual([200, 409]);
    expect(await identityRows(g.user.id)).toHaveLength(1);
  });

  it("with a usable password the last identity may go; what counts as usable is the stored hash's scheme", async () => {
    const owner = await registerUser();
    const session = await login(owner.email);
    const identity = { sub: uniqueSub("pw"), email: uniqueEmail("pw") };
    expect((await link("google", session.access_token, await nativeToken("google", identity))).status).toBe(200);
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
    const res = await unlink(only.id, session.access_token);
    expect(res.status).toBe(200);
    expect(await json(res)).toMatchObject({ status: "success", message: "Google is unlinked." });
    expect((await listIdentities(session.access_token)).identities).toEqual([]);
    expect((await loginAs(owner.email, PASSWORD)).status).toBe(200);
  });

  it("someone else's identity, an unknown id: 404, nothing removed; a stale login: 403", async () => {
    const a = await socialLogin("google", { sub: uniqueSub("g"), email: uniqueEmail("mine") });
    const b = await registerUser();
    const bSession = await login(b.email);
    const [theirs] = await identityRows(a.user.id);
    const foreign = await unlink(theirs.id, bSession.access_token);
    expect([foreign.status, await codeOf(foreign)]).toEqual([404, "identity_not_found"]);
    const unknown = await unlink(crypto.randomUUID(), bSession.access_token);
    expect([unknown.status, await codeOf(unknown)]).toEqual([404, "identity_not_found"]);
    const badId = await unlink("not-a-uuid", bSession.access_token);
    expect([badId.status, await codeOf(badId)]).toEqual([400, "validation_failed"]);
    expect(await identityRows(a.user.id)).toHaveLength(1);
    const stale = await unlink(theirs.id, a.access_token, { now: () => new Date(Date.now() + 10 * MIN + 5 * SEC) });
    expect([stale.status, await codeOf(stale)]).toEqual([403, "recent_login_required"]);
    expect(await identityRows(a.user.id)).toHaveLength(1);
  });
});
