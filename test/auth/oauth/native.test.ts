import { describe, expect, it } from "vitest";
import { createClient } from "../../../src/client";
import { loginAs, me, uniqueEmail } from "../../support/accounts";
import { fakeClock, SEC } from "../../support/clock";
import { auditRows, userRow, withDb } from "../../support/db";
import { latestCode } from "../../support/mail";
import { claimsOf, codeAt, enableMfa, verify } from "../../support/mfa";
import {
  codeOf,
  control,
  idTokenSignIn,
  mintIdToken,
  nativeToken,
  newNonce,
  newPkce,
  oidc,
  providerStats,
  socialLogin,
  startCall,
  uniqueSub,
} from "../../support/oidc";
import { call, json, workerFetch } from "../../support/worker";

// Native sign-in: POST /auth/oauth/{google|apple}/id-token through the Worker, with ID tokens the
// local OpenID provider signs (scripts/stack/oidc-provider.ts); the Worker fetches its discovery
// document and keys over HTTP.

const identitiesOf = (userId: string) =>
  withDb((sql) => sql`select provider, subject, email, email_verified from auth_identities where user_id = ${userId} order by created_at`);

describe("a valid ID token signs in", () => {
  it("Google (iOS, hashed nonce): a new account, email verified as the token says, amr google", async () => {
    const email = uniqueEmail("g-new");
    const sub = uniqueSub("g");
    const body = await socialLogin("google", { sub, email, email_verified: true, name: "Ada Google" });
    expect(body).toMatchObject({
      status: "success",
      token_type: "Bearer",
      user: { email, full_name: "Ada Google", role: "student", email_verified: true },
    });
    expect(claimsOf(body.access_token).amr).toEqual(["google"]);
    expect(await me(body.access_token)).toBe(200);
    const user = await userRow(body.user.id);
    expect(user.email_verified_at).not.toBeNull();
    // No usable password: Django's unusable form, and password login refuses it like a wrong one.
    expect(user.password).toMatch(/^![0-9a-f]{40}$/);
    expect(await identitiesOf(body.user.id)).toEqual([{ provider: "google", subject: sub, email, email_verified: true }]);
    const events = (await auditRows(body.user.id)).map((r) => [r.event, r.detail]);
    expect(events).toEqual(
      expect.arrayContaining([
        ["registered", { method: "google", email_verified: true }],
        ["identity_linked", { provider: "google", how: "new_account" }],
        ["login_succeeded", { method: "google", amr: "google" }],
      ]),
    );
  });

  it("Apple (strings for booleans, no name in the token): the name from full_name, email unverified as the token says", async () => {
    const email = uniqueEmail("a-new");
    const body = await socialLogin("apple", { sub: uniqueSub("a"), email, email_verified: false }, { fullName: "Grace Apple" });
    expect(body.user).toMatchObject({ email, full_name: "Grace Apple", email_verified: false });
    expect(claimsOf(body.access_token).amr).toEqual(["apple"]);
    expect((await userRow(body.user.id)).email_verified_at).toBeNull();
    // Like every new account whose address nobody proved: a verification code is mailed.
    expect(await latestCode(email, /verification code/i)).toMatch(/^\d{6}$/);
  });

  it("a known identity signs in to its account again, whatever email the token carries now", async () => {
    const sub = uniqueSub("g");
    const email = uniqueEmail("g-known");
    const first = await socialLogin("google", { sub, email });
    const again = await socialLogin("google", { sub, email: uniqueEmail("g-changed") });
    expect(again.user.id).toBe(first.user.id);
    expect(again.user.email).toBe(email);
    const [identity] = await withDb((sql) => sql`select last_used_at, created_at from auth_identities where subject = ${sub}`);
    expect(identity.last_used_at.getTime()).toBeGreaterThanOrEqual(identity.created_at.getTime());
  });

  it("emails are stored lower-cased (the name falls back to the local part); the same verified email in another case is the same account", async () => {
    const local = `mixed-${crypto.randomUUID().slice(0, 8)}`;
    const body = await socialLogin("google", { sub: uniqueSub("g"), email: `${local.toUpperCase()}@Example.com` });
    expect(body.user).toMatchObject({ email: `${local}@example.com`, full_name: local, email_verified: true });
    const apple = await socialLogin("apple", { sub: uniqueSub("a"), email: `${local}@EXAMPLE.com` });
    expect(apple.user.id).toBe(body.user.id);
    expect((await identitiesOf(body.user.id)).map((i) => i.provider)).toEqual(["google", "apple"]);
  });

  it("10 first sign-ins of one new identity at once: one account, one identity, ten sessions", async () => {
    const sub = uniqueSub("g-race");
    const email = uniqueEmail("g-race");
    const tokens = await Promise.all(Array.from({ length: 10 }, () => nativeToken("google", { sub, email })));
    const answers = await Promise.all(tokens.map((t) => idTokenSignIn("google", t)));
    expect(answers.map((r) => r.status)).toEqual(Array(10).fill(200));
    const ids = new Set(await Promise.all(answers.map(async (r) => (await json(r)).user.id)));
    expect(ids.size).toBe(1);
    const [id] = [...ids];
    expect(await identitiesOf(id)).toHaveLength(1);
    const [{ n }] = await withDb((sql) => sql`select count(*)::int as n from users where lower(email) = ${email}`);
    expect(n).toBe(1);
    const [{ sessions }] = await withDb((sql) => sql`select count(*)::int as sessions from auth_sessions where user_id = ${id}`);
    expect(sessions).toBe(10);
  });
});

