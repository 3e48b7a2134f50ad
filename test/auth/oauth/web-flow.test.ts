import { describe, expect, it } from "vitest";
import { uniqueEmail } from "../../support/accounts";
import { MIN, SEC } from "../../support/clock";
import { userRow, withDb } from "../../support/db";
import { claimsOf } from "../../support/mfa";
import {
  authorizeAtProvider,
  bindingCookie,
  browserCallback,
  callbackCall,
  codeOf,
  control,
  exchangeCall,
  newPkce,
  oidc,
  providerStats,
  redirectResult,
  redirectTargets,
  resubmitFields,
  s256,
  setCookies,
  sha256hex,
  startCall,
  uniqueSub,
  webCode,
} from "../../support/oidc";
import { call, json, runScheduled, testEnv } from "../../support/worker";

// The web redirect flow through the Worker and the local OpenID provider's real authorize and
// token endpoints: start -> the provider -> our callback -> redirect_to?code= -> exchange. The
// tests play the browser: they keep the cookie start sets and send it back as a browser would
// (test/support/oidc.ts browserCallback), or, as another browser, do not.

const [APP, OTHER_APP, NATIVE_APP] = redirectTargets(testEnv);

const stateRows = (state: string) =>
  withDb(async (sql) => sql`select * from auth_oauth_states where state_hash = ${await sha256hex(state)}`);
const exchangeCodeCount = () => withDb(async (sql) => (await sql`select count(*)::int as n from auth_oauth_exchange_codes`)[0].n);

/** start for `user` (queued at the provider) -> the provider: what the browser holds before the callback. */
async function startedFlow(provider: "google" | "apple", query: Record<string, string> = { redirect_to: APP }) {
  await control("next-login", { provider, sub: uniqueSub("bf"), email: uniqueEmail("bf") });
  const pkce = await newPkce();
  const start = await startCall(provider, { code_challenge: pkce.challenge, ...query });
  expect(start.status, await start.clone().text()).toBe(302);
  const answer = await authorizeAtProvider(start.headers.get("location")!);
  return { start, answer, cookie: bindingCookie(start), verifier: pkce.verifier, state: answer.params.get("state")! };
}

