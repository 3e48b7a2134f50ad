import { describe, expect, it } from "vitest";
import { me, PASSWORD, refresh, uniqueEmail } from "../../support/accounts";
import { adminAccount, adminCall, adminGet } from "../../support/admin";
import { fakeClock } from "../../support/clock";
import { auditRows, userRow } from "../../support/db";
import { claimsOf } from "../../support/mfa";
import { call, json } from "../../support/worker";

/** INSTRUCTOR_APPROVAL: open (today's behaviour) or required (a student with a pending request until an admin decides). */
const registerAs = (role: string, env: Record<string, string> = {}, now?: () => Date) =>
  call("/auth/register", { body: { full_name: "Tess Teacher", email: uniqueEmail("teach"), password: PASSWORD, role }, env, now });

describe("INSTRUCTOR_APPROVAL", () => {
  it("open (the default): registering as instructor makes an instructor", async () => {
    const res = await registerAs("instructor");
    expect(res.status).toBe(201);
    const body = await json(res);
    expect(body.user).toMatchObject({ role: "instructor", requested_role: null });
    expect(claimsOf(body.access_token).role).toBe("instructor");
  });

  it("required: a student with requested_role until an admin sets the role; the list shows pending requests", async () => {
    const clock = fakeClock();
    const env = { INSTRUCTOR_APPROVAL: "required" };
    const res = await registerAs("instructor", env, clock.now);
    expect(res.status).toBe(201);
    const body = await json(res);
    expect(body.user).toMatchObject({ role: "student", requested_role: "instructor" });
    expect(claimsOf(body.access_token).role).toBe("student");
    expect((await userRow(body.user.id)).role).toBe("student");
    const me1 = await json(await call("/auth/me", { token: body.access_token, env }));
    expect(me1.user).toMatchObject({ role: "student", requested_role: "instructor" });
    const [registered] = (await auditRows(body.user.id)).filter((r) => r.event === "registered");
    expect(registered.detail).toMatchObject({ requested_role: "instructor" });
    // A student registration asks for nothing.
    expect((await json(await registerAs("student", env))).user.requested_role).toBeNull();

    const admin = await adminAccount(clock);
    const pending = await adminGet(`/users?requested_role=instructor&q=${encodeURIComponent(body.user.email)}`, admin.token, clock);
    expect(pending.users.map((u: { id: string }) => u.id)).toEqual([body.user.id]);
    const granted = await adminCall(`/users/${body.user.id}`, admin.token, clock, { method: "PATCH", body: { role: "instructor" }, env });
    expect((await json(granted)).user).toMatchObject({ role: "instructor", requested_role: null });
    const after = await adminGet(`/users?requested_role=instructor&q=${encodeURIComponent(body.user.email)}`, admin.token, clock);
    expect(after.users).toEqual([]);
    // The session goes on; its next token carries the granted role.
    expect(await me(body.access_token, { now: clock.now })).toBe(200);
    const next = await refresh(body.refresh_token, { now: clock.now });
    expect(claimsOf(next.body.access_token).role).toBe("instructor");
  });

  it("required: an admin declines by setting the student role, which settles the request", async () => {
    const clock = fakeClock();
    const body = await json(await registerAs("instructor", { INSTRUCTOR_APPROVAL: "required" }, clock.now));
    const admin = await adminAccount(clock);
    const declined = await adminCall(`/users/${body.user.id}`, admin.token, clock, { method: "PATCH", body: { role: "student" } });
    expect((await json(declined)).user).toMatchObject({ role: "student", requested_role: null });
    const [row] = (await auditRows(body.user.id)).filter((r) => r.event === "admin_user_updated");
    expect(row.detail).toMatchObject({ role_from: "student", role_to: "student", requested_role_cleared: true });
  });
});
