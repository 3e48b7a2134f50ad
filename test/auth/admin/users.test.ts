import { describe, expect, it } from "vitest";
import { login, loginAs, me, PASSWORD, refresh, registerUser } from "../../support/accounts";
import { adminAccount, adminAuditRows, adminCall, adminGet } from "../../support/admin";
import { fakeClock, SEC } from "../../support/clock";
import { userRow, withDb } from "../../support/db";
import { latestCode } from "../../support/mail";
import { claimsOf, codeAt, mfaAccount, mfaToken, verify } from "../../support/mfa";
import { call, json } from "../../support/worker";

type Clock = ReturnType<typeof fakeClock>;

/** `n` accounts whose emails start with a prefix of their own, each created a second after the last. */
async function cohort(clock: Clock, n: number, prefix = `c${crypto.randomUUID().slice(0, 8)}`) {
  const made: { id: string; email: string }[] = [];
  for (let i = 0; i < n; i++) {
    clock.advance(SEC);
    const u = await registerUser({ email: `${prefix}-${i}@example.com`, full_name: `Member ${i}` }, { now: clock.now });
    made.push({ id: u.user.id, email: u.email });
  }
  return { prefix, made };
}

const ids = (body: { users: { id: string }[] }) => body.users.map((u) => u.id);

describe("GET /auth/admin/users", () => {
  it("pages newest first with cursors that stay stable while accounts are created between pages", async () => {
    const clock = fakeClock();
    const admin = await adminAccount(clock);
    const { prefix, made } = await cohort(clock, 7);
    // Two accounts in the same millisecond: the id breaks the tie, and neither is lost at a page edge.
    clock.advance(SEC);
    const [tieA, tieB] = await Promise.all([0, 1].map((i) => registerUser({ email: `${prefix}-tie${i}@example.com` }, { now: clock.now })));
    const expected = [...made.map((m) => m.id), tieA.user.id, tieB.user.id];
    const newestFirst = [...expected.slice(-2).sort().reverse(), ...expected.slice(0, -2).reverse()];

    const first = await adminGet(`/users?q=${prefix}&limit=4`, admin.token, clock);
    expect(ids(first)).toEqual(newestFirst.slice(0, 4));
    expect(first.next_cursor).toEqual(expect.any(String));
    // Newer accounts arrive between the pages: they never push rows into the next page.
    clock.advance(SEC);
    const late = await Promise.all([0, 1, 2].map((i) => registerUser({ email: `${prefix}-late${i}@example.com` }, { now: clock.now })));
    const second = await adminGet(`/users?q=${prefix}&limit=4&cursor=${first.next_cursor}`, admin.token, clock);
    expect(ids(second)).toEqual(newestFirst.slice(4, 8));
    const third = await adminGet(`/users?q=${prefix}&limit=4&cursor=${second.next_cursor}`, admin.token, clock);
    expect(ids(third)).toEqual(newestFirst.slice(8));
    expect(third.next_cursor).toBeNull();
    // A fresh first page starts with them.
    const again = await adminGet(`/users?q=${prefix}&limit=3`, admin.token, clock);
    expect(ids(again).sort()).toEqual(late.map((u) => u.user.id).sort());

    const bad = await adminCall(`/users?cursor=bm90LWEtY3Vyc29y`, admin.token, clock);
    expect(bad.status).toBe(400);
    expect((await json(bad)).issues[0].path).toBe("cursor");
  });

  it("serves 20 by default and at most 100 however many are asked for", async () => {
    const clock = fakeClock();
    const admin = await adminAccount(clock);
    const prefix = `bulk${crypto.randomUUID().slice(0, 8)}`;
    await withDb(
      (sql) => sql`insert into users (id, full_name, email, password, role, created_at)
        select gen_random_uuid(), 'Bulk ' || i, ${prefix} || '-' || i || '@example.com', '!', 'student', now() - i * interval '1 second'
          from generate_series(1, 130) as i`,
    );
    expect((await adminGet(`/users?q=${prefix}`, admin.token, clock)).users).toHaveLength(20);
    const capped = await adminGet(`/users?q=${prefix}&limit=1000`, admin.token, clock);
    expect(capped.users).toHaveLength(100);
    const rest = await adminGet(`/users?q=${prefix}&limit=1000&cursor=${capped.next_cursor}`, admin.token, clock);
    expect(rest.users).toHaveLength(30);
    expect(new Set([...ids(capped), ...ids(rest)]).size).toBe(130);
    for (const limit of ["0", "-1", "abc"]) expect((await adminCall(`/users?limit=${limit}`, admin.token, clock)).status).toBe(400);
  });

  it("searches by email prefix (any case) and by part of the name, and filters by role, status and pending request", async () => {
    const clock = fakeClock();
    const admin = await adminAccount(clock);
    const tag = crypto.randomUUID().slice(0, 8);
    const ada = await registerUser({ email: `ada.${tag}@example.com`, full_name: `Ada Quixotic${tag}` }, { now: clock.now });
    const bob = await registerUser({ email: `bob.${tag}@example.com`, full_name: "Bob Builder", role: "instructor" }, { now: clock.now });
    const pending = await registerUser({ email: `pen.${tag}@example.com` }, { now: clock.now });
    await withDb((sql) => sql`update users set requested_role = 'instructor' where id = ${pending.user.id}`);

    expect(ids(await adminGet(`/users?q=ADA.${tag}`, admin.token, clock))).toEqual([ada.user.id]);
    expect(ids(await adminGet(`/users?q=${encodeURIComponent(`quixotic${tag}`)}`, admin.token, clock))).toEqual([ada.user.id]);
    // A LIKE wildcard in q is matched literally.
    expect((await adminGet(`/users?q=${encodeURIComponent(`%.${tag}`)}`, admin.token, clock)).users).toEqual([]);
    expect(ids(await adminGet(`/users?q=bob.${tag}&role=instructor`, admin.token, clock))).toEqual([bob.user.id]);
    expect(ids(await adminGet(`/users?q=bob.${tag}&role=student`, admin.token, clock))).toEqual([]);
    expect(ids(await adminGet(`/users?requested_role=instructor&q=pen.${tag}`, admin.token, clock))).toEqual([pending.user.id]);
    await withDb((sql) => sql`update users set status = 'suspended' where id = ${bob.user.id}`);
    expect(ids(await adminGet(`/users?q=bob.${tag}&status=suspended`, admin.token, clock))).toEqual([bob.user.id]);
    expect(ids(await adminGet(`/users?q=bob.${tag}&status=active`, admin.token, clock))).toEqual([]);
    const listed = (await adminGet(`/users?q=ada.${tag}`, admin.token, clock)).users[0];
    expect(listed).toEqual({
      id: ada.user.id,
      email: ada.email,
      full_name: `Ada Quixotic${tag}`,
      role: "student",
      avatar: null,
      email_verified: false,
      requested_role: null,
      locale: null,
      status: "active",
      mfa_enabled: false,
      created_at: clock.now().toISOString(),
      deletion_due_at: null,
    });
    expect((await adminCall("/users?status=weird", admin.token, clock)).status).toBe(400);
  });
});

