import { base64url } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { generateKeySet } from "../../../src/auth/sessions/keys";
import { PASSWORD, uniqueEmail } from "../../support/accounts";
import { call, json } from "../../support/worker";

/**
 * Access-token verification beyond test/token-attacks.test.ts: the `typ` header, critical
 * extensions jose itself would understand, and malformed parts that must answer 401, never 500.
 * Each token is signed with the Worker's real key and changes one thing.
 */
const enc = new TextEncoder();
const b64url = (bytes: Uint8Array | ArrayBuffer) => base64url.encode(new Uint8Array(bytes));
const part = (v: unknown) => b64url(enc.encode(JSON.stringify(v)));

let env: Record<string, unknown>;
let kid: string;
let key: CryptoKey;
let claims: Record<string, unknown>;

const sign = async (header: string, payload: string) =>
  `${header}.${payload}.${b64url(await crypto.subtle.sign("Ed25519", key, enc.encode(`${header}.${payload}`)))}`;
const me = async (token: string) => {
  const res = await call("/auth/me", { token, env });
  return { status: res.status, body: await json(res) };
};
const fresh = (extra: Record<string, unknown> = {}) => {
  const now = Math.floor(Date.now() / 1000);
  return { ...claims, iat: now, nbf: now, exp: now + 600, ...extra };
};

beforeAll(async () => {
  const set = await generateKeySet("EdDSA");
  kid = set.keys[0].kid;
  env = { JWT_PRIVATE_KEYS: JSON.stringify(set) };
  const { kty, crv, x, d } = set.keys[0];
  key = await crypto.subtle.importKey("jwk", { kty, crv, x, d }, { name: "Ed25519" }, false, ["sign"]);
  const res = await call("/auth/register", {
    body: { full_name: "Typ", email: uniqueEmail("typ"), password: PASSWORD, role: "student" },
    env,
  });
  expect(res.status).toBe(201);
  claims = JSON.parse(new TextDecoder().decode(base64url.decode((await json(res)).access_token.split(".")[1])));
});

describe("access token headers and malformed parts", () => {
  it("typ must be JWT (case-insensitive, as RFC 7515 says); missing or another type -> 401", async () => {
    expect((await me(await sign(part({ alg: "EdDSA", typ: "JWT", kid }), part(fresh())))).status).toBe(200);
    expect((await me(await sign(part({ alg: "EdDSA", typ: "jwt", kid }), part(fresh())))).status).toBe(200);
    for (const typ of [undefined, "at+jwt", "JWS", 1]) {
      const res = await me(await sign(part({ alg: "EdDSA", typ, kid }), part(fresh())));
      expect(res.status, String(typ)).toBe(401);
      expect(res.body.code).toBe("invalid_token");
    }
  });

  it("no critical extension is accepted, not even b64 (which jose understands)", async () => {
    for (const h of [
      { alg: "EdDSA", typ: "JWT", kid, crit: ["b64"], b64: true },
      { alg: "EdDSA", typ: "JWT", kid, crit: ["b64"], b64: false },
      { alg: "EdDSA", typ: "JWT", kid, crit: [] },
    ]) {
      expect((await me(await sign(part(h), part(fresh())))).status, JSON.stringify(h)).toBe(401);
    }
  });

  it("malformed headers, claims and signatures answer 401 invalid_token, never 500", async () => {
    const h = part({ alg: "EdDSA", typ: "JWT", kid });
    const tokens = [
      await sign(part([{ alg: "EdDSA" }]), part(fresh())),
      await sign(part(null), part(fresh())),
      await sign(b64url(enc.encode("{not json")), part(fresh())),
      await sign(part({ alg: "EdDSA", typ: "JWT", kid: 7 }), part(fresh())),
      await sign(part({ alg: ["EdDSA"], typ: "JWT", kid }), part(fresh())),
      await sign(h, b64url(enc.encode("{not json"))),
      await sign(h, part([fresh()])),
      await sign(h, part("a string")),
      await sign(h, part(fresh({ exp: String(fresh().exp) }))),
      await sign(h, part(fresh({ nbf: "0" }))),
      await sign(h, part(fresh({ iat: "now" }))),
      await sign(h, part(fresh({ aud: { platform: true } }))),
      await sign(h, part(fresh({ sub: 42 }))),
      `${h}.${part(fresh())}.not*base64`,
      `${h}.$${part(fresh())}.AAAA`,
      `${h}..AAAA`,
      "..",
    ];
    for (const t of tokens) {
      const res = await me(t);
      expect(res.status, t).toBe(401);
      expect(res.body.code).toBe("invalid_token");
    }
  });
});