describe("a social-only account has no usable password", () => {
  it("password login is refused like a wrong password until a reset sets one", async () => {
    const email = uniqueEmail("g-nopw");
    const body = await socialLogin("google", { sub: uniqueSub("g"), email });
    const stored = (await userRow(body.user.id)).password;
    for (const guess of [stored, stored.slice(1), "Correct-Horse-Battery-9"]) {
      const res = await loginAs(email, guess);
      expect(res.status).toBe(401);
      expect(await codeOf(res)).toBe("invalid_credentials");
    }
    expect((await call("/auth/forgot-password", { body: { email } })).status).toBe(200);
    const otp = await latestCode(email, /reset/i);
    const reset = await call("/auth/reset-password", { body: { email, otp, new_password: "Fresh-Social-Passw0rd!" } });
    expect(reset.status, await reset.clone().text()).toBe(200);
    expect((await loginAs(email, "Fresh-Social-Passw0rd!")).status).toBe(200);
    // The identity was vouched for by the provider: the reset keeps it.
    expect(await identitiesOf(body.user.id)).toHaveLength(1);
  });
});

describe("each refused ID token answers 401 with its own code, and changes nothing", () => {
  const o = oidc();
  const now = () => Math.floor(Date.now() / 1000);
  const cases: [string, "google" | "apple", (n: { hashed: string }) => Promise<string>, string, boolean][] = [
    [
      "wrong aud",
      "google",
      () => mintIdToken("google", { aud: "someone-else.apps.googleusercontent.test" }),
      "id_token_wrong_audience",
      false,
    ],
    [
      "wrong iss (an Apple token sent as Google's)",
      "google",
      () => mintIdToken("google", { iss: o.apple.issuer }),
      "id_token_wrong_issuer",
      false,
    ],
    [
      "expired beyond the clock skew",
      "apple",
      (n) => mintIdToken("apple", { aud: o.apple.bundleId, nonce: n.hashed, iat: now() - 4000, exp: now() - 120 }),
      "id_token_expired",
      true,
    ],
    [
      "bad signature (another key under the published kid)",
      "google",
      () => mintIdToken("google", {}, "foreign"),
      "id_token_bad_signature",
      false,
    ],
    [
      "HS256 with the public key as the secret",
      "apple",
      (n) => mintIdToken("apple", { nonce: n.hashed }, "hs256"),
      "id_token_bad_signature",
      true,
    ],
    ["a kid the provider never published", "google", () => mintIdToken("google", {}, "unlisted"), "id_token_unknown_key", false],
    [
      "issued in the future",
      "google",
      () => mintIdToken("google", { iat: now() + 900, exp: now() + 4500 }),
      "id_token_not_yet_valid",
      false,
    ],
    ["nonce mismatch", "apple", () => mintIdToken("apple", { aud: o.apple.bundleId, nonce: "0".repeat(64) }), "nonce_mismatch", true],
    ["Apple token without any nonce", "apple", () => mintIdToken("apple", { aud: o.apple.bundleId, nonce: null }), "nonce_missing", false],
    [
      "Google iOS token with the SDK's own nonce, none sent",
      "google",
      () => mintIdToken("google", { aud: o.google.iosClientId, nonce: "sdk-made-nonce" }),
      "nonce_missing",
      false,
    ],
    ["a nonce sent, the token has none", "google", () => mintIdToken("google", { nonce: null }), "nonce_missing", true],
  ];
  for (const [name, provider, token, code, sendNonce] of cases) {
    it(`${name} -> ${code}`, async () => {
      const n = await newNonce();
      const idToken = await token(n);
      const res = await idTokenSignIn(provider, { id_token: idToken, ...(sendNonce ? { nonce: n.raw } : {}) });
      expect(res.status).toBe(401);
      expect(await json(res)).toMatchObject({ status: "error", code });
      expect(res.headers.get("cache-control")).toBe("no-store");
    });
  }

  it("the codes are distinct, and a refused token creates no account", async () => {
    expect(new Set(cases.map((c) => c[3])).size).toBe(8);
    const email = uniqueEmail("never-created");
    const res = await idTokenSignIn("google", { id_token: await mintIdToken("google", { email, aud: "not-ours" }) });
    expect(await codeOf(res)).toBe("id_token_wrong_audience");
    const [{ n }] = await withDb((sql) => sql`select count(*)::int as n from users where email = ${email}`);
    expect(n).toBe(0);
    const [{ failed }] = await withDb(
      (sql) =>
        sql`select count(*)::int as failed from auth_audit_events where event = 'oauth_sign_in_failed' and detail->>'reason' = 'wrong_audience'`,
    );
    expect(failed).toBeGreaterThan(0);
  });

  it("bad input: not a JWT, no id_token, an unknown provider", async () => {
    const notJwt = await idTokenSignIn("google", { id_token: "not-a-jwt" });
    expect([notJwt.status, await codeOf(notJwt)]).toEqual([400, "validation_failed"]);
    const empty = await idTokenSignIn("google", {});
    expect([empty.status, await codeOf(empty)]).toEqual([400, "validation_failed"]);
    const unknown = await idTokenSignIn("facebook", { id_token: await mintIdToken("google") });
    expect([unknown.status, await codeOf(unknown)]).toEqual([404, "not_found"]);
  });
});