describe("GET /auth/admin/users/{id}", () => {
  it("shows the account, its live sessions with device, address and last use, MFA and the last login", async () => {
    const clock = fakeClock();
    const admin = await adminAccount(clock);
    const user = await mfaAccount(clock);
    clock.advance(SEC);
    const token = await mfaToken(user.user.email, clock);
    await verify({ mfa_token: token, code: await codeAt(user.secret, clock) }, clock);
    await call("/auth/logout", { method: "POST", token: user.user.access_token, now: clock.now });
    const body = await adminGet(`/users/${user.user.user.id}`, admin.token, clock);
    expect(body.user).toMatchObject({
      id: user.user.user.id,
      mfa_enabled: true,
      status: "active",
      last_login_at: clock.now().toISOString(),
    });
    expect(body.sessions).toHaveLength(1);
    expect(body.sessions[0]).toEqual({
      id: expect.any(String),
      created_at: clock.now().toISOString(),
      last_used_at: clock.now().toISOString(),
      expires_at: expect.any(String),
      user_agent: null,
      ip: expect.stringMatching(/^10\./),
    });
    const missing = await adminCall(`/users/${crypto.randomUUID()}`, admin.token, clock);
    expect(missing.status).toBe(404);
    expect((await json(missing)).code).toBe("user_not_found");
    const viewed = (await adminAuditRows(admin.user.user.id)).filter((r) => r.event === "admin_user_viewed");
    expect(viewed.map((r) => [r.user_id, r.outcome])).toEqual([
      [user.user.user.id, "success"],
      [expect.any(String), "failure"],
    ]);
  });
});

