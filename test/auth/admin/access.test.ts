import { describe, expect, it } from "vitest";
import { PASSWORD, registerUser } from "../../support/accounts";
import { adminAccount, adminCall, adminWithoutOtpSession, setRole } from "../../support/admin";
import { fakeClock, MIN } from "../../support/clock";
import { auditRows, userRow, withDb } from "../../support/db";
import { loginWithMfa } from "../../support/mfa";
import { call, json } from "../../support/worker";

/**
 * Who may call the admin API: role admin, a session signed in with a second factor, and for
 * changes a recent login; each refusal has its own code and is on record. And no HTTP route makes
 * anyone admin.
 */

type Route = { method: string; path: (id: string) => string; body?: unknown; change: boolean };
const ROUTES: Route[] = [
  { method: "GET", path: () => "/users", change: false },
  { method: "GET", path: (id) => `/users/${id}`, change: false },
  { method: "GET", path: () => "/audit", change: false },
  { method: "PATCH", path: (id) => `/users/${id}`, body: { status: "suspended" }, change: true },
  { method: "POST", path: (id) => `/users/${id}/revoke-sessions`, change: true },
  { method: "POST", path: (id) => `/users/${id}/send-password-reset`, change: true },
  { method: "POST", path: (id) => `/users/${id}/deletion`, change: true },
  { method: "DELETE", path: (id) => `/users/${id}/deletion`, change: true },
];

async function codesFor(token: string, target: string, clock: ReturnType<typeof fakeClock>) {
  const codes: Record<string, { status: number; code: string }> = {};
  for (const r of ROUTES) {
    const res = await adminCall(r.path(target), token, clock, { method: r.method, body: r.body });
    const body = await json(res);
    codes[`${r.method} ${r.path(":id")}`] = { status: res.status, code: body.code ?? "ok" };
  }
  return codes;
}

const all = (status: number, code: string) => Object.fromEntries(ROUTES.map((r) => [`${r.method} ${r.path(":id")}`, { status, code }]));

describe("admin API access", () => {
  it("refuses a non-admin every route with admin_required, and records each attempt", async () => {
    const clock = fakeClock();
    const student = await registerUser({}, { now: clock.now });
    const target = await registerUser({}, { now: clock.now });
    expect(await codesFor(student.access_token, target.user.id, clock)).toEqual(all(403, "admin_required"));
    const refused = (await auditRows(student.user.id)).filter((r) => r.event === "admin_access_refused");
    expect(refused).toHaveLength(ROUTES.length);
    expect(refused.map((r) => r.detail.reason)).toEqual(ROUTES.map(() => "admin_required"));
    expect(refused.map((r) => r.detail.route)).toContain("PATCH /auth/admin/users/:id");
    // Nothing happened to the target.
    expect((await userRow(target.user.id)).status).toBe("active");
  });

  it("refuses an admin without a factor (must enroll) and an admin whose session has no otp, with their own codes", async () => {
    const clock = fakeClock();
    const target = await registerUser({}, { now: clock.now });
    const noFactor = await registerUser({}, { now: clock.now });
    await setRole(noFactor.user.id, "admin");
    expect(await codesFor(noFactor.access_token, target.user.id, clock)).toEqual(all(403, "mfa_enrollment_required"));

    const pwdOnly = await registerUser({}, { now: clock.now });
    const pwdSession = await adminWithoutOtpSession(clock, pwdOnly);
    expect(await codesFor(pwdSession.token, target.user.id, clock)).toEqual(all(403, "admin_mfa_required"));
    // The same account, logged in with its second factor, gets in.
    const withOtp = await loginWithMfa(pwdSession, clock);
    expect((await adminCall("/users?limit=1", withOtp.access_token, clock)).status).toBe(200);
    expect((await userRow(target.user.id)).status).toBe("active");
  });

  it("lets an admin with MFA read after RECENT_AUTH_MAX_AGE but refuses every change with recent_login_required", async () => {
    const clock = fakeClock();
    const admin = await adminAccount(clock);
    const target = await registerUser({}, { now: clock.now });
    clock.advance(11 * MIN); // RECENT_AUTH_MAX_AGE is 10 minutes
    const codes = await codesFor(admin.token, target.user.id, clock);
    for (const r of ROUTES)
      expect(codes[`${r.method} ${r.path(":id")}`], `${r.method} ${r.path(":id")}`).toEqual(
        r.change ? { status: 403, code: "recent_login_required" } : { status: 200, code: "ok" },
      );
    expect((await userRow(target.user.id)).status).toBe("active");
    // The session is still live; only changes need the fresh sign-in.
    expect((await adminCall("/users?limit=1", admin.token, clock)).status).toBe(200);
  });

  it("a demoted admin loses the API on the next request, with the token it already holds", async () => {
    const clock = fakeClock();
    const admin = await adminAccount(clock);
    expect((await adminCall("/users?limit=1", admin.token, clock)).status).toBe(200);
    await setRole(admin.user.user.id, "instructor");
    const res = await adminCall("/users?limit=1", admin.token, clock);
    expect(res.status).toBe(403);
    expect((await json(res)).code).toBe("admin_required");
  });
});