describe("the web flow end to end", () => {
  it("Google: start (cookie, PKCE S256, state, hashed nonce) -> provider -> callback with the cookie -> exchange with the verifier -> signed in", async () => {
    const user = { sub: uniqueSub("gw"), email: uniqueEmail("gw"), email_verified: true, name: "Web Ada" };
    await control("next-login", { provider: "google", ...user });
    const app = await newPkce();
    const start = await startCall("google", { redirect_to: APP, code_challenge: app.challenge });
    expect(start.status).toBe(302);
    const authorize = new URL(start.headers.get("location")!);
    expect(authorize.origin + authorize.pathname).toBe(`${oidc().google.issuer}/authorize`);
    const q = Object.fromEntries(authorize.searchParams);
    expect(q).toMatchObject({
      response_type: "code",
      client_id: oidc().google.webClientId,
      redirect_uri: oidc().redirectUris.google,
      code_challenge_method: "S256",
      scope: "openid email profile",
    });
    expect(q.state).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(q.code_challenge).toMatch(/^[A-Za-z0-9_-]{43}$/);
    // The provider sees our own PKCE pair, never the app's.
    expect(q.code_challenge).not.toBe(app.challenge);
    expect(q.nonce).toMatch(/^[0-9a-f]{64}$/);

    // The browser binding: one host-only, script-proof, Lax cookie per flow, named after the state.
    const cookies = [...setCookies(start)];
    expect(cookies).toHaveLength(1);
    const [[name, { value, attributes }]] = cookies;
    expect(name).toBe(`__Host-oauth-${(await sha256hex(q.state)).slice(0, 16)}`);
    expect(value).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(attributes).toEqual({ "max-age": "600", path: "/", httponly: true, secure: true, samesite: "Lax" });

    // What the callback needs is kept server-side, keyed by the state's hash; neither the state,
    // the nonce's hash nor the cookie's value is stored as such.
    const [row] = await stateRows(q.state);
    expect(row).toMatchObject({
      provider: "google",
      redirect_to: APP,
      intent: "sign_in",
      session_id: null,
      client_challenge: app.challenge,
      binding_hash: await sha256hex(value),
    });
    for (const secret of [q.state, q.nonce, value]) expect(JSON.stringify(row)).not.toContain(secret);

    const answer = await authorizeAtProvider(authorize.toString());
    expect(answer.method).toBe("GET");
    const callback = await callbackCall(answer, { cookie: `${name}=${value}` });
    const { code, error, location } = redirectResult(callback, APP);
    expect(error).toBeNull();
    // Only the one-time exchange code travels in the URL: no token of any kind.
    expect([...new URL(location).searchParams.keys()]).toEqual(["code"]);
    expect(code).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(await stateRows(q.state)).toEqual([]);
    // The used flow's cookie is cleared.
    expect(setCookies(callback).get(name)).toMatchObject({ value: "", attributes: { "max-age": "0" } });

    const res = await exchangeCall({ code, code_verifier: app.verifier });
    expect(res.status, await res.clone().text()).toBe(200);
    const body = await json(res);
    expect(body).toMatchObject({ status: "success", user: { email: user.email, full_name: "Web Ada", email_verified: true } });
    expect(claimsOf(body.access_token).amr).toEqual(["google"]);
  });

  it("Apple: the cross-site form_post is posted again from our origin with the cookie; the name Apple posts once becomes the account's name", async () => {
    const user = { sub: uniqueSub("aw"), email: uniqueEmail("aw"), email_verified: true, name: "Grace Hopper" };
    await control("next-login", { provider: "apple", ...user });
    const app = await newPkce();
    const start = await startCall("apple", { redirect_to: APP, code_challenge: app.challenge });
    const authorize = new URL(start.headers.get("location")!);
    expect(authorize.searchParams.get("response_mode")).toBe("form_post");
    expect(authorize.searchParams.get("client_id")).toBe(oidc().apple.servicesId);
    const answer = await authorizeAtProvider(authorize.toString());
    expect(answer.method).toBe("POST");
    expect(answer.callback.toString()).toBe(oidc().redirectUris.apple);
    const state = answer.params.get("state")!;

    // Apple's POST comes cross-site, without the SameSite=Lax cookie: the answer is a page that
    // posts the same fields again from this origin; nothing is used up yet.
    const tokenRequests = (await providerStats()).apple.tokenRequests;
    const page = await callbackCall(answer);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toMatch(/^text\/html/);
    const csp = page.headers.get("content-security-policy")!;
    expect(csp).toMatch(/default-src 'none'; script-src 'nonce-[A-Za-z0-9_-]{22}'; form-action 'self'/);
    const html = await page.text();
    expect(html).toContain(`<script nonce="${/'nonce-([^']+)'/.exec(csp)![1]}">document.forms[0].submit();</script>`);
    expect(html).toMatch(/<form method="post">/); // back to the same URL
    const fields = resubmitFields(html);
    expect(Object.fromEntries(fields)).toEqual({ ...Object.fromEntries(answer.params), same_site: "1" });
    expect(page.headers.get("set-cookie")).toBeNull();
    expect(await stateRows(state)).toHaveLength(1);
    expect((await providerStats()).apple.tokenRequests).toBe(tokenRequests);

    // The same-site POST carries the cookie.
    const callback = await callbackCall({ ...answer, params: fields }, { cookie: bindingCookie(start) });
    const { code } = redirectResult(callback, APP);
    const body = await json(await exchangeCall({ code, code_verifier: app.verifier }));
    expect(body.user).toMatchObject({ email: user.email, full_name: "Grace Hopper", email_verified: true });
    expect(claimsOf(body.access_token).amr).toEqual(["apple"]);
  });

  it("the re-posting page escapes every field it echoes, and drops fields the provider never sends", async () => {
    const { answer } = await startedFlow("apple");
    const params = new URLSearchParams(answer.params);
    params.set("user", `"><script>alert(1)</script><input name="x`);
    params.set("redirect_to", "https://evil.test/");
    const page = await callbackCall({ ...answer, params });
    const html = await page.text();
    expect(html).not.toContain("<script>alert(1)");
    expect(html).not.toContain("evil.test");
    expect(resubmitFields(html).get("user")).toBe(params.get("user"));
  });

  it("an app's own scheme is a valid redirect_to (native apps using a browser session)", async () => {
    const { code, code_verifier } = await webCode(
      "google",
      { sub: uniqueSub("gw"), email: uniqueEmail("gw") },
      { redirect_to: NATIVE_APP },
    );
    expect((await exchangeCall({ code, code_verifier })).status).toBe(200);
  });

  it("over plain http to this machine (local development) the cookie is `oauth-…` without Secure", async () => {
    const app = await newPkce();
    const env = { OAUTH_CALLBACK_BASE_URL: "http://127.0.0.1:8787" };
    const start = await startCall("google", { redirect_to: APP, code_challenge: app.challenge }, { env });
    expect(start.status).toBe(302);
    const [[name, { attributes }]] = [...setCookies(start)];
    expect(name).toMatch(/^oauth-[0-9a-f]{16}$/);
    expect(attributes).toEqual({ "max-age": "600", path: "/", httponly: true, samesite: "Lax" });
  });
});

