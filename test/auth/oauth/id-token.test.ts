import { beforeAll, describe, expect, inject, it } from "vitest";
import { appleUserName } from "../../../src/auth/oauth/apple";
import { createOidcCache, type OidcDeps } from "../../../src/auth/oauth/cache";
import { getDiscovery, parseDiscovery } from "../../../src/auth/oauth/discovery";
import { hashNonce, verifyIdToken } from "../../../src/auth/oauth/id-token";
import { UNKNOWN_KID_REFETCH_MS } from "../../../src/auth/oauth/jwks";
import { isOAuthError, type OAuthErrorKind } from "../../../src/auth/oauth/oauth-error";
import type { OidcProvider, ProviderName } from "../../../src/auth/oauth/providers";
import { completeAuthorization, startAuthorization, type WebClient } from "../../../src/auth/oauth/web-flow";

// Google and Apple are the local OpenID provider started by test/support/global-setup.ts
// (scripts/stack/oidc-provider.ts): real keys, real signatures, real HTTP from inside workerd.
const oidc = inject("oidc");
const S = 1000;

const google: OidcProvider = {
  name: "google",
  discoveryUrl: oidc.google.discoveryUrl,
  clientIds: [oidc.google.webClientId, oidc.google.iosClientId, oidc.google.androidClientId],
};
const apple: OidcProvider = {
  name: "apple",
  discoveryUrl: oidc.apple.discoveryUrl,
  clientIds: [oidc.apple.bundleId, oidc.apple.servicesId],
};
const providers = { google, apple };

