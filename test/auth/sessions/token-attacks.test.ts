import { beforeAll, describe, expect, it } from "vitest";
import { generateKeySet } from "../../../src/auth/sessions/keys";
import { PASSWORD, uniqueEmail } from "../../support/accounts";
import { fakeClock } from "../../support/clock";
import { call, json } from "../../support/worker";

/**
 * Forged and tampered access tokens. The Worker runs with a key set generated here, so the tests
 * can also sign tokens with the real key and change one thing at a time.
 */
const enc = new TextEncoder();
const b64url = (bytes: Uint8Array | ArrayBuffer) =>
  btoa(String.fromCharCode(...new Uint8Array(bytes)))
    .replace(/\+/g, "-")
    .replace(/\//g, "_")
    .replace(/=+$/, "");
const part = (v: unknown) => b64url(enc.encode(JSON.stringify(v)));
const claimsOf = (token: string) => JSON.parse(atob(token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/"))) as Record<string, unknown>;

async function signEd25519(key: CryptoKey, header: Record<string, unknown>, claims: Record<string, unknown>) {
  const input = `${part(header)}.${part(claims)}`;
  return `${input}.${b64url(await crypto.subtle.sign("Ed25519", key, enc.encode(input)))}`;
}

async function signHs256(secret: Uint8Array | string, header: Record<string, unknown>, claims: Record<string, unknown>) {
  const raw = typeof secret === "string" ? enc.encode(secret) : secret;
  const key = await crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const input = `${part(header)}.${part(claims)}`;
  return `${input}.${b64url(await crypto.subtle.sign("HMAC", key, enc.encode(input)))}`;
}

let env: Record<string, unknown>;
let kid: string;
let realKey: CryptoKey;
let publicJwk: JsonWebKey & { kid: string };
let token: string;
let refreshToken: string;
let claims: Record<string, unknown>;

beforeAll(async () => {
  const set = await generateKeySet("EdDSA");
  const jwk = set.keys[0];
  kid = jwk.kid;
  env = { JWT_PRIVATE_KEYS: JSON.stringify(set) };
  const { d: _d, key_ops: _ops, ...pub } = jwk;
  publicJwk = pub as JsonWebKey & { kid: string };
  const { alg: _alg, kid: _kid, ...importable } = jwk;
  realKey = await crypto.subtle.importKey("jwk", importable, { name: "Ed25519" }, false, ["sign"]);
  const res = await call("/auth/register", {
    body: { full_name: "Victim", email: uniqueEmail("victim"), password: PASSWORD, role: "student" },
    env,
  });
  expect(res.status).toBe(201);
  const body = await json(res);
  token = body.access_token;
  refreshToken = body.refresh_token;
  claims = claimsOf(token);
});

const me = async (t: string, now?: () => Date) => {
  const res = await call("/auth/me", { token: t, env, now });
  return { status: res.status, body: await json(res) };
};
const header = () => ({ alg: "EdDSA", typ: "JWT", kid });
const fresh = (extra: Record<string, unknown> = {}) => {
  const now = Math.floor(Date.now() / 1000);
  return { ...claims, iat: now, nbf: now, exp: now + 600, ...extra };
};

describe("tampered and forged access tokens -> 401", () => {
  it("control: a token signed here with the real key is accepted (so the attacks below test one change each)", async () => {
    expect((await me(token)).status).toBe(200);
    expect((await me(await signEd25519(realKey, header(), fresh()))).status).toBe(200);
  });

  it("HS256 forged with the public key as the HMAC secret (x value, JWK JSON, PEM, raw bytes)", async () => {
    const publicKey = await crypto.subtle.importKey("jwk", { kty: "OKP", crv: "Ed25519", x: publicJwk.x }, { name: "Ed25519" }, true, [
      "verify",
    ]);
    const spki = (await crypto.subtle.exportKey("spki", publicKey)) as ArrayBuffer;
    const pem = `-----BEGIN PUBLIC KEY-----\n${btoa(String.fromCharCode(...new Uint8Array(spki)))}\n-----END PUBLIC KEY-----\n`;
    const served = (await json(await call("/.well-known/jwks.json", { env }))).keys[0];
    const rawX = Uint8Array.from(atob(`${publicJwk.x!.replace(/-/g, "+").replace(/_/g, "/")}=`), (c) => c.charCodeAt(0));
    const secrets: (string | Uint8Array)[] = [
      publicJwk.x!,
      JSON.stringify(served),
      JSON.stringify(publicJwk),
      pem,
      pem.trim(),
      rawX,
      new Uint8Array(spki),
    ];
    for (const secret of secrets) {
      for (const h of [
        { alg: "HS256", typ: "JWT" },
        { alg: "HS256", typ: "JWT", kid },
      ]) {
        const forged = await signHs256(secret, h, fresh());
        const res = await me(forged);
        expect(res.status).toBe(401);
        expect(res.body.code).toBe("invalid_token");
      }
    }
    // Also in legacy mode, where HS256 is allowed: only JWT_SECRET signs, never a public key.
    const legacyEnv = { ...env, LEGACY_HS256: "true", JWT_SECRET: "legacy-shared-secret-0123456789-abcdefghij" };
    const forged = await signHs256(publicJwk.x!, { alg: "HS256", typ: "JWT" }, fresh());
    expect((await call("/auth/me", { token: forged, env: legacyEnv })).status).toBe(401);
  });

  it("alg none (any spelling, with or without a signature)", async () => {
    for (const alg of ["none", "None", "NONE", "nOnE"]) {
      const unsigned = `${part({ alg, typ: "JWT" })}.${part(fresh())}`;
      expect((await me(`${unsigned}.`)).status).toBe(401);
      expect((await me(`${unsigned}.${token.split(".")[2]}`)).status).toBe(401);
    }
    expect((await me(`${part({ alg: "none" })}.${part(fresh())}`)).status).toBe(401);
  });

  it("wrong aud, wrong iss, another token type, nbf in the future, missing sid, a sid or sub that is not a UUID (all signed with the real key)", async () => {
    const cases: Record<string, unknown>[] = [
      { aud: "another-service" },
      { aud: ["another-service"] },
      { iss: "https://attacker.example" },
      { iss: undefined },
      { token_use: "refresh" },
      { token_use: "reset" },
      { token_use: undefined },
      { nbf: Math.floor(Date.now() / 1000) + 3600 },
      { sid: undefined },
      { sid: crypto.randomUUID() }, // a session that does not exist
      // Not a UUID (the session check's statement carries sid and sub as literals: only a UUID gets there)
      { sid: "' or true --" },
      { sid: "-".repeat(36) },
      { sub: `${claims.sub}'` },
      { sub: "00000000-0000-0000-0000-00000000000g" },
      { exp: undefined },
    ];
    for (const extra of cases) {
      const res = await me(await signEd25519(realKey, header(), fresh(extra)));
      expect(res.status, JSON.stringify(extra)).toBe(401);
      expect(res.body.code).toBe("invalid_token");
    }
    // an aud array that includes ours is fine (RFC 7519)
    expect((await me(await signEd25519(realKey, header(), fresh({ aud: ["another-service", claims.aud] })))).status).toBe(200);
  });

  it("an expired token: 401 with code token_expired (after the clock-skew allowance)", async () => {
    const iat = claims.iat as number;
    const exp = claims.exp as number;
    const within = fakeClock((exp + 20) * 1000); // within JWT_CLOCK_SKEW (30s)
    expect((await me(token, within.now)).status).toBe(200);
    const late = fakeClock((exp + 31) * 1000);
    const res = await me(token, late.now);
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ status: "error", code: "token_expired", message: expect.stringMatching(/expired/) });
    expect(exp - iat).toBe(900);
    // and a token signed with an exp in the past
    const past = await me(await signEd25519(realKey, header(), fresh({ exp: Math.floor(Date.now() / 1000) - 120 })));
    expect(past.body.code).toBe("token_expired");
  });

  it("a refresh token used as an access token", async () => {
    const res = await me(refreshToken);
    expect(res.status).toBe(401);
    expect(res.body.code).toBe("invalid_token");
  });

  it("jku / x5u / jwk headers pointing to an attacker key are ignored", async () => {
    const attacker = (await crypto.subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"])) as CryptoKeyPair;
    const attackerJwk = { ...(await crypto.subtle.exportKey("jwk", attacker.publicKey)), kid: "attacker", alg: "EdDSA", use: "sig" };
    const headers = [
      { alg: "EdDSA", typ: "JWT", kid: "attacker", jwk: attackerJwk },
      { alg: "EdDSA", typ: "JWT", kid: "attacker", jku: "https://attacker.example/jwks.json" },
      { alg: "EdDSA", typ: "JWT", kid: "attacker", x5u: "https://attacker.example/cert.pem" },
      { alg: "EdDSA", typ: "JWT", jwk: attackerJwk },
      { alg: "EdDSA", typ: "JWT", kid, jwk: attackerJwk }, // our kid, the attacker's key
      { alg: "EdDSA", typ: "JWT", kid, jku: "https://attacker.example/jwks.json" },
    ];
    for (const h of headers) {
      const res = await me(await signEd25519(attacker.privateKey, h, fresh()));
      expect(res.status, JSON.stringify(Object.keys(h))).toBe(401);
    }
  });

  it("the header never picks the key type: a kid with another alg, an unknown kid, crit, garbage", async () => {
    const forgedEs = `${part({ alg: "ES256", typ: "JWT", kid })}.${part(fresh())}.${token.split(".")[2]}`;
    const cases = [
      forgedEs,
      await signEd25519(realKey, { alg: "EdDSA", typ: "JWT", kid: "no-such-kid" }, fresh()),
      await signEd25519(realKey, { alg: "EdDSA", typ: "JWT" }, fresh()),
      await signEd25519(realKey, { ...header(), kid: "__proto__" }, fresh()),
      await signEd25519(realKey, { ...header(), crit: ["exp"] }, fresh()),
      await signEd25519(realKey, { ...header(), alg: "Ed25519" }, fresh()),
      `${token.split(".")[0]}.${part(fresh({ role: "admin" }))}.${token.split(".")[2]}`, // claims changed after signing
      token.split(".").slice(0, 2).join("."),
      `${token}.extra`,
      "not-a-jwt",
    ];
    for (const t of cases) expect((await me(t)).status).toBe(401);
  });
});