describe("login CSRF: the flow is bound to the browser that started it", () => {
  it("an attacker's callback URL opened in another browser (no cookie, or another flow's) is refused and changes nothing", async () => {
    // The attacker starts a flow in their own browser, signs in at the provider as themselves and
    // stops before their callback: its URL (code and state) is what they get a victim to open.
    const attacker = await startedFlow("google");
    const victimsOwnFlow = await startedFlow("google");
    const tokenRequests = (await providerStats()).google.tokenRequests;
    const codesBefore = await exchangeCodeCount();
    for (const cookie of [undefined, victimsOwnFlow.cookie, `${attacker.cookie.split("=")[0]}=${"A".repeat(43)}`]) {
      const res = await callbackCall(attacker.answer, { cookie });
      expect(redirectResult(res, APP)).toMatchObject({ code: null, error: "oauth_browser_mismatch" });
      expect(res.headers.get("set-cookie")).toBeNull();
    }
    // No code was redeemed at the provider, no exchange code issued, the state is still there.
    expect((await providerStats()).google.tokenRequests).toBe(tokenRequests);
    expect(await exchangeCodeCount()).toBe(codesBefore);
    expect(await stateRows(attacker.state)).toHaveLength(1);
    const refused = await withDb(
      (sql) =>
        sql`select count(*)::int as n from auth_audit_events where event = 'oauth_sign_in_failed' and detail->>'reason' = 'browser_mismatch'`,
    );
    expect(refused[0].n).toBeGreaterThanOrEqual(3);
    // The browser that started it still completes it: nothing was used up.
    const own = await callbackCall(attacker.answer, { cookie: attacker.cookie });
    expect(redirectResult(own, APP).code).toBeTruthy();
  });

  it("Apple's form_post in another browser: the page posts it again, still without the cookie, and it is refused", async () => {
    const attacker = await startedFlow("apple");
    const tokenRequests = (await providerStats()).apple.tokenRequests;
    const res = await browserCallback(attacker.answer, undefined);
    expect(redirectResult(res, APP)).toMatchObject({ code: null, error: "oauth_browser_mismatch" });
    // A forged same-site marker on a cross-site POST is just a POST without the cookie.
    const forged = new URLSearchParams(attacker.answer.params);
    forged.set("same_site", "1");
    expect(redirectResult(await callbackCall({ ...attacker.answer, params: forged }), APP).error).toBe("oauth_browser_mismatch");
    expect((await providerStats()).apple.tokenRequests).toBe(tokenRequests);
    expect(await stateRows(attacker.state)).toHaveLength(1);
    expect(redirectResult(await browserCallback(attacker.answer, attacker.cookie), APP).code).toBeTruthy();
  });

  it("and the exchange code is bound to the app: one planted in a victim's app without its verifier is useless", async () => {
    const { code } = await webCode("google", { sub: uniqueSub("plant"), email: uniqueEmail("plant") }, { redirect_to: APP });
    const victimApp = await newPkce(); // the victim's app holds a verifier of its own
    const res = await exchangeCall({ code, code_verifier: victimApp.verifier });
    expect([res.status, await codeOf(res)]).toEqual([401, "oauth_exchange_code_invalid"]);
  });
});