async function control<T = any>(path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${oidc.url}/_control/${path}`, {
    method: body === undefined ? "GET" : "POST",
    headers: { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  expect(res.status).toBe(200);
  return res.json<T>();
}

type Stats = Record<ProviderName, { jwksFetches: number; discoveryFetches: number; tokenRequests: number; kid: string }>;
const stats = () => control<Stats>("stats");

const mint = async (provider: ProviderName, claims: Record<string, unknown> = {}, key?: string, header?: Record<string, unknown>) =>
  (await control<{ id_token: string }>("mint", { provider, claims, key, header })).id_token;

/** Deps with their own cache (so tests don't share one) and a clock `offset` ms from now. */
function makeDeps(clock = { offset: 0 }): OidcDeps & { clock: { offset: number } } {
  return {
    fetch: (input, init) => fetch(input, init),
    now: () => new Date(Date.now() + clock.offset),
    oidcCache: createOidcCache(),
    clock,
  };
}

/** Deps that count their outbound requests. */
function countingDeps() {
  const deps = makeDeps();
  const counted = Object.assign(deps, {
    fetches: 0,
    fetch: (input: RequestInfo | URL, init?: RequestInit) => {
      counted.fetches++;
      return fetch(input, init);
    },
  });
  return counted;
}

async function kindOf(p: Promise<unknown>): Promise<OAuthErrorKind | "passed"> {
  try {
    await p;
    return "passed";
  } catch (err) {
    if (isOAuthError(err)) return err.kind;
    throw err;
  }
}

const now = () => Math.floor(Date.now() / 1000);
const RAW_NONCE = "raw-nonce-held-by-the-app-0123456789";
let HASHED_NONCE: string;
beforeAll(async () => {
  HASHED_NONCE = await hashNonce(RAW_NONCE);
});

describe("native ID tokens: valid ones", () => {
  it("a Google iOS token (nonce = SHA-256 of the app's raw nonce) gives the identity", async () => {
    const token = await mint("google", {
      aud: oidc.google.iosClientId,
      sub: "g-1001",
      email: "Student@Example.test",
      email_verified: true,
      name: "Ada Student",
      nonce: HASHED_NONCE,
    });
    const id = await verifyIdToken(makeDeps(), google, token, { nonce: RAW_NONCE });
    // The email claim as accounts store it: NFKC, trimmed, lower-cased (issue 33).
    expect(id).toEqual({ provider: "google", sub: "g-1001", email: "student@example.test", email_verified: true, name: "Ada Student" });
  });

  it("a Google Android token (aud = web client, azp = Android client, no nonce) passes without a nonce", async () => {
    const token = await mint("google", { aud: oidc.google.webClientId, azp: oidc.google.androidClientId, sub: "g-1002", nonce: null });
    expect((await verifyIdToken(makeDeps(), google, token)).sub).toBe("g-1002");
  });

  it("an Apple token: email_verified arrives as the string 'true' or 'false', no name", async () => {
    const deps = makeDeps();
    const verified = await mint("apple", {
      aud: oidc.apple.bundleId,
      sub: "001234.abcd",
      email: "x@privaterelay.appleid.com",
      email_verified: "true",
      is_private_email: "true",
      nonce: HASHED_NONCE,
    });
    expect(await verifyIdToken(deps, apple, verified, { nonce: RAW_NONCE })).toEqual({
      provider: "apple",
      sub: "001234.abcd",
      email: "x@privaterelay.appleid.com",
      email_verified: true,
      is_private_email: true,
    });
    const unverified = await mint("apple", { aud: oidc.apple.bundleId, email_verified: "false", nonce: HASHED_NONCE });
    expect((await verifyIdToken(deps, apple, unverified, { nonce: RAW_NONCE })).email_verified).toBe(false);
  });

  it("accepts exp up to the clock skew in the past, and upper-case hex nonces", async () => {
    const token = await mint("google", {
      aud: oidc.google.iosClientId,
      iat: now() - 3630,
      exp: now() - 30,
      nonce: HASHED_NONCE.toUpperCase(),
    });
    expect(await kindOf(verifyIdToken(makeDeps(), google, token, { nonce: RAW_NONCE }))).toBe("passed");
  });
});

describe("native ID tokens: each refusal has its own kind", () => {
  const cases: [string, ProviderName, () => Promise<string>, OAuthErrorKind, string | undefined][] = [
    [
      "wrong aud",
      "google",
      () => mint("google", { aud: "someone-elses.apps.googleusercontent.test", nonce: null }),
      "wrong_audience",
      undefined,
    ],
    [
      "several audiences, azp not ours",
      "google",
      () => mint("google", { aud: [oidc.google.webClientId, "other"], azp: "other", nonce: null }),
      "wrong_audience",
      undefined,
    ],
    [
      "wrong iss (Apple's token presented as Google's)",
      "google",
      () => mint("google", { aud: oidc.google.iosClientId, iss: oidc.apple.issuer, nonce: null }),
      "wrong_issuer",
      undefined,
    ],
    [
      "expired beyond the skew",
      "apple",
      () => mint("apple", { aud: oidc.apple.bundleId, iat: now() - 4000, exp: now() - 61, nonce: HASHED_NONCE }),
      "expired",
      RAW_NONCE,
    ],
    [
      "issued in the future",
      "google",
      () => mint("google", { aud: oidc.google.iosClientId, iat: now() + 600, exp: now() + 4200, nonce: null }),
      "not_yet_valid",
      undefined,
    ],
    [
      "signed by another key under the published kid",
      "google",
      () => mint("google", { aud: oidc.google.iosClientId, nonce: null }, "foreign"),
      "bad_signature",
      undefined,
    ],
    [
      "HS256 with the public key as secret",
      "apple",
      () => mint("apple", { aud: oidc.apple.bundleId, nonce: HASHED_NONCE }, "hs256"),
      "bad_signature",
      RAW_NONCE,
    ],
    [
      "a kid the provider never published",
      "apple",
      () => mint("apple", { aud: oidc.apple.bundleId, nonce: HASHED_NONCE }, "unlisted"),
      "unknown_key",
      RAW_NONCE,
    ],
    ["no sub", "google", () => mint("google", { aud: oidc.google.iosClientId, sub: null, nonce: null }), "malformed", undefined],
    [
      "no kid",
      "google",
      () => mint("google", { aud: oidc.google.iosClientId, nonce: null }, "current", { kid: null }),
      "malformed",
      undefined,
    ],
    [
      "nonce mismatch",
      "apple",
      () => mint("apple", { aud: oidc.apple.bundleId, nonce: HASHED_NONCE }),
      "nonce_mismatch",
      "another-raw-nonce",
    ],
    // The raw nonce verbatim in the token proves nothing: whoever holds the token can read it.
    [
      "the raw nonce itself in the token",
      "apple",
      () => mint("apple", { aud: oidc.apple.bundleId, nonce: RAW_NONCE }),
      "nonce_mismatch",
      RAW_NONCE,
    ],
    [
      "a nonce sent, none in the token",
      "google",
      () => mint("google", { aud: oidc.google.webClientId, nonce: null }),
      "nonce_missing",
      RAW_NONCE,
    ],
    // What the Google iOS SDK does when the app passes no nonce: AppAuth adds its own.
    [
      "a nonce in the token, none sent",
      "google",
      () => mint("google", { aud: oidc.google.iosClientId, nonce: "sdk-generated-nonce" }),
      "nonce_missing",
      undefined,
    ],
    [
      "Apple without any nonce (nonce_supported)",
      "apple",
      () => mint("apple", { aud: oidc.apple.bundleId, nonce: null }),
      "nonce_missing",
      undefined,
    ],
  ];
  for (const [name, provider, token, kind, nonce] of cases) {
    it(`${name} -> ${kind}`, async () => {
      expect(await kindOf(verifyIdToken(makeDeps(), providers[provider], await token(), { nonce }))).toBe(kind);
    });
  }

  it("alg none is refused as a bad signature", async () => {
    const [, payload] = (await mint("google", { aud: oidc.google.iosClientId, nonce: null })).split(".");
    const header = btoa(JSON.stringify({ alg: "none", kid: (await stats()).google.kid })).replace(/=+$/, "");
    expect(await kindOf(verifyIdToken(makeDeps(), google, `${header}.${payload}.`))).toBe("bad_signature");
  });

  it("not a JWT at all -> malformed, without fetching anything", async () => {
    const deps = countingDeps();
    expect(await kindOf(verifyIdToken(deps, google, "not-a-jwt"))).toBe("malformed");
    expect(deps.fetches).toBe(0);
  });

  it("Apple on a platform without nonces (nonce_supported false) and Google by default accept a token without one", async () => {
    const appleToken = await mint("apple", { aud: oidc.apple.servicesId, nonce: null, nonce_supported: false });
    expect(await kindOf(verifyIdToken(makeDeps(), apple, appleToken))).toBe("passed");
    const googleToken = await mint("google", { aud: oidc.google.webClientId, nonce: null });
    expect(await kindOf(verifyIdToken(makeDeps(), google, googleToken))).toBe("passed");
    expect(await kindOf(verifyIdToken(makeDeps(), { ...google, requireNonce: true }, googleToken))).toBe("nonce_missing");
  });

  it("a provider with no client ids accepts nothing", async () => {
    const token = await mint("google", { aud: oidc.google.iosClientId, nonce: null });
    expect(await kindOf(verifyIdToken(makeDeps(), { ...google, clientIds: [] }, token))).toBe("wrong_audience");
  });
});

describe("discovery and JWKS caching", () => {
  it("a fetch another request started and never finished (that request was cancelled) delays a sign-in, never stalls it", async () => {
    const cache = createOidcCache();
    // The first caller's fetch never settles: what a waiter sees when workerd drops the
    // continuations of a cancelled request. The second caller shares the cache and its in-flight entry.
    const gone: OidcDeps = { fetch: () => new Promise<Response>(() => {}), now: () => new Date(), oidcCache: cache };
    const live: OidcDeps = { ...makeDeps(), oidcCache: cache };
    void getDiscovery(gone, google);
    const doc = await getDiscovery(live, google);
    expect(doc.issuer).toBe(
      new URL(google.discoveryUrl).origin + new URL(google.discoveryUrl).pathname.replace(/\/\.well-known\/openid-configuration$/, ""),
    );
  }, 20_000);

  it("honours the JWKS max-age: no fetch while fresh, one fetch after", async () => {
    await control("cache", { provider: "google", jwksMaxAge: 300 });
    try {
      const deps = makeDeps();
      const token = await mint("google", { aud: oidc.google.iosClientId, nonce: null });
      const before = (await stats()).google;
      await verifyIdToken(deps, google, token);
      await verifyIdToken(deps, google, token);
      deps.clock.offset = 299 * S;
      await verifyIdToken(deps, google, token);
      const fresh = (await stats()).google;
      expect([fresh.jwksFetches - before.jwksFetches, fresh.discoveryFetches - before.discoveryFetches]).toEqual([1, 1]);
      deps.clock.offset = 301 * S;
      await verifyIdToken(deps, google, token);
      const after = (await stats()).google;
      // The JWKS (max-age 300) is fetched again; discovery (max-age 3600) is not.
      expect([after.jwksFetches - fresh.jwksFetches, after.discoveryFetches - fresh.discoveryFetches]).toEqual([1, 0]);
    } finally {
      await control("cache", { provider: "google", jwksMaxAge: 3600 });
    }
  });

  it("concurrent first uses share one discovery and one JWKS fetch", async () => {
    const deps = makeDeps();
    const token = await mint("apple", { aud: oidc.apple.bundleId, nonce: HASHED_NONCE });
    const before = (await stats()).apple;
    const results = await Promise.all(Array.from({ length: 50 }, () => kindOf(verifyIdToken(deps, apple, token, { nonce: RAW_NONCE }))));
    expect(new Set(results)).toEqual(new Set(["passed"]));
    const after = (await stats()).apple;
    expect([after.discoveryFetches - before.discoveryFetches, after.jwksFetches - before.jwksFetches]).toEqual([1, 1]);
  });

  it("key rotation: an unknown kid refetches (rate-limited), the new key verifies, the dropped key does not", async () => {
    const deps = makeDeps();
    const oldToken = await mint("apple", { aud: oidc.apple.bundleId, nonce: HASHED_NONCE });
    expect(await kindOf(verifyIdToken(deps, apple, oldToken, { nonce: RAW_NONCE }))).toBe("passed");
    await control("rotate", { provider: "apple" });
    const newToken = await mint("apple", { aud: oidc.apple.bundleId, nonce: HASHED_NONCE });
    const s0 = (await stats()).apple.jwksFetches;

    // Within the cooldown of the last fetch the cache is trusted: no refetch, unknown key.
    expect(await kindOf(verifyIdToken(deps, apple, newToken, { nonce: RAW_NONCE }))).toBe("unknown_key");
    expect((await stats()).apple.jwksFetches).toBe(s0);

    // After it, the unknown kid triggers one refetch and the new key verifies.
    deps.clock.offset = UNKNOWN_KID_REFETCH_MS + S;
    expect(await kindOf(verifyIdToken(deps, apple, newToken, { nonce: RAW_NONCE }))).toBe("passed");
    expect((await stats()).apple.jwksFetches).toBe(s0 + 1);

    // The old key left the JWKS: its tokens now fail, and asking again costs no fetch.
    expect(await kindOf(verifyIdToken(deps, apple, oldToken, { nonce: RAW_NONCE }))).toBe("unknown_key");
    expect(await kindOf(verifyIdToken(deps, apple, newToken, { nonce: RAW_NONCE }))).toBe("passed");
    expect((await stats()).apple.jwksFetches).toBe(s0 + 1);
  });

  it("50 forged tokens with random kids at once cost at most one JWKS fetch per cooldown", async () => {
    const deps = makeDeps();
    await verifyIdToken(deps, google, await mint("google", { aud: oidc.google.iosClientId, nonce: null }));
    const forged = await Promise.all(
      Array.from({ length: 50 }, () => mint("google", { aud: oidc.google.iosClientId, nonce: null }, "unlisted")),
    );
    const s0 = (await stats()).google.jwksFetches;
    const within = await Promise.all(forged.map((t) => kindOf(verifyIdToken(deps, google, t))));
    expect(new Set(within)).toEqual(new Set(["unknown_key"]));
    expect((await stats()).google.jwksFetches).toBe(s0);
    deps.clock.offset = UNKNOWN_KID_REFETCH_MS + S;
    const after = await Promise.all(forged.map((t) => kindOf(verifyIdToken(deps, google, t))));
    expect(new Set(after)).toEqual(new Set(["unknown_key"]));
    expect((await stats()).google.jwksFetches).toBe(s0 + 1);
  });

  it("keeps verifying with the cached keys while the provider is unreachable", async () => {
    let online = true;
    const deps = {
      ...makeDeps(),
      fetch: (i: RequestInfo | URL, init?: RequestInit) => (online ? fetch(i, init) : Promise.reject(new TypeError("network down"))),
    };
    const token = await mint("google", { aud: oidc.google.iosClientId, nonce: null, exp: now() + 4 * 3600 });
    await verifyIdToken(deps, google, token);
    online = false;
    deps.clock.offset = 2 * 3600 * S; // both documents (max-age 3600) have expired
    expect(await kindOf(verifyIdToken(deps, google, token))).toBe("passed");
  });

  it("a provider answering 404 with nothing cached -> provider_unavailable", async () => {
    const closed = { ...google, discoveryUrl: `${oidc.url}/gone/.well-known/openid-configuration` };
    const token = await mint("google", { aud: oidc.google.iosClientId, nonce: null });
    expect(await kindOf(verifyIdToken(makeDeps(), closed, token))).toBe("provider_unavailable");
  });

  it("refuses a plain-http discovery URL off this machine without fetching it", async () => {
    const deps = countingDeps();
    const token = await mint("google", { aud: oidc.google.iosClientId, nonce: null });
    const insecure = { ...google, discoveryUrl: "http://accounts.example.test/.well-known/openid-configuration" };
    expect(await kindOf(verifyIdToken(deps, insecure, token))).toBe("provider_unavailable");
    expect(deps.fetches).toBe(0);
  });

  it("a discovery document must name the issuer it was fetched under", async () => {
    const real = await (await fetch(oidc.google.discoveryUrl)).json<Record<string, unknown>>();
    expect(parseDiscovery(oidc.google.discoveryUrl, real).issuer).toBe(oidc.google.issuer);
    expect(() => parseDiscovery(oidc.google.discoveryUrl, { ...real, issuer: oidc.apple.issuer })).toThrow(/does not match/);
  });
});

describe("web flow: code + PKCE + state + nonce against the provider's endpoints", () => {
  const googleClient: WebClient = {
    clientId: oidc.google.webClientId,
    clientSecret: oidc.google.webClientSecret,
    redirectUri: oidc.redirectUris.google,
  };
  const appleClient: WebClient = {
    clientId: oidc.apple.servicesId,
    redirectUri: oidc.redirectUris.apple,
    appleKey: { teamId: oidc.apple.teamId, keyId: oidc.apple.keyId, privateKeyPem: oidc.apple.privateKeyPem },
  };

  /** Follow the provider's answer to the authorize URL back to our callback's parameters. */
  async function callbackParams(url: URL): Promise<URLSearchParams> {
    const res = await fetch(url, { redirect: "manual" });
    if (res.status === 302) {
      const back = new URL(res.headers.get("location")!);
      return back.searchParams;
    }
    expect(res.status).toBe(200); // form_post: an auto-submitting form to the redirect URI
    const html = await res.text();
    const params = new URLSearchParams();
    for (const m of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g))
      params.set(
        m[1],
        m[2]
          .replace(/&quot;/g, '"')
          .replace(/&#39;/g, "'")
          .replace(/&lt;/g, "<")
          .replace(/&gt;/g, ">")
          .replace(/&amp;/g, "&"),
      );
    return params;
  }

  it("Google: start -> provider -> callback -> verified identity", async () => {
    const deps = makeDeps();
    await control("next-login", {
      provider: "google",
      sub: "g-web-1",
      email: "web.user@example.test",
      email_verified: true,
      name: "Web User",
    });
    const { url, pending } = await startAuthorization(deps, google, googleClient);
    expect(url.origin + url.pathname).toBe(`${oidc.google.issuer}/authorize`);
    expect(Object.fromEntries(url.searchParams)).toMatchObject({
      response_type: "code",
      client_id: googleClient.clientId,
      redirect_uri: googleClient.redirectUri,
      state: pending.state,
      code_challenge_method: "S256",
      nonce: await hashNonce(pending.nonce),
    });
    // Only the hash of the nonce and the challenge of the verifier leave us.
    expect(url.toString()).not.toContain(pending.nonce);
    expect(url.toString()).not.toContain(pending.codeVerifier);
    const params = await callbackParams(url);
    expect(params.get("state")).toBe(pending.state);
    expect(await completeAuthorization(deps, google, googleClient, params, pending)).toEqual({
      provider: "google",
      sub: "g-web-1",
      email: "web.user@example.test",
      email_verified: true,
      name: "Web User",
    });
  });

  it("Apple: form_post callback, client secret signed with the developer key, name from the `user` field", async () => {
    const deps = makeDeps();
    await control("next-login", {
      provider: "apple",
      sub: "001.apple-web",
      email: "a@example.test",
      email_verified: true,
      name: "Grace Hopper",
    });
    const { url, pending } = await startAuthorization(deps, apple, appleClient);
    expect(url.searchParams.get("response_mode")).toBe("form_post");
    const params = await callbackParams(url);
    expect(appleUserName(params)).toBe("Grace Hopper");
    expect(await completeAuthorization(deps, apple, appleClient, params, pending)).toMatchObject({
      sub: "001.apple-web",
      email_verified: true,
    });
  });

  it("a wrong PKCE verifier is refused by the token endpoint, and the code is then spent", async () => {
    const deps = makeDeps();
    const { url, pending } = await startAuthorization(deps, google, googleClient);
    const params = await callbackParams(url);
    const wrong = { ...pending, codeVerifier: `${pending.codeVerifier.slice(0, -4)}AAAA` };
    expect(await kindOf(completeAuthorization(deps, google, googleClient, params, wrong))).toBe("code_rejected");
    expect(await kindOf(completeAuthorization(deps, google, googleClient, params, pending))).toBe("code_rejected");
  });

  it("a tampered state is refused before any token request", async () => {
    const deps = makeDeps();
    const { url, pending } = await startAuthorization(deps, google, googleClient);
    const params = await callbackParams(url);
    const before = (await stats()).google.tokenRequests;
    params.set("state", `${pending.state}x`);
    expect(await kindOf(completeAuthorization(deps, google, googleClient, params, pending))).toBe("state_mismatch");
    // The right state, but the callback of another sign-in (someone else's pending state).
    const other = await startAuthorization(deps, google, googleClient);
    expect(await kindOf(completeAuthorization(deps, google, googleClient, await callbackParams(url), other.pending))).toBe(
      "state_mismatch",
    );
    expect((await stats()).google.tokenRequests).toBe(before);
  });

  it("a nonce other than the one we sent -> nonce_mismatch", async () => {
    const deps = makeDeps();
    const { url, pending } = await startAuthorization(deps, google, googleClient);
    const params = await callbackParams(url);
    expect(await kindOf(completeAuthorization(deps, google, googleClient, params, { ...pending, nonce: "another-raw-nonce" }))).toBe(
      "nonce_mismatch",
    );
  });

  it("an error from the provider (user cancelled) -> provider_error", async () => {
    const { pending } = await startAuthorization(makeDeps(), google, googleClient);
    const params = new URLSearchParams({ error: "access_denied", state: pending.state });
    expect(await kindOf(completeAuthorization(makeDeps(), google, googleClient, params, pending))).toBe("provider_error");
  });

  it("a wrong client secret or developer key -> code_rejected", async () => {
    const deps = makeDeps();
    const g = await startAuthorization(deps, google, googleClient);
    const badGoogle = { ...googleClient, clientSecret: "not-the-secret" };
    expect(await kindOf(completeAuthorization(deps, google, badGoogle, await callbackParams(g.url), g.pending))).toBe("code_rejected");

    const pair = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"])) as CryptoKeyPair;
    const pkcs8 = new Uint8Array((await crypto.subtle.exportKey("pkcs8", pair.privateKey)) as ArrayBuffer);
    const pem = `-----BEGIN PRIVATE KEY-----\n${btoa(String.fromCharCode(...pkcs8))}\n-----END PRIVATE KEY-----`;
    const a = await startAuthorization(deps, apple, appleClient);
    const badApple = { ...appleClient, appleKey: { ...appleClient.appleKey!, privateKeyPem: pem } };
    expect(await kindOf(completeAuthorization(deps, apple, badApple, await callbackParams(a.url), a.pending))).toBe("code_rejected");
  });
});