describe("nonces are required, and every native ID token is accepted once", () => {
  const o = oidc();
  /** A Google Android (Credential Manager) or web (GIS) token, which carries a nonce only if the app set one. */
  const androidToken = (claims: Record<string, unknown> = {}) =>
    mintIdToken("google", {
      aud: o.google.webClientId,
      azp: o.google.androidClientId,
      sub: uniqueSub("android"),
      email: uniqueEmail("android"),
      nonce: null,
      ...claims,
    });

  it("OAUTH_REQUIRE_NONCE (default on): a token without a nonce is refused, also where the platform may omit it", async () => {
    const res = await idTokenSignIn("google", { id_token: await androidToken() });
    expect([res.status, await codeOf(res)]).toEqual([401, "nonce_missing"]);
    const apple = await idTokenSignIn("apple", {
      id_token: await mintIdToken("apple", { aud: o.apple.bundleId, nonce: null, nonce_supported: false }),
    });
    expect([apple.status, await codeOf(apple)]).toEqual([401, "nonce_missing"]);
    // With the nonce the app set, the same platform signs in.
    const n = await newNonce();
    expect((await idTokenSignIn("google", { id_token: await androidToken({ nonce: n.hashed }), nonce: n.raw })).status).toBe(200);
    // Turned off, the platform's own rule decides again: Google Android and web may omit it.
    const off = { OAUTH_REQUIRE_NONCE: "false" };
    expect((await idTokenSignIn("google", { id_token: await androidToken() }, { env: off })).status).toBe(200);
  });

  it("the same token twice: the second is refused (401 id_token_replayed), for sign-in and for linking alike", async () => {
    const user = { sub: uniqueSub("replay"), email: uniqueEmail("replay") };
    const t = await nativeToken("google", user);
    expect((await idTokenSignIn("google", t)).status).toBe(200);
    const again = await idTokenSignIn("google", t);
    expect([again.status, await codeOf(again)]).toEqual([401, "id_token_replayed"]);
    expect((await json(again)).access_token).toBeUndefined();
    // Linking takes the same check: a token already used to sign in links nothing.
    const owner = await socialLogin("apple", { sub: uniqueSub("replay-owner"), email: uniqueEmail("replay-owner") });
    const linked = await call("/auth/oauth/google/link", { body: t, token: owner.access_token });
    expect([linked.status, await codeOf(linked)]).toEqual([401, "id_token_replayed"]);
    const refused = await withDb(
      (sql) =>
        sql`select count(*)::int as n from auth_audit_events where event = 'oauth_sign_in_failed' and detail->>'reason' = 'replayed'`,
    );
    expect(refused[0].n).toBeGreaterThanOrEqual(2);
  });

  it("20 requests with one token at once: exactly one signs in, the rest are replays", async () => {
    const user = { sub: uniqueSub("replay-race"), email: uniqueEmail("replay-race") };
    const t = await nativeToken("apple", user);
    const answers = await Promise.all(Array.from({ length: 20 }, () => idTokenSignIn("apple", t)));
    expect(answers.map((r) => r.status).sort()).toEqual([200, ...Array(19).fill(401)]);
    for (const r of answers.filter((a) => a.status === 401)) expect(await codeOf(r)).toBe("id_token_replayed");
    const [{ sessions }] = await withDb(
      (sql) => sql`select count(*)::int as sessions from auth_sessions s join users u on u.id = s.user_id where u.email = ${user.email}`,
    );
    expect(sessions).toBe(1);
  });

  it("without a nonce (OAUTH_REQUIRE_NONCE=false) the token's jti, or the token itself, is what is accepted once; stored only hashed, until the token expires", async () => {
    const off = { OAUTH_REQUIRE_NONCE: "false" };
    const exp = Math.floor(Date.now() / 1000) + 1800;
    const jti = `jti-${crypto.randomUUID()}`;
    const withJti = await androidToken({ jti, exp });
    expect((await idTokenSignIn("google", { id_token: withJti }, { env: off })).status).toBe(200);
    // Another token with the same jti is the same token to us (a jti is unique at its issuer).
    const sameJti = await androidToken({ jti, exp });
    expect(await codeOf(await idTokenSignIn("google", { id_token: sameJti }, { env: off }))).toBe("id_token_replayed");
    const bare = await androidToken({ exp });
    expect((await idTokenSignIn("google", { id_token: bare }, { env: off })).status).toBe(200);
    expect(await codeOf(await idTokenSignIn("google", { id_token: bare }, { env: off }))).toBe("id_token_replayed");
    const rows = await withDb(
      (sql) => sql`select key, expires_at from auth_oauth_used_tokens where expires_at = ${new Date((exp + 60) * 1000)}`,
    );
    expect(rows).toHaveLength(2);
    for (const r of rows) expect(r.key).toMatch(/^[0-9a-f]{64}$/);
    const dump = JSON.stringify(rows);
    for (const secret of [jti, bare, withJti]) expect(dump).not.toContain(secret);
  });
});

