import { describe, expect, it } from "vitest";
import { login, PASSWORD, registerUser, uniqueEmail, wrongCode } from "../../support/accounts";
import { adminAccount, adminCall } from "../../support/admin";
import { fakeClock, MIN, SEC } from "../../support/clock";
import { auditRows } from "../../support/db";
import { latestCode } from "../../support/mail";
import { call, json } from "../../support/worker";

/** GET /auth/account/export: the caller's own data, nobody else's; recent login; a few a day. */
describe("GET /auth/account/export", () => {
  it("returns the profile, sessions and the account's own audit events, and nothing of anyone else", async () => {
    const clock = fakeClock();
    const me = await registerUser({ full_name: "Erin Export" }, { now: clock.now, ip: "198.51.100.21" });
    const other = await registerUser({ full_name: "Otto Other" }, { now: clock.now, ip: "203.0.113.99" });
    await login(other.email, PASSWORD, { now: clock.now, ip: "203.0.113.99", headers: { "user-agent": "Otto's Browser" } });
    // A failed login on my account, and an admin looking at it.
    await call("/auth/login", { body: { email: me.email, password: "Wrong-guess-123" }, now: clock.now, ip: "192.0.2.44" });
    const admin = await adminAccount(clock);
    await adminCall(`/users/${me.user.id}`, admin.token, clock, { ip: "192.0.2.250", headers: { "user-agent": "Admin Console" } });
    // Filtering the audit log on my account and on the admin: the record names both.
    await adminCall(`/audit?user_id=${me.user.id}&actor_id=${admin.user.user.id}`, admin.token, clock);
    const mine = await login(me.email, PASSWORD, { now: clock.now, ip: "198.51.100.21", headers: { "user-agent": "Erin's Laptop" } });

    const res = await call("/auth/account/export", { token: mine.access_token, now: clock.now });
    expect(res.status, await res.clone().text()).toBe(200);
    expect(res.headers.get("content-disposition")).toMatch(/attachment; filename="account-export.json"/);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const data = await json(res);
    expect(data.profile).toMatchObject({ id: me.user.id, email: me.email, full_name: "Erin Export", status: "active", role: "student" });
    expect(data.mfa).toEqual({ totp: "off", enrolled_at: null, confirmed_at: null, recovery_codes_remaining: 0 });
    expect(data.sessions.map((s: { user_agent: string | null }) => s.user_agent)).toEqual(expect.arrayContaining(["Erin's Laptop"]));
    expect(data.sessions).toHaveLength(2);
    const events = data.audit_events.map((e: { event: string }) => e.event);
    expect(events).toEqual(
      expect.arrayContaining(["registered", "login_failed", "login_succeeded", "admin_user_viewed", "admin_audit_viewed"]),
    );
    const viewed = data.audit_events.find((e: { event: string }) => e.event === "admin_user_viewed");
    expect(viewed).toMatchObject({ by_administrator: true, ip: null, user_agent: null });
    expect(data.audit_events_truncated).toBe(false);

    const text = JSON.stringify(data);
    for (const foreign of [
      other.user.id,
      other.email,
      "Otto",
      "203.0.113.99",
      admin.user.user.id,
      admin.user.email,
      "192.0.2.250",
      "Admin Console",
    ])
      expect(text, foreign).not.toContain(foreign);
    // No secret of any kind.
    expect(text).not.toMatch(/\$scrypt\$|refresh_token|token_hash|code_hash/);
  });

  it("needs a recent login, and allows ACCOUNT_EXPORT_DAILY_LIMIT exports in 24 hours even when asked at once", async () => {
    const clock = fakeClock();
    const u = await registerUser({}, { now: clock.now });
    clock.advance(11 * MIN);
    const stale = await call("/auth/account/export", { token: u.access_token, now: clock.now });
    expect((await json(stale)).code).toBe("recent_login_required");
    const fresh = await login(u.email, PASSWORD, { now: clock.now });
    const results = await Promise.all(
      Array.from({ length: 50 }, () => call("/auth/account/export", { token: fresh.access_token, now: clock.now })),
    );
    const statuses = results.map((r) => r.status).sort();
    expect(statuses).toEqual([...Array(3).fill(200), ...Array(47).fill(429)]);
    for (const r of results.filter((r) => r.status === 429)) expect(Number(r.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    // Asked again later, it says when the 24 hours end.
    const later = await call("/auth/account/export", { token: fresh.access_token, now: clock.now });
    expect(later.status).toBe(429);
    expect(Number(later.headers.get("retry-after"))).toBeGreaterThan(23 * 3600);
    clock.advance(24 * 3600_000 + MIN);
    const next = await login(u.email, PASSWORD, { now: clock.now });
    expect((await call("/auth/account/export", { token: next.access_token, now: clock.now })).status).toBe(200);
  });

  it("never tells whether another address has an account: a taken new address looks like a free one, before and at confirm", async () => {
    const clock = fakeClock();
    const opts = { now: clock.now };
    const me = await registerUser({}, opts);
    const other = await registerUser({}, opts);
    const change = (new_email: string) =>
      call("/auth/change-email", { body: { new_email, current_password: PASSWORD }, token: me.access_token, ...opts });
    const confirm = (code: string) => call("/auth/change-email/confirm", { body: { code }, token: me.access_token, ...opts });
    // A free address, then one that belongs to another account: both answered 202.
    expect((await change(uniqueEmail("free"))).status).toBe(202);
    clock.advance(61 * SEC);
    expect((await change(other.email)).status).toBe(202);
    // A code mailed to a free address that someone registers before it is used: invalid_otp, as a wrong code is.
    clock.advance(3 * 60 * SEC);
    const raced = uniqueEmail("raced");
    expect((await change(raced)).status).toBe(202);
    const code = await latestCode(raced, /Confirm your new/);
    expect((await confirm(wrongCode(code))).status).toBe(400);
    await registerUser({ email: raced }, opts);
    expect((await json(await confirm(code))).code).toBe("invalid_otp");
    // The stored rows know which was which (for administrators).
    const stored = JSON.stringify(await auditRows(me.user.id));
    expect(stored).toContain("address_taken");

    const session = await login(me.email, PASSWORD, opts);
    const data = await json(await call("/auth/account/export", { token: session.access_token, ...opts }));
    const text = JSON.stringify(data);
    expect(text).not.toContain("address_taken");
    expect(text).not.toContain(other.email);
    const shown = (event: string) =>
      data.audit_events
        .filter((e: { event: string; detail: { purpose?: string } | null }) => e.event === event && e.detail?.purpose === "email_change")
        .map((e: { outcome: string; detail: unknown }) => [e.outcome, e.detail]);
    expect(shown("email_change_requested")).toEqual(Array(3).fill(["success", { purpose: "email_change" }]));
    expect(shown("email_change_failed")).toEqual(Array(2).fill(["failure", { purpose: "email_change", reason: "wrong_code" }]));
  });
});
