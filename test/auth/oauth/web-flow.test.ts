import { describe, expect, it } from "vitest";
import { uniqueEmail } from "../../support/accounts";
import { MIN, SEC } from "../../support/clock";
import { userRow, withDb } from "../../support/db";
import { claimsOf } from "../../support/mfa";
import {
  authorizeAtProvider,
  callbackCall,
  codeOf,
  control,
  exchangeCall,
  oidc,
  providerStats,
  redirectResult,
  redirectTargets,
  sha256hex,
  startCall,
  uniqueSub,
  webFlowUntilCallback,
} from "../../support/oidc";
import { call, json, runScheduled, testEnv } from "../../support/worker";

// The web redirect flow through the Worker and the local OpenID provider's real authorize and
// token endpoints: start -> the provider -> our callback -> redirect_to?code= -> exchange.

const [APP, OTHER_APP, NATIVE_APP] = redirectTargets(testEnv);

const stateRows = (state: string) =>
  withDb(async (sql) => sql`select * from auth_oauth_states where state_hash = ${await sha256hex(state)}`);

/** base64url(SHA-256(verifier)): an app's own PKCE challenge. */
async function s256(verifier: string) {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
  return btoa(String.fromCharCode(...digest))
    .replace(/\+/g, "-")
    .replace(/\//g, "_")
    .replace(/=+$/, "");
}

describe("the web flow end to end", () => {
  it("Google: start -> provider (PKCE S256, state, hashed nonce) -> callback -> exchange code -> signed in", async () => {
    const user = { sub: uniqueSub("gw"), email: uniqueEmail("gw"), email_verified: true, name: "Web Ada" };
    await control("next-login", { provider: "google", ...user });
    const start = await startCall("google", { redirect_to: APP });
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
    expect(q.nonce).toMatch(/^[0-9a-f]{64}$/);
    // What the callback needs is kept server-side, keyed by the state's hash; neither the state
    // nor the nonce's hash is stored as such.
    const [row] = await stateRows(q.state);
    expect(row).toMatchObject({ provider: "google", redirect_to: APP });
    expect(JSON.stringify(row)).not.toContain(q.state);
    expect(JSON.stringify(row)).not.toContain(q.nonce);

    const answer = await authorizeAtProvider(authorize.toString());
    expect(answer.method).toBe("GET");
    const callback = await callbackCall(answer);
    const { code, error, location } = redirectResult(callback, APP);
    expect(error).toBeNull();
    // Only the one-time exchange code travels in the URL: no token of any kind.
    expect([...new URL(location).searchParams.keys()]).toEqual(["code"]);
    expect(code).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(await stateRows(q.state)).toEqual([]);

    const res = await exchangeCall({ code });
    expect(res.status, await res.clone().text()).toBe(200);
    const body = await json(res);
    expect(body).toMatchObject({ status: "success", user: { email: user.email, full_name: "Web Ada", email_verified: true } });
    expect(claimsOf(body.access_token).amr).toEqual(["google"]);
  });

  it("Apple: a cross-site form_post callback; the name Apple posts once becomes the account's name", async () => {
    const user = { sub: uniqueSub("aw"), email: uniqueEmail("aw"), email_verified: true, name: "Grace Hopper" };
    const { start, answer, callback } = await webFlowUntilCallback("apple", user, { redirect_to: APP });
    const authorize = new URL(start.headers.get("location")!);
    expect(authorize.searchParams.get("response_mode")).toBe("form_post");
    expect(authorize.searchParams.get("client_id")).toBe(oidc().apple.servicesId);
    expect(answer.method).toBe("POST");
    expect(answer.callback.toString()).toBe(oidc().redirectUris.apple);
    const { code } = redirectResult(callback, APP);
    const body = await json(await exchangeCall({ code }));
    expect(body.user).toMatchObject({ email: user.email, full_name: "Grace Hopper", email_verified: true });
    expect(claimsOf(body.access_token).amr).toEqual(["apple"]);
  });

  it("an app's own scheme is a valid redirect_to (native apps using a browser session)", async () => {
    const { callback } = await webFlowUntilCallback(
      "google",
      { sub: uniqueSub("gw"), email: uniqueEmail("gw") },
      { redirect_to: NATIVE_APP },
    );
    const { code } = redirectResult(callback, NATIVE_APP);
    expect((await exchangeCall({ code })).status).toBe(200);
  });
});

describe("tampering is refused", () => {
  it("a tampered state: 400 oauth_state_invalid, no token request; the real state still works once, then never again", async () => {
    const { answer } = await (async () => {
      await control("next-login", { provider: "google", sub: uniqueSub("gs"), email: uniqueEmail("gs") });
      const start = await startCall("google", { redirect_to: APP });
      return { answer: await authorizeAtProvider(start.headers.get("location")!) };
    })();
    const real = answer.params.get("state")!;
    const tokenRequests = (await providerStats()).google.tokenRequests;
    for (const state of [`${real.slice(0, -1)}${real.endsWith("A") ? "B" : "A"}`, "", "x".repeat(600)]) {
      const params = new URLSearchParams(answer.params);
      params.set("state", state);
      const res = await callbackCall({ ...answer, params });
      expect([res.status, await codeOf(res)]).toEqual([400, state.length > 512 ? "validation_failed" : "oauth_state_invalid"]);
    }
    const noState = new URLSearchParams(answer.params);
    noState.delete("state");
    expect(await codeOf(await callbackCall({ ...answer, params: noState }))).toBe("oauth_state_invalid");
    expect((await providerStats()).google.tokenRequests).toBe(tokenRequests);

    expect(redirectResult(await callbackCall(answer), APP).code).toBeTruthy();
    const replay = await callbackCall(answer);
    expect([replay.status, await codeOf(replay)]).toEqual([400, "oauth_state_invalid"]);
  });

  it("a state is bound to its provider: Google's state at Apple's callback is unknown there", async () => {
    await control("next-login", { provider: "google", sub: uniqueSub("gs"), email: uniqueEmail("gs") });
    const start = await startCall("google", { redirect_to: APP });
    const answer = await authorizeAtProvider(start.headers.get("location")!);
    const atApple = await call(`/auth/oauth/apple/callback?${answer.params}`);
    expect([atApple.status, await codeOf(atApple)]).toEqual([400, "oauth_state_invalid"]);
    // ...and it was not used up there.
    expect(redirectResult(await callbackCall(answer), APP).code).toBeTruthy();
  });

  it("PKCE: an authorization code injected into another sign-in's callback is refused by the provider (the verifiers differ)", async () => {
    const victim = { sub: uniqueSub("pk-victim"), email: uniqueEmail("pk-victim") };
    const attacker = { sub: uniqueSub("pk-attacker"), email: uniqueEmail("pk-attacker") };
    await control("next-login", { provider: "google", ...victim });
    const victimStart = await startCall("google", { redirect_to: APP });
    const victimAnswer = await authorizeAtProvider(victimStart.headers.get("location")!);
    await control("next-login", { provider: "google", ...attacker });
    const attackerStart = await startCall("google", { redirect_to: OTHER_APP });
    const attackerAnswer = await authorizeAtProvider(attackerStart.headers.get("location")!);

    // The victim's stolen code, sent with the attacker's own (valid) state.
    const injected = new URLSearchParams(attackerAnswer.params);
    injected.set("code", victimAnswer.params.get("code")!);
    const res = await callbackCall({ ...attackerAnswer, params: injected });
    expect(redirectResult(res, OTHER_APP)).toMatchObject({ code: null, error: "oauth_code_rejected" });
    const [{ n }] = await withDb((sql) => sql`select count(*)::int as n from users where email in (${victim.email}, ${attacker.email})`);
    expect(n).toBe(0);
  });

  it("PKCE: a code_challenge swapped in the authorize URL makes the code useless to us", async () => {
    await control("next-login", { provider: "google", sub: uniqueSub("pk"), email: uniqueEmail("pk") });
    const start = await startCall("google", { redirect_to: APP });
    const authorize = new URL(start.headers.get("location")!);
    authorize.searchParams.set("code_challenge", await s256("an-attackers-own-verifier-0123456789-abcdefghij"));
    const res = await callbackCall(await authorizeAtProvider(authorize.toString()));
    expect(redirectResult(res, APP)).toMatchObject({ code: null, error: "oauth_code_rejected" });
  });

  it("a nonce swapped in the authorize URL: the ID token's nonce is not ours", async () => {
    await control("next-login", { provider: "google", sub: uniqueSub("nn"), email: uniqueEmail("nn") });
    const start = await startCall("google", { redirect_to: APP });
    const authorize = new URL(start.headers.get("location")!);
    authorize.searchParams.set("nonce", await sha256hex("someone-elses-nonce"));
    const res = await callbackCall(await authorizeAtProvider(authorize.toString()));
    expect(redirectResult(res, APP)).toMatchObject({ code: null, error: "nonce_mismatch" });
  });

  it("redirect_to must be exactly an allowed URL: look-alikes are refused and store nothing", async () => {
    const [{ before }] = await withDb((sql) => sql`select count(*)::int as before from auth_oauth_states`);
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
      const res = await startCall("google", { redirect_to });
      expect([redirect_to, res.status, await codeOf(res)]).toEqual([redirect_to, 400, "oauth_redirect_not_allowed"]);
      expect(res.headers.get("location")).toBeNull();
    }
    const missing = await call("/auth/oauth/google/start");
    expect([missing.status, await codeOf(missing)]).toEqual([400, "validation_failed"]);
    const [{ after }] = await withDb((sql) => sql`select count(*)::int as after from auth_oauth_states`);
    expect(after).toBe(before);
  });

  it("the callback sends the browser only to the redirect_to stored at start, whatever the callback URL says", async () => {
    await control("next-login", { provider: "google", sub: uniqueSub("rt"), email: uniqueEmail("rt") });
    const start = await startCall("google", { redirect_to: OTHER_APP });
    const answer = await authorizeAtProvider(start.headers.get("location")!);
    const params = new URLSearchParams(answer.params);
    params.set("redirect_to", "https://evil.test/steal");
    const res = await callbackCall({ ...answer, params });
    expect(redirectResult(res, OTHER_APP).code).toBeTruthy();
  });

  it("the user cancelling at the provider goes back to redirect_to with error=oauth_provider_error", async () => {
    const start = await startCall("google", { redirect_to: APP });
    const state = new URL(start.headers.get("location")!).searchParams.get("state")!;
    const res = await call(`/auth/oauth/google/callback?${new URLSearchParams({ state, error: "access_denied" })}`);
    expect(redirectResult(res, APP)).toMatchObject({ code: null, error: "oauth_provider_error" });
  });

  it("a state older than 10 minutes is refused", async () => {
    await control("next-login", { provider: "google", sub: uniqueSub("old"), email: uniqueEmail("old") });
    const start = await startCall("google", { redirect_to: APP });
    const answer = await authorizeAtProvider(start.headers.get("location")!);
    const late = await callbackCall(answer, { now: () => new Date(Date.now() + 10 * MIN + SEC) });
    expect([late.status, await codeOf(late)]).toEqual([400, "oauth_state_invalid"]);
  });
});