describe("key rotation at the provider", () => {
  it("an unknown kid refetches the keys (at most every 30 s), then the new key verifies and the dropped one does not", async () => {
    // A clock two hours ahead: every cached document is stale, so this test's first request fetches them.
    const base = Date.now() + 2 * 3600 * SEC;
    const at = (ms: number) => ({ now: () => new Date(base + ms) });
    const iat = Math.floor(base / 1000);
    const token = async () => {
      const n = await newNonce();
      const id_token = await mintIdToken("google", {
        sub: "rotation-user",
        email: "rotation@example.test",
        iat,
        exp: iat + 3600,
        nonce: n.hashed,
      });
      return { id_token, nonce: n.raw };
    };
    const before = await token();
    expect((await idTokenSignIn("google", before, at(0))).status).toBe(200);
    await control("rotate", { provider: "google" });
    const after = await token();
    const s0 = (await providerStats()).google.jwksFetches;

    // Within 30 s of the last fetch the cached keys are trusted: unknown key, no fetch.
    const early = await idTokenSignIn("google", after, at(SEC));
    expect([early.status, await codeOf(early)]).toEqual([401, "id_token_unknown_key"]);
    expect((await providerStats()).google.jwksFetches).toBe(s0);

    // After that, the unknown kid refetches once and the new key verifies (the refused try did not use the token up).
    expect((await idTokenSignIn("google", after, at(31 * SEC))).status).toBe(200);
    expect((await providerStats()).google.jwksFetches).toBe(s0 + 1);

    // The old key left the provider's JWKS: its tokens fail, and asking costs no further fetch.
    const old = await idTokenSignIn("google", before, at(32 * SEC));
    expect([old.status, await codeOf(old)]).toEqual([401, "id_token_unknown_key"]);
    expect((await providerStats()).google.jwksFetches).toBe(s0 + 1);
  });
});