describe("PATCH /auth/admin/users/{id}", () => {
  it("suspends: live access and refresh tokens fail on the next request, sign-in is refused; re-activating lets it in again", async () => {
    const clock = fakeClock();
    const admin = await adminAccount(clock);
    const user = await registerUser({}, { now: clock.now });
    const other = await login(user.email, PASSWORD, { now: clock.now });
    expect(await me(other.access_token, { now: clock.now })).toBe(200);

    const res = await adminCall(`/users/${user.user.id}`, admin.token, clock, { method: "PATCH", body: { status: "suspended" } });
    expect(res.status).toBe(200);
    expect((await json(res)).user).toMatchObject({ id: user.user.id, status: "suspended" });

    expect(await me(user.access_token, { now: clock.now })).toBe(401);
    expect(await me(other.access_token, { now: clock.now })).toBe(401);
    expect((await refresh(user.refresh_token, { now: clock.now })).status).toBe(401);
    expect((await refresh(other.refresh_token, { now: clock.now })).status).toBe(401);
    const refused = await loginAs(user.email, PASSWORD, { now: clock.now });
    expect(refused.status).toBe(403);
    expect((await json(refused)).code).toBe("account_suspended");
    // A wrong password still gets the generic answer: nothing confirms the account to a guesser.
    expect((await loginAs(user.email, "Wrong-Password-123", { now: clock.now })).status).toBe(401);
    const ended = await withDb((sql) => sql`select revoked_reason from auth_sessions where user_id = ${user.user.id}`);
    expect(ended.map((s) => s.revoked_reason)).toEqual(["suspended", "suspended"]);

    const back = await adminCall(`/users/${user.user.id}`, admin.token, clock, { method: "PATCH", body: { status: "active" } });
    expect((await json(back)).user.status).toBe("active");
    expect((await loginAs(user.email, PASSWORD, { now: clock.now })).status).toBe(200);
    // The sessions that were ended stay ended.
    expect((await refresh(user.refresh_token, { now: clock.now })).status).toBe(401);

    const rows = (await adminAuditRows(admin.user.user.id)).filter((r) => r.event === "admin_user_updated");
    expect(rows.map((r) => [r.user_id, r.detail.status_from, r.detail.status_to, r.detail.sessions_ended])).toEqual([
      [user.user.id, "active", "suspended", 2],
      [user.user.id, "suspended", "active", 0],
    ]);
  });

  it("a suspension between the password and the second factor refuses the MFA step", async () => {
    const clock = fakeClock();
    const admin = await adminAccount(clock);
    const user = await mfaAccount(clock);
    const token = await mfaToken(user.user.email, clock);
    await adminCall(`/users/${user.user.user.id}`, admin.token, clock, { method: "PATCH", body: { status: "suspended" } });
    const res = await verify({ mfa_token: token, code: await codeAt(user.secret, clock) }, clock);
    expect(res.status).toBe(403);
    expect((await json(res)).code).toBe("account_suspended");
  });

  it("changes a role: a higher one keeps the sessions (the next refresh carries it), a lower one ends them", async () => {
    const clock = fakeClock();
    const admin = await adminAccount(clock);
    const user = await registerUser({}, { now: clock.now });
    const up = await adminCall(`/users/${user.user.id}`, admin.token, clock, { method: "PATCH", body: { role: "instructor" } });
    expect((await json(up)).user.role).toBe("instructor");
    const refreshed = await refresh(user.refresh_token, { now: clock.now });
    expect(refreshed.status).toBe(200);
    expect(claimsOf(refreshed.body.access_token).role).toBe("instructor");

    const down = await adminCall(`/users/${user.user.id}`, admin.token, clock, { method: "PATCH", body: { role: "student" } });
    expect((await json(down)).user.role).toBe("student");
    expect(await me(refreshed.body.access_token, { now: clock.now })).toBe(401);
    expect((await refresh(refreshed.body.refresh_token, { now: clock.now })).status).toBe(401);
    expect((await userRow(user.user.id)).role).toBe("student");
    const rows = (await adminAuditRows(admin.user.user.id)).filter((r) => r.event === "admin_user_updated");
    expect(rows.map((r) => [r.user_id, r.actor_id, r.detail.role_from, r.detail.role_to, r.detail.sessions_ended])).toEqual([
      [user.user.id, admin.user.user.id, "student", "instructor", 0],
      [user.user.id, admin.user.user.id, "instructor", "student", 1],
    ]);
    const empty = await adminCall(`/users/${user.user.id}`, admin.token, clock, { method: "PATCH", body: {} });
    expect(empty.status).toBe(400);
    const missing = await adminCall(`/users/${crypto.randomUUID()}`, admin.token, clock, { method: "PATCH", body: { role: "student" } });
    expect((await json(missing)).code).toBe("user_not_found");
  });
});