describe("the exchange code", () => {
  const freshCode = async (query: Record<string, string> = { redirect_to: APP }) => {
    const { callback } = await webFlowUntilCallback("google", { sub: uniqueSub("ex"), email: uniqueEmail("ex") }, query);
    return redirectResult(callback, query.redirect_to).code!;
  };

  it("works once", async () => {
    const code = await freshCode();
    expect((await exchangeCall({ code })).status).toBe(200);
    const again = await exchangeCall({ code });
    expect([again.status, await codeOf(again)]).toEqual([401, "oauth_exchange_code_invalid"]);
  });

  it("10 exchanges of one code at once: exactly one session", async () => {
    const code = await freshCode();
    const answers = await Promise.all(Array.from({ length: 10 }, () => exchangeCall({ code })));
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
    const [row] = await withDb(async (sql) => sql`select * from auth_oauth_exchange_codes where code_hash = ${await sha256hex(code)}`);
    expect(row).toBeDefined();
    expect(JSON.stringify(row)).not.toContain(code);
    const late = await exchangeCall({ code }, { now: () => new Date(Date.now() + 61 * SEC) });
    expect([late.status, await codeOf(late)]).toEqual([401, "oauth_exchange_code_invalid"]);
  });

  it("bound to the app by its own PKCE pair: the verifier is required and checked", async () => {
    const verifier = `app-verifier-${crypto.randomUUID()}-${crypto.randomUUID()}`;
    const code_challenge = await s256(verifier);
    const missing = await exchangeCall({ code: await freshCode({ redirect_to: APP, code_challenge }) });
    expect([missing.status, await codeOf(missing)]).toEqual([401, "oauth_exchange_code_invalid"]);
    const wrong = await exchangeCall({ code: await freshCode({ redirect_to: APP, code_challenge }), code_verifier: `${verifier}x` });
    expect([wrong.status, await codeOf(wrong)]).toEqual([401, "oauth_exchange_code_invalid"]);
    const right = await exchangeCall({ code: await freshCode({ redirect_to: APP, code_challenge }), code_verifier: verifier });
    expect(right.status).toBe(200);
  });

  it("an unknown code, a malformed one", async () => {
    const unknown = await exchangeCall({ code: "A".repeat(43) });
    expect([unknown.status, await codeOf(unknown)]).toEqual([401, "oauth_exchange_code_invalid"]);
    const malformed = await exchangeCall({ code: "not a code!" });
    expect([malformed.status, await codeOf(malformed)]).toEqual([400, "validation_failed"]);
  });
});