describe("a provider without client ids is off", () => {
  it("its routes answer 404; the other provider still works", async () => {
    const off = { APPLE_CLIENT_IDS: "", APPLE_SERVICES_ID: "", APPLE_TEAM_ID: "", APPLE_KEY_ID: "", APPLE_PRIVATE_KEY: "" };
    const t = await nativeToken("apple", { sub: uniqueSub("a"), email: uniqueEmail("a-off") });
    const res = await idTokenSignIn("apple", t, { env: off });
    expect([res.status, await codeOf(res)]).toEqual([404, "not_found"]);
    const start = await startCall(
      "apple",
      { redirect_to: "https://app.test/oauth/done", code_challenge: (await newPkce()).challenge },
      { env: off },
    );
    expect(start.status).toBe(404);
    expect((await call("/auth/oauth/apple/callback?state=x", { env: off })).status).toBe(404);
    const g = await nativeToken("google", { sub: uniqueSub("g"), email: uniqueEmail("g-on") });
    expect((await idTokenSignIn("google", g, { env: off })).status).toBe(200);
  });

  it("a discovery document that cannot be fetched answers 503 provider_unavailable with Retry-After", async () => {
    const t = await nativeToken("google", { sub: uniqueSub("g"), email: uniqueEmail("g-down") });
    const res = await idTokenSignIn("google", t, { env: { GOOGLE_DISCOVERY_URL: `${oidc().url}/gone/.well-known/openid-configuration` } });
    expect([res.status, await codeOf(res)]).toEqual([503, "provider_unavailable"]);
    expect(res.headers.get("retry-after")).toBe("30");
  });
});

