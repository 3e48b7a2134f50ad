import { createLocalJWKSet, createRemoteJWKSet, customFetch, decodeProtectedHeader, jwtVerify } from "jose";
import jsonwebtoken from "jsonwebtoken";
import { describe, expect, it } from "vitest";
import { generateKeySet } from "../../../src/auth/sessions/keys";
import { PASSWORD, uniqueEmail } from "../../support/accounts";
import { fakeClock } from "../../support/clock";
import { call, json } from "../../support/worker";

const MIN = 60_000;
const DAY = 24 * 3600_000;
const ISSUER = "edge-auth-api";
const AUDIENCE = "platform";
const LEGACY_SECRET = "legacy-shared-secret-0123456789-abcdefghij";

type Env = Record<string, unknown>;

async function register(env?: Env, now?: () => Date) {
  const res = await call("/auth/register", {
    body: { full_name: "Token User", email: uniqueEmail("tok"), password: PASSWORD, role: "instructor" },
    env,
    now,
  });
  expect(res.status).toBe(201);
  return (await json(res)) as {
    access_token: string;
    refresh_token: string;
    expires_in: number;
    user: { id: string; email: string; full_name: string; role: string };
  };
}

async function jwks(env?: Env) {
  const res = await call("/.well-known/jwks.json", { env });
  expect(res.status).toBe(200);
  return { res, body: (await json(res)) as { keys: Record<string, string>[] } };
}

const me = async (token: string, opts: { env?: Env; now?: () => Date } = {}) => (await call("/auth/me", { token, ...opts })).status;

describe("JWKS and verification by other services", () => {
  it("serves the public keys with cache headers, never a private part", async () => {
    const { res, body } = await jwks();
    expect(res.headers.get("cache-control")).toMatch(/^public, max-age=\d+/);
    expect(res.headers.get("content-type")).toMatch(/application\/json/);
    expect(body.keys.length).toBeGreaterThan(0);
    for (const k of body.keys) {
      expect(k).toEqual({ kty: "OKP", crv: "Ed25519", x: expect.any(String), kid: expect.any(String), alg: "EdDSA", use: "sig" });
    }
  });

  it("an access token verifies with jose against the served JWKS (local set and remote fetch)", async () => {
    const u = await register();
    const header = decodeProtectedHeader(u.access_token);
    expect(header).toMatchObject({ alg: "EdDSA", typ: "JWT", kid: expect.any(String) });
    const { body } = await jwks();
    const { payload } = await jwtVerify(u.access_token, createLocalJWKSet(body), {
      issuer: ISSUER,
      audience: AUDIENCE,
      algorithms: ["EdDSA"],
    });
    expect(payload).toMatchObject({ sub: u.user.id, id: u.user.id, role: "instructor", token_use: "access", sid: expect.any(String) });
    expect((payload.exp as number) - (payload.iat as number)).toBe(900);

    // The way another service does it: createRemoteJWKSet fetching /.well-known/jwks.json (here routed into the Worker).
    const remote = createRemoteJWKSet(new URL("http://auth.test/.well-known/jwks.json"), {
      [customFetch]: (url: string) => call(new URL(url).pathname),
    });
    const verified = await jwtVerify(u.access_token, remote, { issuer: ISSUER, audience: AUDIENCE });
    expect(verified.payload.sub).toBe(u.user.id);
  });

  it("ES256 (JWT_ALG=ES256) tokens verify with jose too", async () => {
    const env = { JWT_ALG: "ES256" };
    const u = await register(env);
    expect(decodeProtectedHeader(u.access_token).alg).toBe("ES256");
    const { body } = await jwks(env);
    expect(body.keys[0]).toMatchObject({ kty: "EC", crv: "P-256", alg: "ES256", use: "sig" });
    const { payload } = await jwtVerify(u.access_token, createLocalJWKSet(body), {
      issuer: ISSUER,
      audience: AUDIENCE,
      algorithms: ["ES256"],
    });
    expect(payload.sub).toBe(u.user.id);
    expect(await me(u.access_token, { env })).toBe(200);
  });
});

