import { afterEach, describe, expect, inject, it, vi } from "vitest";
import { generateKeySet } from "../src/auth/sessions/keys";
import { b64url, utf8 } from "../src/lib/encoding";
import { loginAs, PASSWORD, registerUser, uniqueEmail } from "./support/accounts";
import { fakeClock } from "./support/clock";
import { inOneWindow } from "./support/limits";
import { call, freshIp, json, testEnv } from "./support/worker";

/**
 * Issue 6: abuse resistance. Per-client rate limits (Workers Rate Limiting binding, simulated by
 * the test runtime with the numbers in wrangler.toml), per-account throttling in Postgres,
 * breached and common passwords, REGISTER_ENUMERATION_SAFE, the audit log, hardened responses.
 */

const limits = inject("rateLimits");
const [_BREACHED, _BREACHED_ACCENTED] = inject("breachedPasswords");
const [_PADDING_ONLY] = inject("paddedPasswords");

const WRONG = "Wrong-Password-42x";

afterEach(() => {
  vi.restoreAllMocks();
});

const isErrorShape = (body: any, code: string) => {
  expect(body.status).toBe("error");
  expect(body.code).toBe(code);
  expect(typeof body.message).toBe("string");
  expect(body.message.length).toBeGreaterThan(5);
};

describe("error statuses and their JSON shape", () => {
  it("400 for malformed JSON", async () => {
    const res = await call("/auth/login", { body: '{"email": "a@b.c", "password": ', headers: { "content-type": "application/json" } });
    expect(res.status).toBe(400);
    isErrorShape(await json(res), "malformed_json");
  });

  it("400 with issues for failed validation", async () => {
    const res = await call("/auth/register", { body: { full_name: "", email: "not-an-email", password: "Sup3r-secret-pass" } });
    expect(res.status).toBe(400);
    const body = await json(res);
    isErrorShape(body, "validation_failed");
    expect(body.issues).toEqual(
      expect.arrayContaining([
        { path: "full_name", message: "Full name is required." },
        { path: "email", message: "Enter a valid email address." },
      ]),
    );
  });

  it("415 for a wrong content type, and for a body without one", async () => {
    const text = await call("/auth/login", {
      body: "email=a@b.c&password=x",
      headers: { "content-type": "application/x-www-form-urlencoded" },
    });
    expect(text.status).toBe(415);
    isErrorShape(await json(text), "unsupported_media_type");
    const none = await call("/auth/login", { body: new TextEncoder().encode('{"email":"a@b.c","password":"x"}') });
    expect(none.status).toBe(415);
    isErrorShape(await json(none), "unsupported_media_type");
  });

  it("413 for a JSON body over the limit, with or without Content-Length", async () => {
    const big = JSON.stringify({ email: "a@b.c", password: "x".repeat(20_000) });
    const res = await call("/auth/login", { body: big, headers: { "content-type": "application/json" } });
    expect(res.status).toBe(413);
    isErrorShape(await json(res), "payload_too_large");
    const stream = new ReadableStream({
      start(c) {
        c.enqueue(utf8(big));
        c.close();
      },
    });
    const streamed = await call("/auth/login", { body: stream, headers: { "content-type": "application/json" } });
    expect(streamed.status).toBe(413);
  });

  it("404 for an unknown route", async () => {
    const res = await call("/auth/nope");
    expect(res.status).toBe(404);
    isErrorShape(await json(res), "not_found");
  });

  it("405 with Allow for a wrong method on a known route", async () => {
    const res = await call("/auth/login", { method: "GET" });
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toContain("POST");
    isErrorShape(await json(res), "method_not_allowed");
  });

  it("401 without a token, and with a malformed Authorization header", async () => {
    const none = await call("/auth/me");
    expect(none.status).toBe(401);
    isErrorShape(await json(none), "unauthorized");
    const basic = await call("/auth/me", { headers: { authorization: "Basic Zm9vOmJhcg==" } });
    expect(basic.status).toBe(401);
  });
});

