import { SignJWT } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { PASSWORD, type Registered, registerUser } from "../../support/accounts";
import { type AdminAccount, adminAccount, adminCall } from "../../support/admin";
import { fakeClock, MIN } from "../../support/clock";
import { eventsOf } from "../../support/events";
import { latestCode } from "../../support/mail";
import { claimsOf } from "../../support/mfa";
import { introspect, serviceCall, serviceClient, type TestServiceClient } from "../../support/services";
import { type CallOptions, call, json } from "../../support/worker";

const clock = fakeClock();
let admin: AdminAccount;
let service: TestServiceClient;
beforeAll(async () => {
  admin = await adminAccount(clock);
  service = await serviceClient(admin, clock, ["tokens:introspect"]);
});

const LEGACY = { LEGACY_HS256: "true", JWT_SECRET: "legacy-shared-secret-0123456789abcdef0123" };

/**
 * Each way an account or a session ends, as another service sees it through introspection: the
 * access token and the refresh token are active before, and `active: false` on the very next request.
 */
const ENDINGS: Record<string, (u: Registered, env?: Record<string, unknown>) => Promise<void>> = {
  logout: async (u, env) => {
    expect((await call("/auth/logout", { method: "POST", token: u.access_token, env })).status).toBe(200);
  },
  "logout-all": async (u, env) => {
    expect((await call("/auth/logout-all", { method: "POST", token: u.access_token, env })).status).toBe(200);
  },
  suspension: async (u) => {
    const res = await adminCall(`/users/${u.user.id}`, admin.token, clock, { method: "PATCH", body: { status: "suspended" } });
    expect(res.status).toBe(200);
  },
  "password reset": async (u, env) => {
    expect((await call("/auth/forgot-password", { body: { email: u.email }, env })).status).toBe(200);
    const otp = await latestCode(u.email, /reset/i);
    const res = await call("/auth/reset-password", { body: { email: u.email, otp, new_password: "Brand-New-Passphrase-77" }, env });
    expect(res.status).toBe(200);
  },
  deletion: async (u, env) => {
    const res = await call("/auth/account", { method: "DELETE", body: { current_password: PASSWORD }, token: u.access_token, env });
    expect(res.status).toBe(202);
  },
};

describe("POST /auth/introspect (RFC 7662)", () => {
  for (const [mode, env] of [
    ["asymmetric", undefined],
    ["legacy HS256", LEGACY],
  ] as const) {
    for (const [ending, end] of Object.entries(ENDINGS)) {
      it(`${mode} access and refresh tokens: active, then inactive on the next request after ${ending}`, async () => {
        const opts: CallOptions = env ? { env } : {};
        const u = await registerUser({}, opts);
        if (env) expect(JSON.parse(atob(u.access_token.split(".")[0])).alg).toBe("HS256");
        const access = await introspect(service, u.access_token, opts);
        expect(access).toEqual({
          active: true,
          sub: u.user.id,
          sid: claimsOf(u.access_token).sid,
          exp: claimsOf(u.access_token).exp,
          iat: claimsOf(u.access_token).iat,
          role: "student",
          amr: ["pwd"],
          acr: "single-factor",
          auth_time: claimsOf(u.access_token).auth_time,
          token_type: "access_token",
          iss: "edge-auth-api",
          aud: "platform",
        });
        const refresh = await introspect(service, u.refresh_token, opts);
        expect(refresh).toMatchObject({ active: true, sub: u.user.id, sid: access.sid, role: "student", token_type: "refresh_token" });
        expect(refresh.exp).toBeGreaterThan(access.exp);

        await end(u, env);
        expect(await introspect(service, u.access_token, opts)).toEqual({ active: false });
        expect(await introspect(service, u.refresh_token, opts)).toEqual({ active: false });
      });
    }
  }

  it("inactive: an expired access token, a used refresh token, a token of another issuer or secret, garbage", async () => {
    const c = fakeClock();
    const u = await registerUser({}, { now: c.now });
    const rotated = await json(await call("/auth/refresh", { body: { refresh_token: u.refresh_token }, now: c.now }));
    expect(await introspect(service, u.refresh_token, { now: c.now })).toEqual({ active: false }); // consumed
    expect(await introspect(service, rotated.refresh_token, { now: c.now })).toMatchObject({ active: true });
    c.advance(16 * MIN);
    expect(await introspect(service, rotated.access_token, { now: c.now })).toEqual({ active: false }); // expired
    // A token the course service mints with the shared secret (its own /api/login), and one with another secret.
    const forged = await new SignJWT({ id: u.user.id, role: "student" })
      .setProtectedHeader({ alg: "HS256", typ: "JWT" })
      .setIssuedAt()
      .setExpirationTime("30d")
      .sign(new TextEncoder().encode(LEGACY.JWT_SECRET));
    expect(await introspect(service, forged, { env: LEGACY })).toEqual({ active: false });
    expect(await introspect(service, forged)).toEqual({ active: false });
    for (const garbage of ["x", "a.b.c", "e30.e30.e30", "Zk9xY2ZQbGZ0c2V4YW1wbGVyZWZyZXNodG9rZW4xMjM0"])
      expect(await introspect(service, garbage)).toEqual({ active: false });
  });

  it("takes a form body (as RFC 7662 clients send it); no token is 400 on `token`", async () => {
    const u = await registerUser();
    const form = await serviceCall(service, "/auth/introspect", {
      body: `token=${encodeURIComponent(u.access_token)}&token_type_hint=access_token`,
      headers: { "content-type": "application/x-www-form-urlencoded" },
    });
    expect(form.status).toBe(200);
    expect(await json(form)).toMatchObject({ active: true, sub: u.user.id });
    for (const [body, type] of [
      ["", "application/x-www-form-urlencoded"],
      ["{}", "application/json"],
      ["token=", "application/x-www-form-urlencoded"],
    ]) {
      const res = await serviceCall(service, "/auth/introspect", { body, headers: { "content-type": type } });
      expect(res.status, `${type} ${body}`).toBe(400);
      expect((await json(res)).issues.map((i: { path: string }) => i.path)).toContain("token");
    }
  });
});

describe("POST /auth/revoke (RFC 7009)", () => {
  it("a refresh token ends its session (with its event); an access token too; anything else: 200 and nothing", async () => {
    const u = await registerUser();
    const res = await call("/auth/revoke", {
      body: `token=${encodeURIComponent(u.refresh_token)}`,
      headers: { "content-type": "application/x-www-form-urlencoded" },
    });
    expect(res.status).toBe(200);
    expect(await introspect(service, u.access_token)).toEqual({ active: false });
    expect((await call("/auth/refresh", { body: { refresh_token: u.refresh_token } })).status).toBe(401);
    expect((await eventsOf(u.user.id)).filter((e) => e.type === "session.revoked").map((e) => e.data)).toEqual([
      { sid: claimsOf(u.access_token).sid, reason: "token_revoked" },
    ]);
    // Again, and with tokens that are nobody's: 200, nothing more.
    for (const token of [u.refresh_token, u.access_token, "not-a-token", "a.b.c"])
      expect((await call("/auth/revoke", { body: { token } })).status).toBe(200);
    expect((await eventsOf(u.user.id)).filter((e) => e.type === "session.revoked")).toHaveLength(1);

    const v = await registerUser();
    expect((await call("/auth/revoke", { body: { token: v.access_token } })).status).toBe(200);
    expect((await call("/auth/me", { token: v.access_token })).status).toBe(401);
    const missing = await call("/auth/revoke", { body: {} });
    expect([missing.status, (await json(missing)).issues[0].path]).toEqual([400, "token"]);
  });
});