describe("tampering is refused", () => {
  it("a tampered state: 400 oauth_state_invalid, no token request; the real state still works once, then never again", async () => {
    const { answer, cookie } = await startedFlow("google");
    const real = answer.params.get("state")!;
    const tokenRequests = (await providerStats()).google.tokenRequests;
    for (const state of [`${real.slice(0, -1)}${real.endsWith("A") ? "B" : "A"}`, "", "x".repeat(600)]) {
      const params = new URLSearchParams(answer.params);
      params.set("state", state);
      const res = await callbackCall({ ...answer, params }, { cookie });
      expect([res.status, await codeOf(res)]).toEqual([400, state.length > 512 ? "validation_failed" : "oauth_state_invalid"]);
    }
    const noState = new URLSearchParams(answer.params);
    noState.delete("state");
    expect(await codeOf(await callbackCall({ ...answer, params: noState }, { cookie }))).toBe("oauth_state_invalid");
    expect((await providerStats()).google.tokenRequests).toBe(tokenRequests);

    expect(redirectResult(await callbackCall(answer, { cookie }), APP).code).toBeTruthy();
    const replay = await callbackCall(answer, { cookie });
    expect([replay.status, await codeOf(replay)]).toEqual([400, "oauth_state_invalid"]);
  });

  it("a state is bound to its provider: Google's state at Apple's callback is unknown there", async () => {
    const { answer, cookie } = await startedFlow("google");
    const atApple = await call(`/auth/oauth/apple/callback?${answer.params}`, { headers: { cookie } });
    expect([atApple.status, await codeOf(atApple)]).toEqual([400, "oauth_state_invalid"]);
    // ...and it was not used up there.
    expect(redirectResult(await callbackCall(answer, { cookie }), APP).code).toBeTruthy();
  });

  it("PKCE: an authorization code injected into another sign-in's callback is refused by the provider (the verifiers differ)", async () => {
    const victim = { sub: uniqueSub("pk-victim"), email: uniqueEmail("pk-victim") };
    const attacker = { sub: uniqueSub("pk-attacker"), email: uniqueEmail("pk-attacker") };
    const app = await newPkce();
    await control("next-login", { provider: "google", ...victim });
    const victimStart = await startCall("google", { redirect_to: APP, code_challenge: app.challenge });
    const victimAnswer = await authorizeAtProvider(victimStart.headers.get("location")!);
    await control("next-login", { provider: "google", ...attacker });
    const attackerStart = await startCall("google", { redirect_to: OTHER_APP, code_challenge: app.challenge });
    const attackerAnswer = await authorizeAtProvider(attackerStart.headers.get("location")!);

    // The victim's stolen code, sent with the attacker's own (valid) state, from the attacker's browser.
    const injected = new URLSearchParams(attackerAnswer.params);
    injected.set("code", victimAnswer.params.get("code")!);
    const res = await callbackCall({ ...attackerAnswer, params: injected }, { cookie: bindingCookie(attackerStart) });
    expect(redirectResult(res, OTHER_APP)).toMatchObject({ code: null, error: "oauth_code_rejected" });
    const [{ n }] = await withDb((sql) => sql`select count(*)::int as n from users where email in (${victim.email}, ${attacker.email})`);
    expect(n).toBe(0);
  });

  it("PKCE: a code_challenge swapped in the authorize URL makes the code useless to us", async () => {
    await control("next-login", { provider: "google", sub: uniqueSub("pk"), email: uniqueEmail("pk") });
    const start = await startCall("google", { redirect_to: APP, code_challenge: (await newPkce()).challenge });
    const authorize = new URL(start.headers.get("location")!);
    authorize.searchParams.set("code_challenge", await s256("an-attackers-own-verifier-0123456789-abcdefghij"));
    const res = await browserCallback(await authorizeAtProvider(authorize.toString()), bindingCookie(start));
    expect(redirectResult(res, APP)).toMatchObject({ code: null, error: "oauth_code_rejected" });
  });

  it("a nonce swapped in the authorize URL: the ID token's nonce is not ours", async () => {
    await control("next-login", { provider: "google", sub: uniqueSub("nn"), email: uniqueEmail("nn") });
    const start = await startCall("google", { redirect_to: APP, code_challenge: (await newPkce()).challenge });
    const authorize = new URL(start.headers.get("location")!);
    authorize.searchParams.set("nonce", await sha256hex("someone-elses-nonce"));
    const res = await browserCallback(await authorizeAtProvider(authorize.toString()), bindingCookie(start));
    expect(redirectResult(res, APP)).toMatchObject({ code: null, error: "nonce_mismatch" });
  });

  it("redirect_to must be exactly an allowed URL: look-alikes are refused and store nothing", async () => {
    const [{ before }] = await withDb((sql) => sql`select count(*)::int as before from auth_oauth_states`);
    const { challenge } = await newPkce();
    const lookAlikes = [
      "https://evil.test/oauth/done",
      `${APP}/`,
      `${APP}?next=https://evil.test`,
      `${APP}#x`,
      `${APP}.evil.test`,
      APP.replace("https://app.test", "https://app.test.evil.test"),
      APP.replace("https://", "http://"),
      APP.toUpperCase(),
      APP.replace("app.test", "app.test@evil.test"),
      "//evil.test/oauth/done",
      "javascript:alert(1)",
      ` ${APP}`,
    ];
    for (const redirect_to of lookAlikes) {
      const res = await startCall("google", { redirect_to, code_challenge: challenge });
      expect([redirect_to, res.status, await codeOf(res)]).toEqual([redirect_to, 400, "oauth_redirect_not_allowed"]);
      expect(res.headers.get("location")).toBeNull();
      expect(res.headers.get("set-cookie")).toBeNull();
    }
    const missing = await call(`/auth/oauth/google/start?code_challenge=${challenge}`);
    expect([missing.status, await codeOf(missing)]).toEqual([400, "validation_failed"]);
    const [{ after }] = await withDb((sql) => sql`select count(*)::int as after from auth_oauth_states`);
    expect(after).toBe(before);
  });

  it("the callback sends the browser only to the redirect_to stored at start, whatever the callback URL says", async () => {
    const { answer, cookie } = await startedFlow("google", { redirect_to: OTHER_APP });
    const params = new URLSearchParams(answer.params);
    params.set("redirect_to", "https://evil.test/steal");
    const res = await callbackCall({ ...answer, params }, { cookie });
    expect(redirectResult(res, OTHER_APP).code).toBeTruthy();
  });

  it("the user cancelling at the provider goes back to redirect_to with error=oauth_provider_error", async () => {
    const start = await startCall("google", { redirect_to: APP, code_challenge: (await newPkce()).challenge });
    const state = new URL(start.headers.get("location")!).searchParams.get("state")!;
    const res = await call(`/auth/oauth/google/callback?${new URLSearchParams({ state, error: "access_denied" })}`, {
      headers: { cookie: bindingCookie(start) },
    });
    expect(redirectResult(res, APP)).toMatchObject({ code: null, error: "oauth_provider_error" });
  });

  it("a state older than 10 minutes is refused", async () => {
    const { answer, cookie } = await startedFlow("google");
    const late = await callbackCall(answer, { cookie, now: () => new Date(Date.now() + 10 * MIN + SEC) });
    expect([late.status, await codeOf(late)]).toEqual([400, "oauth_state_invalid"]);
  });
});