describe("access tokens on /auth/me", () => {
  const parts = (t: string) => t.split(".");
  const decode = (s: string) =>
    JSON.parse(new TextDecoder().decode(Uint8Array.from(atob(s.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0))));

  it("rejects an expired token and says so", async () => {
    const clock = fakeClock(Date.now() - 3600_000);
    const u = await call("/auth/register", {
      now: clock.now,
      body: { full_name: "Old", email: `old-${crypto.randomUUID()}@example.com`, password: "Sup3r-secret-pass", role: "student" },
    });
    const { access_token } = await json(u);
    const res = await call("/auth/me", { token: access_token });
    expect(res.status).toBe(401);
    const body = await json(res);
    isErrorShape(body, "token_expired");
    expect(body.message).toMatch(/expired/i);
  });

  it("rejects a tampered token", async () => {
    const { access_token } = await registerUser();
    const [h, p, s] = parts(access_token);
    const claims = decode(p);
    const forged = `${h}.${b64url(utf8(JSON.stringify({ ...claims, role: "admin" })))}.${s}`;
    const res = await call("/auth/me", { token: forged });
    expect(res.status).toBe(401);
    isErrorShape(await json(res), "invalid_token");
    // and a flipped signature byte
    const flipped = `${h}.${p}.${s.startsWith("A") ? "B" : "A"}${s.slice(1)}`;
    expect((await call("/auth/me", { token: flipped })).status).toBe(401);
  });

  it("rejects a token signed with another key (same kid) or another HS256 secret", async () => {
    const { access_token } = await registerUser();
    const [h, p] = parts(access_token);
    const header = decode(h);
    const other = await generateKeySet("EdDSA");
    const key = await crypto.subtle.importKey("jwk", { ...other.keys[0], alg: undefined } as JsonWebKey, { name: "Ed25519" }, false, [
      "sign",
    ]);
    const input = `${h}.${p}`;
    const sig = await crypto.subtle.sign({ name: "Ed25519" }, key, utf8(input));
    expect(header.kid).toBeTruthy();
    expect((await call("/auth/me", { token: `${input}.${b64url(sig)}` })).status).toBe(401);

    const hsHeader = b64url(utf8(JSON.stringify({ alg: "HS256", typ: "JWT" })));
    const hmac = await crypto.subtle.importKey(
      "raw",
      utf8("wrong-secret-wrong-secret-wrong-secret"),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign"],
    );
    const hsSig = await crypto.subtle.sign("HMAC", hmac, utf8(`${hsHeader}.${p}`));
    expect((await call("/auth/me", { token: `${hsHeader}.${p}.${b64url(hsSig)}` })).status).toBe(401);
  });

  it("rejects alg: none", async () => {
    const { access_token } = await registerUser();
    const p = parts(access_token)[1];
    const none = b64url(utf8(JSON.stringify({ alg: "none", typ: "JWT" })));
    for (const token of [`${none}.${p}.`, `${none}.${p}`, `${none}.${p}.AAAA`]) {
      const res = await call("/auth/me", { token });
      expect(res.status).toBe(401);
    }
  });
});

describe("health", () => {
  it("answers 200 when the database answers", async () => {
    const res = await call("/health");
    expect(res.status).toBe(200);
    expect(await json(res)).toEqual({ status: "ok", database: "up" });
  });

  it("answers 503 when the database is unreachable, and API routes answer a 503 JSON", async () => {
    const down = { HYPERDRIVE: { ...(testEnv.HYPERDRIVE as object), connectionString: "postgres://postgres:postgres@127.0.0.1:1/nope" } };
    const res = await call("/health", { env: down });
    expect(res.status).toBe(503);
    expect(await json(res)).toEqual({ status: "error", database: "down" });
    const login = await call("/auth/login", { env: down, body: { email: "a@example.com", password: "whatever-password" } });
    expect(login.status).toBe(503);
    isErrorShape(await json(login), "service_unavailable");
  });

  it("answers /health/live without the database", async () => {
    const down = { HYPERDRIVE: { connectionString: "postgres://postgres:postgres@127.0.0.1:1/nope" } };
    const res = await call("/health/live", { env: down });
    expect(res.status).toBe(200);
  });
});