describe("POST /auth/admin/users/{id}/revoke-sessions and send-password-reset", () => {
  it("revoke-sessions ends every session of the account at once", async () => {
    const clock = fakeClock();
    const admin = await adminAccount(clock);
    const user = await registerUser({}, { now: clock.now });
    const second = await login(user.email, PASSWORD, { now: clock.now });
    const res = await adminCall(`/users/${user.user.id}/revoke-sessions`, admin.token, clock, { method: "POST" });
    expect(res.status).toBe(200);
    expect((await json(res)).sessions_ended).toBe(2);
    for (const t of [user.access_token, second.access_token]) expect(await me(t, { now: clock.now })).toBe(401);
    for (const t of [user.refresh_token, second.refresh_token]) expect((await refresh(t, { now: clock.now })).status).toBe(401);
    // The account itself is untouched: it signs in again.
    expect((await loginAs(user.email, PASSWORD, { now: clock.now })).status).toBe(200);
    const [row] = (await adminAuditRows(admin.user.user.id)).filter((r) => r.event === "admin_sessions_revoked");
    expect(row).toMatchObject({ user_id: user.user.id, outcome: "success", detail: { sessions_ended: 2 } });
  });

  it("send-password-reset mails the account the reset code of forgot-password, within its send throttle", async () => {
    const clock = fakeClock();
    const admin = await adminAccount(clock);
    const user = await registerUser({}, { now: clock.now });
    const res = await adminCall(`/users/${user.user.id}/send-password-reset`, admin.token, clock, { method: "POST" });
    expect(res.status).toBe(202);
    const code = await latestCode(user.email, /reset/);
    const reset = await call("/auth/reset-password", {
      body: { email: user.email, otp: code, new_password: "A-brand-new-passphrase-7" },
      now: clock.now,
    });
    expect(reset.status).toBe(200);
    expect((await loginAs(user.email, "A-brand-new-passphrase-7", { now: clock.now })).status).toBe(200);

    const again = await adminCall(`/users/${user.user.id}/send-password-reset`, admin.token, clock, { method: "POST" });
    expect(again.status).toBe(429);
    expect(again.headers.get("retry-after")).toMatch(/^\d+$/);
    const rows = (await adminAuditRows(admin.user.user.id)).filter((r) => r.event === "admin_password_reset_sent");
    expect(rows.map((r) => [r.user_id, r.outcome])).toEqual([
      [user.user.id, "success"],
      [user.user.id, "blocked"],
    ]);
  });
});