describe("the app's PKCE pair and the intent are required", () => {
  it("a flow without PKCE is refused at start: 400, nothing stored, no cookie", async () => {
    const [{ before }] = await withDb((sql) => sql`select count(*)::int as before from auth_oauth_states`);
    for (const code_challenge of [undefined, "short", `${"A".repeat(42)}=`, "plain-verifier-sent-as-is-not-a-sha256-at-all-0123"]) {
      const res = await startCall("google", { redirect_to: APP, ...(code_challenge !== undefined ? { code_challenge } : {}) });
      expect([code_challenge, res.status, await codeOf(res)]).toEqual([code_challenge, 400, "validation_failed"]);
      expect(res.headers.get("set-cookie")).toBeNull();
    }
    const badIntent = await startCall("google", { redirect_to: APP, code_challenge: (await newPkce()).challenge, intent: "admin" });
    expect([badIntent.status, await codeOf(badIntent)]).toEqual([400, "validation_failed"]);
    const [{ after }] = await withDb((sql) => sql`select count(*)::int as after from auth_oauth_states`);
    expect(after).toBe(before);
  });

  it("intent=link needs the session's bearer token", async () => {
    const res = await startCall("google", { redirect_to: APP, code_challenge: (await newPkce()).challenge, intent: "link" });
    expect([res.status, await codeOf(res)]).toEqual([401, "unauthorized"]);
    expect(res.headers.get("set-cookie")).toBeNull();
  });
});

