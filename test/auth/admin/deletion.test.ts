import { describe, expect, it } from "vitest";
import { loginAs, me, PASSWORD, refresh, registerUser } from "../../support/accounts";
import { adminAccount, adminAuditRows, adminCall } from "../../support/admin";
import { DAY, fakeClock } from "../../support/clock";
import { userRow, withDb } from "../../support/db";
import { codeIn, mailsTo } from "../../support/mail";
import { call, json, runScheduled } from "../../support/worker";

/** POST and DELETE /auth/admin/users/{id}/deletion: an administrator starts a deletion on its owner's behalf, or cancels one. */

const start = (id: string, token: string, clock: ReturnType<typeof fakeClock>) =>
  adminCall(`/users/${id}/deletion`, token, clock, { method: "POST" });
const cancel = (id: string, token: string, clock: ReturnType<typeof fakeClock>) =>
  adminCall(`/users/${id}/deletion`, token, clock, { method: "DELETE" });

describe("admin deletion", () => {
  it("schedules an active account's deletion as the owner's request does: sessions end, sign-in refused, the owner mailed a restore code", async () => {
    const clock = fakeClock();
    const admin = await adminAccount(clock);
    const user = await registerUser({}, { now: clock.now });
    const res = await start(user.user.id, admin.token, clock);
    expect(res.status, await res.clone().text()).toBe(200);
    const body = await json(res);
    const due = new Date(clock.now().getTime() + 14 * DAY).toISOString();
    expect(body.user).toMatchObject({ id: user.user.id, status: "deletion_pending", deletion_due_at: due });
    expect(await me(user.access_token, { now: clock.now })).toBe(401);
    expect((await refresh(user.refresh_token, { now: clock.now })).status).toBe(401);
    const refused = await loginAs(user.email, PASSWORD, { now: clock.now });
    expect((await json(refused)).code).toBe("account_deletion_pending");
    // The owner can still keep the account with the mailed code.
    await expect.poll(async () => (await mailsTo(user.email, "account_deletion")).length, { timeout: 15_000 }).toBe(1);
    const [mail] = await mailsTo(user.email, "account_deletion");
    const restored = await call("/auth/account/restore", { body: { email: user.email, code: codeIn(mail) }, now: clock.now });
    expect(restored.status).toBe(200);
    expect((await userRow(user.user.id)).status).toBe("active");

    const rows = (await adminAuditRows(admin.user.user.id)).filter((r) => r.event === "admin_deletion_started");
    expect(rows.map((r) => [r.user_id, r.outcome, r.detail])).toEqual([[user.user.id, "success", { due_at: due, sessions_ended: 1 }]]);
  });

  it("cancels a pending deletion: active again, the restore code dead, the purge leaves it alone", async () => {
    const clock = fakeClock();
    const admin = await adminAccount(clock);
    const user = await registerUser({}, { now: clock.now });
    expect((await start(user.user.id, admin.token, clock)).status).toBe(200);
    await expect.poll(async () => (await mailsTo(user.email, "account_deletion")).length, { timeout: 15_000 }).toBe(1);
    const code = codeIn((await mailsTo(user.email, "account_deletion"))[0]);

    const res = await cancel(user.user.id, admin.token, clock);
    expect(res.status).toBe(200);
    expect((await json(res)).user).toMatchObject({ status: "active", deletion_due_at: null });
    expect((await loginAs(user.email, PASSWORD, { now: clock.now })).status).toBe(200);
    const restore = await call("/auth/account/restore", { body: { email: user.email, code }, now: clock.now });
    expect(restore.status).toBe(400);
    // Nothing to cancel now.
    const again = await cancel(user.user.id, admin.token, clock);
    expect(again.status).toBe(409);
    expect((await json(again)).code).toBe("account_not_being_deleted");
    clock.advance(15 * DAY);
    await runScheduled({ now: clock.now });
    expect(await userRow(user.user.id)).toMatchObject({ status: "active", email: user.email });
    const rows = (await adminAuditRows(admin.user.user.id)).filter((r) => r.event === "admin_deletion_cancelled");
    expect(rows.map((r) => [r.user_id, r.outcome, r.detail?.reason ?? null])).toEqual([
      [user.user.id, "success", null],
      [user.user.id, "blocked", "not_pending"],
    ]);
  });

  it("refuses a suspended account, one already being deleted, the admin's own and an unknown id, changing nothing", async () => {
    const clock = fakeClock();
    const admin = await adminAccount(clock);
    const suspended = await registerUser({}, { now: clock.now });
    await withDb((sql) => sql`update users set status = 'suspended' where id = ${suspended.user.id}`);
    const notActive = await start(suspended.user.id, admin.token, clock);
    expect([notActive.status, (await json(notActive)).code]).toEqual([409, "account_not_active"]);
    expect((await userRow(suspended.user.id)).status).toBe("suspended");

    const pending = await registerUser({}, { now: clock.now });
    expect((await start(pending.user.id, admin.token, clock)).status).toBe(200);
    const twice = await start(pending.user.id, admin.token, clock);
    expect([twice.status, (await json(twice)).code]).toEqual([409, "account_being_deleted"]);

    const self = await start(admin.user.user.id, admin.token, clock);
    expect([self.status, (await json(self)).code]).toEqual([403, "admin_self_change"]);
    expect((await userRow(admin.user.user.id)).status).toBe("active");
    const unknown = await start(crypto.randomUUID(), admin.token, clock);
    expect([unknown.status, (await json(unknown)).code]).toEqual([404, "user_not_found"]);
    const blocked = (await adminAuditRows(admin.user.user.id)).filter(
      (r) => r.event === "admin_deletion_started" && r.outcome === "blocked",
    );
    expect(blocked.map((r) => r.detail.reason)).toEqual(["not_active", "being_deleted", "self_change"]);
  });

  it("50 cancellations at once cancel once; the others are refused", async () => {
    const clock = fakeClock();
    const admin = await adminAccount(clock);
    const user = await registerUser({}, { now: clock.now });
    expect((await start(user.user.id, admin.token, clock)).status).toBe(200);
    const results = await Promise.all(Array.from({ length: 50 }, () => cancel(user.user.id, admin.token, clock)));
    const statuses = results.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(statuses.filter((s) => s === 409)).toHaveLength(49);
    const rows = (await adminAuditRows(admin.user.user.id)).filter(
      (r) => r.event === "admin_deletion_cancelled" && r.outcome === "success",
    );
    expect(rows).toHaveLength(1);
  });
});