describe("GET /auth/admin/audit", () => {
  it("lists events by account, actor and type, newest first, in stable pages; every admin call is in it", async () => {
    const clock = fakeClock();
    const admin = await adminAccount(clock);
    const user = await registerUser({}, { now: clock.now });
    for (const status of ["suspended", "active", "suspended"]) {
      clock.advance(SEC);
      await adminCall(`/users/${user.user.id}`, admin.token, clock, { method: "PATCH", body: { status } });
    }
    const q = `user_id=${user.user.id}&type=admin_user_updated&limit=2`;
    const first = await adminGet(`/audit?${q}`, admin.token, clock);
    expect(first.events.map((e: any) => e.detail.status_to)).toEqual(["suspended", "active"]);
    expect(first.events[0]).toMatchObject({
      event: "admin_user_updated",
      user_id: user.user.id,
      actor_id: admin.user.user.id,
      outcome: "success",
    });
    const second = await adminGet(`/audit?${q}&cursor=${first.next_cursor}`, admin.token, clock);
    expect(second.events.map((e: any) => e.detail.status_to)).toEqual(["suspended"]);
    expect(second.next_cursor).toBeNull();

    const byAdmin = await adminGet(`/audit?actor_id=${admin.user.user.id}&limit=100`, admin.token, clock);
    // Newest first: the two audit reads above, then the three changes.
    expect(byAdmin.events.map((e: any) => e.event)).toEqual([
      "admin_audit_viewed",
      "admin_audit_viewed",
      "admin_user_updated",
      "admin_user_updated",
      "admin_user_updated",
    ]);
    expect(byAdmin.events[1]).toMatchObject({ user_id: user.user.id, detail: { type: "admin_user_updated", page: "first", results: 2 } });
    // The account's own history shows its logins and the changes made to it.
    const history = await adminGet(`/audit?user_id=${user.user.id}&limit=100`, admin.token, clock);
    expect(history.events.map((e: any) => e.event)).toEqual(
      expect.arrayContaining(["registered", "admin_user_updated", "admin_audit_viewed"]),
    );
    expect((await adminCall("/audit?type=not_an_event", admin.token, clock)).status).toBe(400);
  });
});

