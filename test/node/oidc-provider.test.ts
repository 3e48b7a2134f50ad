import { createHash, randomBytes } from "node:crypto";
import { createLocalJWKSet, decodeJwt, jwtVerify } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type OidcProvider, startOidcProvider } from "../../scripts/stack/oidc-provider.ts";

// The local OpenID provider itself: it must refuse what Google and Apple refuse, or the
// Worker's tests against it would prove nothing.
const REDIRECT = "http://app.test/callback";
let p: OidcProvider;

beforeAll(async () => {
  p = await startOidcProvider({
    clients: [{ provider: "google", client_id: "web-client", client_secret: "web-secret", redirect_uris: [REDIRECT] }],
  });
});
afterAll(() => p?.stop());

const b64url = (b: Buffer) => b.toString("base64url");
const pkce = () => {
  const verifier = b64url(randomBytes(32));
  return { verifier, challenge: b64url(createHash("sha256").update(verifier).digest()) };
};

function authorizeUrl(params: Record<string, string>) {
  const url = new URL(`${p.google.issuer}/authorize`);
  const all = { response_type: "code", client_id: "web-client", redirect_uri: REDIRECT, scope: "openid email", state: "s1", ...params };
  for (const [k, v] of Object.entries(all)) url.searchParams.set(k, v);
  return url;
}

async function code(params: Record<string, string> = {}) {
  const res = await fetch(authorizeUrl(params), { redirect: "manual" });
  expect(res.status).toBe(302);
  return new URL(res.headers.get("location")!).searchParams;
}

const token = (form: Record<string, string>, secret = "web-secret") =>
  fetch(`${p.google.issuer}/token`, {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      authorization: `Basic ${Buffer.from(`web-client:${secret}`).toString("base64")}`,
    },
    body: new URLSearchParams({ grant_type: "authorization_code", redirect_uri: REDIRECT, ...form }),
  });

describe("local OpenID provider", () => {
  it("serves discovery and a JWKS with cache headers", async () => {
    const res = await fetch(p.google.discoveryUrl);
    expect(res.headers.get("cache-control")).toMatch(/max-age=\d+/);
    const doc = await res.json<any>();
    expect(doc).toMatchObject({
      issuer: p.google.issuer,
      token_endpoint: `${p.google.issuer}/token`,
      code_challenge_methods_supported: ["S256"],
    });
    const jwks = await fetch(doc.jwks_uri);
    expect(jwks.headers.get("cache-control")).toMatch(/max-age=\d+/);
    expect((await jwks.json<any>()).keys.map((k: { kid: string }) => k.kid)).toEqual([p.stats().google.kid]);
  });

  it("never redirects to an unregistered redirect_uri or for an unknown client", async () => {
    for (const params of [{ redirect_uri: "http://evil.test/cb" }, { client_id: "nobody" }] as Record<string, string>[]) {
      const res = await fetch(authorizeUrl(params), { redirect: "manual" });
      expect(res.status).toBe(400);
      expect(res.headers.get("location")).toBeNull();
    }
  });

  it("refuses the plain PKCE method", async () => {
    const back = await code({ code_challenge: "x".repeat(43), code_challenge_method: "plain" });
    expect(back.get("error")).toBe("invalid_request");
    expect(back.get("code")).toBeNull();
  });

  it("issues an ID token for a code once, with the nonce, for the user the test chose", async () => {
    const { verifier, challenge } = pkce();
    p.nextLogin("google", { sub: "chosen", email: "chosen@example.test", email_verified: false, name: "Chosen One" });
    const back = await code({ code_challenge: challenge, code_challenge_method: "S256", nonce: "n-1" });
    expect(back.get("state")).toBe("s1");
    const res = await token({ code: back.get("code")!, code_verifier: verifier });
    expect(res.status).toBe(200);
    const body = await res.json<any>();
    const jwks = createLocalJWKSet(await (await fetch(`${p.google.issuer}/jwks`)).json());
    const { payload } = await jwtVerify(body.id_token, jwks, { issuer: p.google.issuer, audience: "web-client" });
    expect(payload).toMatchObject({ sub: "chosen", email: "chosen@example.test", email_verified: false, name: "Chosen One", nonce: "n-1" });
    const again = await token({ code: back.get("code")!, code_verifier: verifier });
    expect([again.status, (await again.json<any>()).error]).toEqual([400, "invalid_grant"]);
  });

  it("refuses a wrong verifier, a missing verifier, a wrong redirect_uri and a wrong secret", async () => {
    const { verifier, challenge } = pkce();
    const attempts: [Record<string, string>, string?][] = [
      [{ code_verifier: pkce().verifier }],
      [{}],
      [{ code_verifier: verifier, redirect_uri: "http://app.test/other" }],
      [{ code_verifier: verifier }, "wrong-secret"],
    ];
    for (const [form, secret] of attempts) {
      const back = await code({ code_challenge: challenge, code_challenge_method: "S256" });
      const res = await token({ code: back.get("code")!, ...form }, secret);
      expect(res.status).toBe(secret ? 401 : 400);
      expect((await res.json<any>()).error).toBe(secret ? "invalid_client" : "invalid_grant");
    }
  });

  it("rotation replaces the published key, and counts JWKS fetches", async () => {
    const before = p.stats().google;
    const { kid, previousKid } = await p.rotate("google");
    expect(previousKid).toBe(before.kid);
    const keys = (await (await fetch(`${p.google.issuer}/jwks`)).json<any>()).keys.map((k: { kid: string }) => k.kid);
    expect(keys).toEqual([kid]);
    expect(p.stats().google.jwksFetches).toBe(before.jwksFetches + 1);
    const { id_token } = await p.mint({ provider: "google", claims: { aud: "x", email: null } });
    expect(decodeJwt(id_token)).not.toHaveProperty("email");
  });

  it("apple-like tokens carry email_verified as a string and no name", async () => {
    const { id_token } = await p.mint({ provider: "apple", claims: { aud: "bundle" } });
    const claims = decodeJwt(id_token);
    expect(claims).toMatchObject({ iss: p.apple.issuer, email_verified: "true", nonce_supported: true });
    expect(claims).not.toHaveProperty("name");
  });
});