describe("the exchange code", () => {
  const freshCode = (query: Record<string, string> = { redirect_to: APP }) =>
    webCode("google", { sub: uniqueSub("ex"), email: uniqueEmail("ex") }, query);

  it("works once", async () => {
    const code = await freshCode();
    expect((await exchangeCall(code)).status).toBe(200);
    const again = await exchangeCall(code);
    expect([again.status, await codeOf(again)]).toEqual([401, "oauth_exchange_code_invalid"]);
  });

  it("10 exchanges of one code at once: exactly one session", async () => {
    const code = await freshCode();
    const answers = await Promise.all(Array.from({ length: 10 }, () => exchangeCall(code)));
    const statuses = answers.map((r) => r.status).sort();
    expect(statuses).toEqual([200, ...Array(9).fill(401)]);
    const winner = await json(answers.find((r) => r.status === 200)!);
    const [{ sessions }] = await withDb(
      (sql) => sql`select count(*)::int as sessions from auth_sessions where user_id = ${winner.user.id}`,
    );
    expect(sessions).toBe(1);
    for (const r of answers.filter((a) => a.status === 401)) expect(await codeOf(r)).toBe("oauth_exchange_code_invalid");
  });

  it("expires after 60 seconds, and is stored only as its hash", async () => {
    const code = await freshCode();
    const [row] = await withDb(async (sql) => sql`select * from auth_oauth_exchange_codes where code_hash = ${await sha256hex(code.code)}`);
    expect(row).toMatchObject({ intent: "sign_in", session_id: null, client_challenge: await s256(code.code_verifier) });
    expect(JSON.stringify(row)).not.toContain(code.code);
    const late = await exchangeCall(code, { now: () => new Date(Date.now() + 61 * SEC) });
    expect([late.status, await codeOf(late)]).toEqual([401, "oauth_exchange_code_invalid"]);
  });

  it("bound to the app by its own PKCE pair: the verifier is required and checked", async () => {
    const missing = await exchangeCall({ code: (await freshCode()).code });
    expect([missing.status, await codeOf(missing)]).toEqual([400, "validation_failed"]);
    const { code, code_verifier } = await freshCode();
    const wrong = await exchangeCall({ code, code_verifier: `${code_verifier}x` });
    expect([wrong.status, await codeOf(wrong)]).toEqual([401, "oauth_exchange_code_invalid"]);
    // A wrong verifier uses the code up: it cannot be guessed at.
    expect((await exchangeCall({ code, code_verifier })).status).toBe(401);
    expect((await exchangeCall(await freshCode())).status).toBe(200);
  });

  it("an unknown code, a malformed one", async () => {
    const verifier = (await newPkce()).verifier;
    const unknown = await exchangeCall({ code: "A".repeat(43), code_verifier: verifier });
    expect([unknown.status, await codeOf(unknown)]).toEqual([401, "oauth_exchange_code_invalid"]);
    const malformed = await exchangeCall({ code: "not a code!", code_verifier: verifier });
    expect([malformed.status, await codeOf(malformed)]).toEqual([400, "validation_failed"]);
  });
});