describe("hardened responses", () => {
  const origins = { CORS_ORIGINS: "https://app.example.com, https://admin.example.com" };

  it("CORS allows a listed origin and refuses another", async () => {
    const preflight = (origin: string) =>
      call("/auth/login", {
        method: "OPTIONS",
        env: origins,
        headers: { origin, "access-control-request-method": "POST", "access-control-request-headers": "content-type" },
      });
    const ok = await preflight("https://app.example.com");
    expect(ok.status).toBe(204);
    expect(ok.headers.get("Access-Control-Allow-Origin")).toBe("https://app.example.com");
    expect(ok.headers.get("Access-Control-Allow-Methods")).toContain("POST");
    expect(ok.headers.get("Vary")).toMatch(/Origin/i);
    const bad = await preflight("https://evil.example.net");
    expect(bad.headers.get("Access-Control-Allow-Origin")).toBeNull();

    const simple = await call("/auth/login", {
      body: { email: uniqueEmail(), password: WRONG },
      env: origins,
      headers: { origin: "https://admin.example.com" },
    });
    expect(simple.headers.get("Access-Control-Allow-Origin")).toBe("https://admin.example.com");
    expect(simple.headers.get("Access-Control-Expose-Headers")).toMatch(/Retry-After/);
    const other = await call("/auth/login", {
      body: { email: uniqueEmail(), password: WRONG },
      env: origins,
      headers: { origin: "https://evil.example.net" },
    });
    expect(other.headers.get("Access-Control-Allow-Origin")).toBeNull();
    // A request without Origin (not a browser's cross-origin request) gets no CORS headers, only Vary.
    const plain = await call("/health/live", { env: origins });
    expect([...plain.headers.keys()].filter((k) => k.startsWith("access-control-"))).toEqual([]);
    expect(plain.headers.get("Vary")).toMatch(/Origin/i);
    // With no CORS_ORIGINS, no origin is allowed.
    const none = await call("/auth/login", { body: {}, headers: { origin: "https://app.example.com" } });
    expect(none.headers.get("Access-Control-Allow-Origin")).toBeNull();
  });

  it("security headers, no-store and X-Request-Id on every response, including errors", async () => {
    const u = await registerUser();
    const rl = limits.RL_REGISTER;
    const cases: [string, Promise<Response>][] = [
      ["200 login", loginAs(u.email, u.password)],
      ["201 register", call("/auth/register", { body: { full_name: "H", email: uniqueEmail(), password: PASSWORD, role: "student" } })],
      ["200 health", call("/health")],
      ["400 validation", call("/auth/login", { body: {} })],
      ["400 malformed json", call("/auth/login", { body: "{not json", headers: { "content-type": "application/json" } })],
      ["401 credentials", loginAs(u.email, WRONG)],
      ["401 no token", call("/auth/me")],
      ["404 route", call("/auth/nope")],
      ["405 method", call("/auth/login", { method: "GET" })],
      ["415 content type", call("/auth/login", { body: "x", headers: { "content-type": "text/plain" } })],
      [
        "503 breach check",
        call("/auth/register", {
          body: { full_name: "H", email: uniqueEmail(), password: "Unlisted-Long-Passphrase-9", role: "student" },
          env: { PWNED_PASSWORDS_URL: "http://127.0.0.1:1", BREACHED_PASSWORD_CHECK: "fail-closed" },
        }),
      ],
      ["500 misconfigured", call("/auth/login", { body: {}, env: { ENVIRONMENT: "production", AUTH_SECRET: "" } })],
    ];
    const tooMany = await inOneWindow(rl.period, async () => {
      const ip = freshIp();
      let last: Response | undefined;
      for (let i = 0; i <= rl.limit; i++) last = await call("/auth/register", { body: {}, ip });
      return last!;
    });
    const all: [string, Response][] = [
      ...(await Promise.all(cases.map(async ([n, p]) => [n, await p] as [string, Response]))),
      ["429 rate limit", tooMany],
    ];
    for (const [name, res] of all) {
      expect(String(res.status), name).toBe(name.slice(0, 3));
      expect(res.headers.get("X-Content-Type-Options"), name).toBe("nosniff");
      expect(res.headers.get("Referrer-Policy"), name).toBe("no-referrer");
      expect(res.headers.get("X-Frame-Options"), name).toBe("DENY");
      expect(res.headers.get("Strict-Transport-Security"), name).toMatch(/max-age=\d+/);
      expect(res.headers.get("Cache-Control"), name).toBe("no-store");
      expect(res.headers.get("X-Request-Id"), name).toMatch(/^[0-9a-f-]{36}$/);
      expect(res.headers.get("Content-Type"), name).toMatch(/^application\/json/);
      const body = await json(res);
      if (res.status >= 400) expect(body, name).toMatchObject({ status: "error", code: expect.any(String), message: expect.any(String) });
    }
  });
});