describe("what the operators' console reads (docs/console.md)", () => {
  it("filters by a proven address and by a second factor", async () => {
    const clock = fakeClock();
    const admin = await adminAccount(clock);
    const tag = `vm${crypto.randomUUID().slice(0, 8)}`;
    const plain = await registerUser({ email: `${tag}-plain@example.com` }, { now: clock.now });
    const verified = await registerUser({ email: `${tag}-verified@example.com` }, { now: clock.now });
    await withDb((sql) => sql`update users set email_verified_at = now() where id = ${verified.user.id}`);
    const withMfa = await mfaAccount(clock);
    await withDb((sql) => sql`update users set email = ${`${tag}-mfa@example.com`} where id = ${withMfa.user.user.id}`);
    const sorted = (body: { users: { email: string }[] }) => body.users.map((u) => u.email.split("-")[1].split("@")[0]).sort();
    // A factor is only added to a verified address, so the MFA account is verified too.
    expect(sorted(await adminGet(`/users?q=${tag}&verified=true`, admin.token, clock))).toEqual(["mfa", "verified"]);
    expect(sorted(await adminGet(`/users?q=${tag}&verified=false`, admin.token, clock))).toEqual(["plain"]);
    expect(sorted(await adminGet(`/users?q=${tag}&mfa=true`, admin.token, clock))).toEqual(["mfa"]);
    expect(sorted(await adminGet(`/users?q=${tag}&mfa=false`, admin.token, clock))).toEqual(["plain", "verified"]);
    expect(ids(await adminGet(`/users?q=${tag}&mfa=false&verified=false`, admin.token, clock))).toEqual([plain.user.id]);
    for (const bad of ["verified=yes", "mfa=1"]) expect((await adminCall(`/users?${bad}`, admin.token, clock)).status).toBe(400);
    const [listed] = (await adminAuditRows(admin.user.user.id)).filter((r) => r.event === "admin_users_listed");
    expect(listed.detail).toMatchObject({ verified: true, mfa: null });
  });

  it("shows an account's identities and second factor (never a secret) and its recovery codes left", async () => {
    const clock = fakeClock();
    const admin = await adminAccount(clock);
    const user = await mfaAccount(clock);
    const id = user.user.user.id;
    await withDb(
      (sql) => sql`insert into auth_identities (id, provider, subject, user_id, email, email_verified, created_at)
        values (gen_random_uuid(), 'google', ${`sub-${id}`}, ${id}, ${user.user.email}, true, now())`,
    );
    const body = await adminGet(`/users/${id}`, admin.token, clock);
    expect(body.identities).toEqual([
      {
        id: expect.any(String),
        provider: "google",
        email: user.user.email,
        email_verified: true,
        created_at: expect.any(String),
        last_used_at: null,
      },
    ]);
    expect(body.factors).toEqual([
      {
        kind: "totp",
        status: "active",
        created_at: expect.any(String),
        confirmed_at: expect.any(String),
        last_used_at: expect.any(String),
      },
    ]);
    expect(body.recovery_codes_remaining).toBe(10);
    const text = JSON.stringify(body);
    const [factor] = await withDb((sql) => sql`select secret from auth_mfa_factors where user_id = ${id}`);
    expect(text).not.toContain(factor.secret);
    expect(text).not.toContain(user.secretBase32);
    expect(text).not.toContain(`sub-${id}`);
  });

  it("keeps the admin's reason for a change in the audit row as its note", async () => {
    const clock = fakeClock();
    const admin = await adminAccount(clock);
    const user = await registerUser({}, { now: clock.now });
    const res = await adminCall(`/users/${user.user.id}`, admin.token, clock, {
      method: "PATCH",
      body: { status: "suspended", reason: "  Spam reported by three students  " },
    });
    expect(res.status).toBe(200);
    const [row] = (await adminAuditRows(admin.user.user.id)).filter((r) => r.event === "admin_user_updated");
    expect(row.detail).toMatchObject({ status_to: "suspended", note: "Spam reported by three students" });
    const long = await adminCall(`/users/${user.user.id}`, admin.token, clock, {
      method: "PATCH",
      body: { status: "active", reason: "x".repeat(501) },
    });
    expect(long.status).toBe(400);
    expect((await userRow(user.user.id)).status).toBe("suspended");
  });

  it("gives each audit event the current addresses of its account and its actor, and filters by time", async () => {
    const clock = fakeClock();
    const admin = await adminAccount(clock);
    const user = await registerUser({}, { now: clock.now });
    clock.advance(SEC);
    const before = clock.now().toISOString();
    clock.advance(SEC);
    await adminCall(`/users/${user.user.id}`, admin.token, clock, { method: "PATCH", body: { role: "instructor" } });
    clock.advance(SEC);
    const after = clock.now().toISOString();
    const all = await adminGet(`/audit?user_id=${user.user.id}&limit=100`, admin.token, clock);
    const updated = all.events.find((e: any) => e.event === "admin_user_updated");
    expect(updated).toMatchObject({ user_email: user.email, actor_email: admin.user.email });
    const registered = all.events.find((e: any) => e.event === "registered");
    expect(registered).toMatchObject({ user_email: user.email, actor_email: null });

    const since = await adminGet(`/audit?user_id=${user.user.id}&since=${before}&limit=100`, admin.token, clock);
    expect(since.events.map((e: any) => e.event)).not.toContain("registered");
    expect(since.events.map((e: any) => e.event)).toContain("admin_user_updated");
    const until = await adminGet(`/audit?user_id=${user.user.id}&until=${before}&limit=100`, admin.token, clock);
    expect(until.events.map((e: any) => e.event)).toContain("registered");
    expect(until.events.map((e: any) => e.event)).not.toContain("admin_user_updated");
    const window = await adminGet(
      `/audit?user_id=${user.user.id}&since=${before}&until=${after}&type=admin_user_updated`,
      admin.token,
      clock,
    );
    expect(window.events).toHaveLength(1);
    expect((await adminCall("/audit?since=yesterday", admin.token, clock)).status).toBe(400);
  });
});