describe("no HTTP route makes anyone admin", () => {
  it("register with role admin is refused", async () => {
    const res = await call("/auth/register", {
      body: { full_name: "Eve", email: `eve-${crypto.randomUUID()}@example.com`, password: PASSWORD, role: "admin" },
    });
    expect(res.status).toBe(400);
    expect((await json(res)).code).toBe("validation_failed");
  });

  it("an admin cannot give the admin role, nor change their own role or status", async () => {
    const clock = fakeClock();
    const admin = await adminAccount(clock);
    const other = await registerUser({}, { now: clock.now });
    const grant = await adminCall(`/users/${other.user.id}`, admin.token, clock, { method: "PATCH", body: { role: "admin" } });
    expect(grant.status).toBe(400);
    expect((await json(grant)).message).toMatch(/create-admin/);
    for (const body of [{ role: "student" }, { status: "suspended" }, { role: "instructor", status: "active" }]) {
      const self = await adminCall(`/users/${admin.user.user.id}`, admin.token, clock, { method: "PATCH", body });
      expect(self.status, JSON.stringify(body)).toBe(403);
      expect((await json(self)).code).toBe("admin_self_change");
    }
    expect((await userRow(other.user.id)).role).toBe("student");
    expect(await userRow(admin.user.user.id)).toMatchObject({ role: "admin", status: "active" });
    const blocked = (await auditRows(admin.user.user.id)).filter((r) => r.event === "admin_user_updated");
    expect(blocked.map((r) => [r.outcome, r.detail.reason])).toEqual([
      ["blocked", "self_change"],
      ["blocked", "self_change"],
      ["blocked", "self_change"],
    ]);
  });

  it("every documented operation, called by a student with role admin in its body and query, leaves the role alone", async () => {
    const clock = fakeClock();
    const student = await registerUser({}, { now: clock.now });
    let token = student.access_token;
    const doc = await json(await call("/openapi.json"));
    let calls = 0;
    for (const [path, item] of Object.entries(doc.paths as Record<string, Record<string, unknown>>)) {
      for (const method of Object.keys(item)) {
        if (!["get", "post", "patch", "delete", "put"].includes(method)) continue;
        const url = `${path.replace(/\{id\}/g, student.user.id)}?role=admin`;
        const body = method === "get" ? undefined : { role: "admin", status: "active", email: student.email, full_name: "Eve" };
        const res = await call(url, { method: method.toUpperCase(), body, token, now: clock.now });
        expect(res.status, `${method} ${path}`).not.toBe(500);
        calls++;
        // Signed out by the call (logout, logout-all): sign in again for the next one.
        if ((await call("/auth/me", { token, now: clock.now })).status === 401) {
          const again = await call("/auth/login", { body: { email: student.email, password: PASSWORD }, now: clock.now });
          token = (await json(again)).access_token;
        }
      }
    }
    expect(calls).toBeGreaterThan(30);
    const row = await userRow(student.user.id);
    expect(row.role).toBe("student");
    const admins = await withDb((sql) => sql`select count(*)::int as n from users where id = ${student.user.id} and role = 'admin'`);
    expect(admins[0].n).toBe(0);
  });
});