describe("account states and MFA apply after a social sign-in", () => {
  it("a suspended account is refused (403 account_suspended), and so are its existing sessions", async () => {
    const user = { sub: uniqueSub("g"), email: uniqueEmail("g-susp") };
    const first = await socialLogin("google", user);
    await withDb((sql) => sql`update users set status = 'suspended' where id = ${first.user.id}`);
    const res = await idTokenSignIn("google", await nativeToken("google", user));
    expect([res.status, await codeOf(res)]).toEqual([403, "account_suspended"]);
    expect(await me(first.access_token)).toBe(401);
  });

  it("REQUIRE_VERIFIED_EMAIL=all: an account created from an unverified provider email gets no session; the mailbox's proof makes its prover the owner", async () => {
    const user = { sub: uniqueSub("a"), email: uniqueEmail("a-unv"), email_verified: false };
    const env = { REQUIRE_VERIFIED_EMAIL: "all" };
    const res = await idTokenSignIn("apple", await nativeToken("apple", user), { env });
    expect([res.status, await codeOf(res)]).toEqual([403, "email_unverified"]);
    const [{ id }] = await withDb((sql) => sql`select id from users where email = ${user.email}`);
    const code = await latestCode(user.email, /verification code/i);
    expect((await call("/auth/verify-email", { body: { email: user.email, code }, env })).status).toBe(200);
    // The identity that made the account predates the proof (the provider never vouched for the
    // address): a change of owner removes it, and it cannot come back without the provider's word.
    expect(await withDb((sql) => sql`select id from auth_identities where user_id = ${id}`)).toEqual([]);
    const again = await idTokenSignIn("apple", await nativeToken("apple", user), { env });
    expect([again.status, await codeOf(again)]).toEqual([409, "account_exists_unverified_link"]);
  });

  it("an account with TOTP on (enrolled through the endpoints) answers mfa_required; the session comes after the code, amr google+otp", async () => {
    const clock = fakeClock();
    const user = { sub: uniqueSub("g-mfa"), email: uniqueEmail("g-mfa") };
    const first = await socialLogin("google", user, { now: clock.now });
    const { secret } = await enableMfa(first.access_token, clock);

    const res = await idTokenSignIn("google", await nativeToken("google", user), { now: clock.now });
    expect(res.status).toBe(200);
    const step = await json(res);
    expect(step).toMatchObject({ status: "mfa_required", methods: ["totp", "recovery_code"] });
    expect(step.access_token).toBeUndefined();

    const done = await verify({ mfa_token: step.mfa_token, code: await codeAt(secret, clock) }, clock);
    expect(done.status, await done.clone().text()).toBe(200);
    const session = await json(done);
    expect(session.user.id).toBe(first.user.id);
    expect(claimsOf(session.access_token).amr).toEqual(["google", "otp"]);
    const events = (await auditRows(first.user.id)).map((r) => r.event);
    expect(events).toContain("mfa_challenge_issued");
  });
});

describe("typed client (src/client.ts)", () => {
  it("signs in with an ID token and lists the identities with typed requests and responses", async () => {
    const api = createClient("http://auth.test", { fetch: workerFetch });
    const t = await nativeToken("google", { sub: uniqueSub("typed"), email: uniqueEmail("typed") });
    const res = await api.auth.oauth[":provider"]["id-token"].$post({ param: { provider: "google" }, json: t });
    expect(res.status).toBe(200);
    if (res.status !== 200) throw new Error("sign-in failed");
    const body = await res.json(); // typed: AuthResponse | MfaRequired
    if (body.status !== "success") throw new Error("no second factor was enrolled");
    const list = await createClient("http://auth.test", { fetch: workerFetch, token: body.access_token }).auth.identities.$get();
    if (list.status !== 200) throw new Error("list failed");
    const { identities, has_password } = await list.json();
    expect([identities.map((i) => i.provider), has_password]).toEqual([["google"], false]);
  });
});