describe("the web flow is off without its settings", () => {
  it("no OAUTH_REDIRECT_ALLOWLIST, or no client secret: start and callback answer 404; native sign-in still works", async () => {
    const { challenge } = await newPkce();
    for (const env of [{ OAUTH_REDIRECT_ALLOWLIST: "" }, { GOOGLE_CLIENT_SECRET: "" }]) {
      expect((await startCall("google", { redirect_to: APP, code_challenge: challenge }, { env })).status).toBe(404);
      expect((await call("/auth/oauth/google/callback?state=abc", { env })).status).toBe(404);
    }
  });

  it("the account a new web identity creates has no usable password", async () => {
    const user = { sub: uniqueSub("gw"), email: uniqueEmail("gw-nopw") };
    const body = await json(await exchangeCall(await webCode("google", user, { redirect_to: APP })));
    expect((await userRow(body.user.id)).password).toMatch(/^!/);
  });
});

describe("the purge", () => {
  it("removes expired states, exchange codes and records of used ID tokens, and keeps live ones", async () => {
    const at = (ms: number) => new Date(Date.now() + ms);
    const tag = crypto.randomUUID();
    await withDb(async (sql) => {
      for (const [name, expires] of [
        ["live", 5 * MIN],
        ["expired", -MIN],
      ] as const) {
        await sql`insert into auth_oauth_states (state_hash, provider, redirect_to, sealed, client_challenge, binding_hash, created_at, expires_at)
                  values (${`${tag}-${name}`}, 'google', ${APP}, 'v1.x.y', 'c', 'b', ${at(-MIN)}, ${at(expires)})`;
        await sql`insert into auth_oauth_exchange_codes (code_hash, provider, identity, client_challenge, created_at, expires_at)
                  values (${`${tag}-${name}`}, 'google', '{}'::jsonb, 'c', ${at(-MIN)}, ${at(expires)})`;
        await sql`insert into auth_oauth_used_tokens (key, expires_at) values (${`${tag}-${name}`}, ${at(expires)})`;
      }
    });
    await runScheduled();
    const left = await withDb(
      (sql) => sql`select 'state' as kind, state_hash as h from auth_oauth_states where state_hash like ${`${tag}%`}
                   union all select 'code', code_hash from auth_oauth_exchange_codes where code_hash like ${`${tag}%`}
                   union all select 'token', key from auth_oauth_used_tokens where key like ${`${tag}%`} order by 1`,
    );
    expect(left.map((r) => [r.kind, r.h])).toEqual([
      ["code", `${tag}-live`],
      ["state", `${tag}-live`],
      ["token", `${tag}-live`],
    ]);
  });
});