describe("the web flow is off without its settings", () => {
  it("no OAUTH_REDIRECT_ALLOWLIST, or no client secret: start and callback answer 404; native sign-in still works", async () => {
    for (const env of [{ OAUTH_REDIRECT_ALLOWLIST: "" }, { GOOGLE_CLIENT_SECRET: "" }]) {
      expect((await startCall("google", { redirect_to: APP }, { env })).status).toBe(404);
      expect((await call("/auth/oauth/google/callback?state=abc", { env })).status).toBe(404);
    }
  });

  it("the account a new web identity creates has no usable password", async () => {
    const user = { sub: uniqueSub("gw"), email: uniqueEmail("gw-nopw") };
    const { callback } = await webFlowUntilCallback("google", user, { redirect_to: APP });
    const body = await json(await exchangeCall({ code: redirectResult(callback, APP).code }));
    expect((await userRow(body.user.id)).password).toMatch(/^!/);
  });
});

describe("the purge", () => {
  it("removes expired states and exchange codes, and keeps live ones", async () => {
    const at = (ms: number) => new Date(Date.now() + ms);
    const tag = crypto.randomUUID();
    await withDb(async (sql) => {
      for (const [name, expires] of [
        ["live", 5 * MIN],
        ["expired", -MIN],
      ] as const) {
        await sql`insert into auth_oauth_states (state_hash, provider, redirect_to, sealed, created_at, expires_at)
                  values (${`${tag}-${name}`}, 'google', ${APP}, 'v1.x.y', ${at(-MIN)}, ${at(expires)})`;
        await sql`insert into auth_oauth_exchange_codes (code_hash, provider, identity, created_at, expires_at)
                  values (${`${tag}-${name}`}, 'google', '{}'::jsonb, ${at(-MIN)}, ${at(expires)})`;
      }
    });
    await runScheduled();
    const left = await withDb(
      (sql) => sql`select 'state' as kind, state_hash as h from auth_oauth_states where state_hash like ${`${tag}%`}
                   union all select 'code', code_hash from auth_oauth_exchange_codes where code_hash like ${`${tag}%`} order by 1`,
    );
    expect(left.map((r) => [r.kind, r.h])).toEqual([
      ["code", `${tag}-live`],
      ["state", `${tag}-live`],
    ]);
  });
});