describe("key rotation", () => {
  it("an old key verifies while listed, new tokens carry the new kid, and removal ends the old tokens", async () => {
    const [oldSet, newSet] = [await generateKeySet("EdDSA"), await generateKeySet("ES256")];
    const [oldKey, newKey] = [oldSet.keys[0], newSet.keys[0]];
    const before = { JWT_PRIVATE_KEYS: JSON.stringify({ keys: [oldKey] }) };
    const during = { JWT_PRIVATE_KEYS: JSON.stringify({ keys: [newKey, oldKey] }) };
    const after = { JWT_PRIVATE_KEYS: JSON.stringify({ keys: [newKey] }) };
    const { d: _d, ...oldPublic } = oldKey;
    const duringPublicOld = { JWT_PRIVATE_KEYS: JSON.stringify({ keys: [newKey, oldPublic] }) };

    const u = await register(before);
    expect(decodeProtectedHeader(u.access_token).kid).toBe(oldKey.kid);
    expect(await me(u.access_token, { env: before })).toBe(200);

    // Rotation: the new key signs, the old key still verifies (nobody is logged out).
    expect(await me(u.access_token, { env: during })).toBe(200);
    expect(await me(u.access_token, { env: duringPublicOld })).toBe(200); // the old key may be kept as a public key only
    const served = (await jwks(during)).body;
    expect(served.keys.map((k) => k.kid)).toEqual([newKey.kid, oldKey.kid]);
    const r = await call("/auth/refresh", { body: { refresh_token: u.refresh_token }, env: during });
    expect(r.status).toBe(200);
    const next = await json(r);
    expect(decodeProtectedHeader(next.access_token)).toMatchObject({ kid: newKey.kid, alg: "ES256" });
    await jwtVerify(next.access_token, createLocalJWKSet(served), { issuer: ISSUER, audience: AUDIENCE });
    await jwtVerify(u.access_token, createLocalJWKSet(served), { issuer: ISSUER, audience: AUDIENCE });

    // After removal of the old key: its tokens fail, the new ones keep working.
    expect(await me(u.access_token, { env: after })).toBe(401);
    expect(await me(next.access_token, { env: after })).toBe(200);
    expect((await jwks(after)).body.keys.map((k) => k.kid)).toEqual([newKey.kid]);
  });

  it("accepts keys in the shape scripts/ops/generate-jwk.ts prints (no key_ops/ext, use: sig)", async () => {
    const { key_ops: _o, ext: _e, ...jwk } = (await generateKeySet("EdDSA")).keys[0];
    const env = { JWT_PRIVATE_KEYS: JSON.stringify({ keys: [{ ...jwk, use: "sig" }] }) };
    const u = await register(env);
    expect(decodeProtectedHeader(u.access_token).kid).toBe(jwk.kid);
    expect(await me(u.access_token, { env })).toBe(200);
  });

  it("a broken JWT_PRIVATE_KEYS fails loudly (500), not silently", async () => {
    const res = await call("/auth/register", {
      body: { full_name: "X", email: uniqueEmail(), password: PASSWORD, role: "student" },
      env: { JWT_PRIVATE_KEYS: '{"keys":[]}' },
    });
    expect(res.status).toBe(500);
  });
});

describe("legacy HS256 mode", () => {
  const legacy = { LEGACY_HS256: "true", JWT_SECRET: LEGACY_SECRET };

  it("access tokens verify with only JWT_SECRET (as jsonwebtoken.verify does) and carry id, email, role, full_name", async () => {
    const u = await register(legacy);
    expect(decodeProtectedHeader(u.access_token)).toEqual({ alg: "HS256", typ: "JWT" });
    // jose with the raw secret: what jsonwebtoken.verify(token, secret) checks (HS256 HMAC, exp, nbf).
    const { payload } = await jwtVerify(u.access_token, new TextEncoder().encode(LEGACY_SECRET), { algorithms: ["HS256"] });
    expect(payload).toMatchObject({ id: u.user.id, role: "instructor", email: u.user.email, full_name: "Token User" });
    // The same check with nothing but Web Crypto.
    const [h, p, s] = u.access_token.split(".");
    const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(LEGACY_SECRET), { name: "HMAC", hash: "SHA-256" }, false, [
      "verify",
    ]);
    const sig = Uint8Array.from(atob(s.replace(/-/g, "+").replace(/_/g, "/") + "==".slice(0, (4 - (s.length % 4)) % 4)), (c) =>
      c.charCodeAt(0),
    );
    expect(await crypto.subtle.verify("HMAC", key, sig, new TextEncoder().encode(`${h}.${p}`))).toBe(true);
    // A wrong secret does not verify.
    await expect(jwtVerify(u.access_token, new TextEncoder().encode(`${LEGACY_SECRET}x`), { algorithms: ["HS256"] })).rejects.toThrow();
    // And with jsonwebtoken itself, as the platform's other services call it.
    const claims = jsonwebtoken.verify(u.access_token, LEGACY_SECRET) as Record<string, unknown>;
    expect(claims).toMatchObject({ id: u.user.id, role: "instructor" });
    expect(() => jsonwebtoken.verify(u.access_token, `${LEGACY_SECRET}x`)).toThrow(/invalid signature/);
    // This API accepts it in legacy mode only.
    expect(await me(u.access_token, { env: legacy })).toBe(200);
    expect(await me(u.access_token)).toBe(401);
    // The JWKS never exposes the shared secret.
    const { body } = await jwks(legacy);
    expect(JSON.stringify(body)).not.toContain(LEGACY_SECRET);
    expect(body.keys.every((k) => k.kty !== "oct" && !("k" in k))).toBe(true);
  });

  it("a long ACCESS_TOKEN_TTL for clients that never refresh keeps working past the refresh idle lifetime", async () => {
    const env = { ...legacy, ACCESS_TOKEN_TTL: "30d" };
    const clock = fakeClock();
    const u = await register(env, clock.now);
    expect(u.expires_in).toBe(30 * 24 * 3600);
    clock.advance(8 * DAY); // longer than REFRESH_IDLE_TTL (7d) without any refresh
    expect(await me(u.access_token, { env, now: clock.now })).toBe(200);
    clock.advance(22 * DAY + MIN);
    expect(await me(u.access_token, { env, now: clock.now })).toBe(401);
  });

  it("refresh and logout work the same in legacy mode", async () => {
    const u = await register(legacy);
    const r = await call("/auth/refresh", { body: { refresh_token: u.refresh_token }, env: legacy });
    expect(r.status).toBe(200);
    const next = await json(r);
    expect(decodeProtectedHeader(next.access_token).alg).toBe("HS256");
    expect((await call("/auth/logout", { method: "POST", token: next.access_token, env: legacy })).status).toBe(200);
    expect(await me(next.access_token, { env: legacy })).toBe(401);
  });
});
