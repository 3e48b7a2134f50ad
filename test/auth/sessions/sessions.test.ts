import { describe, expect, it } from "vitest";
import { sha256Hex } from "../../../src/lib/encoding";
import { login, me, PASSWORD, type Pair, refresh, registerUser, uniqueEmail } from "../../support/accounts";
import { DAY, fakeClock, MIN } from "../../support/clock";
import { db } from "../../support/db";
import { call, json, recordQueries } from "../../support/worker";

// Logout, logout-all, the session list, ending one session, and change-password.
// (Split from sessions.test.ts: a test file's isolate keeps its Postgres connections until it ends.)

/** Register at a controlled time (the fake clock), returning the pair. */
async function registerAt(now: () => Date, env?: Record<string, unknown>) {
  const res = await call("/auth/register", {
    body: { full_name: "Clock User", email: uniqueEmail("clock"), password: PASSWORD, role: "student" },
    now,
    env,
  });
  expect(res.status).toBe(201);
  return (await json(res)) as Pair & { user: { id: string } };
}

async function sessionRow(refreshToken: string) {
  const sql = db();
  const [row] = await sql`
    select s.id, s.revoked_at, s.revoked_reason from auth_refresh_tokens t join auth_sessions s on s.id = t.session_id
    where t.token_hash = ${await sha256Hex(refreshToken)}`;
  await sql.end();
  return row;
}

describe("token pair", () => {
  it("register and login return refresh_token, token_type Bearer and expires_in (ACCESS_TOKEN_TTL, default 15m)", async () => {
    const u = await registerUser();
    expect(u).toMatchObject({ token_type: "Bearer", expires_in: 900 });
    const l = await login(u.email);
    expect(l).toMatchObject({ token_type: "Bearer", expires_in: 900 });
    expect(l.refresh_token).not.toBe(u.refresh_token);
    const payload = JSON.parse(atob(l.access_token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
    expect(payload.exp - payload.iat).toBe(900);

    const res = await call("/auth/login", { body: { email: u.email, password: PASSWORD }, env: { ACCESS_TOKEN_TTL: "1h" } });
    const long = await json(res);
    expect(long.expires_in).toBe(3600);
    const p2 = JSON.parse(atob(long.access_token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
    expect(p2.exp - p2.iat).toBe(3600);
  });

  it("refresh tokens are opaque, >= 128 random bits, and stored only as SHA-256", async () => {
    const u = await registerUser();
    const raw = u.refresh_token;
    expect(raw).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(raw.split(".")).toHaveLength(1); // not a JWT
    expect(Math.floor((raw.length * 6) / 8)).toBeGreaterThanOrEqual(16);
    const rotated = (await refresh(raw)).body.refresh_token as string;
    const sql = db();
    const hashed = await sql`select token_hash from auth_refresh_tokens where token_hash = ${await sha256Hex(raw)}`;
    const clear = await sql`select 1 from auth_refresh_tokens t where t::text like ${`%${raw}%`} or t::text like ${`%${rotated}%`}`;
    const clearAnywhere = await sql`select 1 from auth_sessions s where s::text like ${`%${raw}%`}`;
    const audit = await sql`select 1 from auth_audit_events a where a::text like ${`%${raw}%`} or a::text like ${`%${rotated}%`}`;
    await sql.end();
    expect(hashed).toHaveLength(1);
    expect(clear).toHaveLength(0);
    expect(clearAnywhere).toHaveLength(0);
    expect(audit).toHaveLength(0);
  });

  it("idle lifetime (REFRESH_IDLE_TTL, 7d): a refresh token unused for longer is refused", async () => {
    const clock = fakeClock();
    const a = await registerAt(clock.now);
    clock.advance(7 * DAY - MIN);
    const b = await refresh(a.refresh_token, { now: clock.now });
    expect(b.status).toBe(200);
    clock.advance(7 * DAY + MIN);
    const c = await refresh(b.body.refresh_token, { now: clock.now });
    expect(c.status).toBe(401);
    expect(c.body.code).toBe("invalid_refresh_token");
  });

  it("absolute lifetime (REFRESH_TOKEN_TTL, 30d): ends the session even when refreshed regularly", async () => {
    const clock = fakeClock();
    let token = (await registerAt(clock.now)).refresh_token;
    for (let day = 6; day <= 24; day += 6) {
      clock.advance(6 * DAY);
      const r = await refresh(token, { now: clock.now });
      expect(r.status, `day ${day}`).toBe(200);
      token = r.body.refresh_token;
    }
    clock.advance(6 * DAY - 2 * MIN); // day 30 minus 2 minutes: still valid
    const last = await refresh(token, { now: clock.now });
    expect(last.status).toBe(200);
    clock.advance(3 * MIN); // day 30 plus 1 minute
    const after = await refresh(last.body.refresh_token, { now: clock.now });
    expect(after.status).toBe(401);
    expect(await me(last.body.access_token, { now: clock.now })).toBe(401);
  });

  it("the lifetimes are configurable", async () => {
    const clock = fakeClock();
    const env = { REFRESH_IDLE_TTL: "1h", REFRESH_TOKEN_TTL: "2h" };
    const a = await registerAt(clock.now, env);
    clock.advance(61 * MIN);
    expect((await refresh(a.refresh_token, { now: clock.now, env })).status).toBe(401);
  });
});

describe("refresh rotation and reuse detection", () => {
  it("rotates: a new pair, the presented refresh token is consumed", async () => {
    const u = await registerUser();
    const r = await refresh(u.refresh_token);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ status: "success", token_type: "Bearer", expires_in: 900 });
    expect(r.body.refresh_token).not.toBe(u.refresh_token);
    expect(r.body.access_token).not.toBe(u.access_token);
    expect(await me(r.body.access_token)).toBe(200);
    const sql = db();
    const [old] = await sql`select consumed_at, session_id from auth_refresh_tokens where token_hash = ${await sha256Hex(u.refresh_token)}`;
    const [next] =
      await sql`select consumed_at, session_id from auth_refresh_tokens where token_hash = ${await sha256Hex(r.body.refresh_token)}`;
    await sql.end();
    expect(old.consumed_at).not.toBeNull();
    expect(next.consumed_at).toBeNull();
    expect(next.session_id).toBe(old.session_id);
    // the successor rotates in turn
    const r2 = await refresh(r.body.refresh_token);
    expect(r2.status).toBe(200);
  });

  it("reusing a consumed refresh token outside the grace window -> 401 and the whole session dies", async () => {
    const clock = fakeClock();
    const a = await registerAt(clock.now);
    clock.advance(MIN);
    const b = await refresh(a.refresh_token, { now: clock.now });
    expect(b.status).toBe(200);
    clock.advance(11_000);
    const reuse = await refresh(a.refresh_token, { now: clock.now });
    expect(reuse.status).toBe(401);
    expect(reuse.body).toMatchObject({ status: "error", code: "invalid_refresh_token" });
    // the successor and its access token die too
    expect((await refresh(b.body.refresh_token, { now: clock.now })).status).toBe(401);
    expect(await me(b.body.access_token, { now: clock.now })).toBe(401);
    expect(await me(a.access_token, { now: clock.now })).toBe(401);
    expect((await sessionRow(a.refresh_token)).revoked_reason).toBe("refresh_reuse");
  });

  it("two concurrent refreshes within the grace window both get the same successor", async () => {
    const u = await registerUser();
    const [x, y] = await Promise.all([refresh(u.refresh_token), refresh(u.refresh_token)]);
    expect([x.status, y.status]).toEqual([200, 200]);
    expect(x.body.refresh_token).toBe(y.body.refresh_token);
    expect(await me(x.body.access_token)).toBe(200);
    expect(await me(y.body.access_token)).toBe(200);
    // still within the window (sequential, 5 s later): the same successor again
    const later = fakeClock(Date.now() + 5_000);
    const z = await refresh(u.refresh_token, { now: later.now });
    expect(z.status).toBe(200);
    expect(z.body.refresh_token).toBe(x.body.refresh_token);
    // after the window: reuse detection, the successor dies
    const after = fakeClock(Date.now() + 11_000);
    expect((await refresh(u.refresh_token, { now: after.now })).status).toBe(401);
    expect((await refresh(x.body.refresh_token, { now: after.now })).status).toBe(401);
  });

  it("within the grace window, once the successor was itself used, the old token is reuse", async () => {
    const clock = fakeClock();
    const a = await registerAt(clock.now);
    const b = await refresh(a.refresh_token, { now: clock.now });
    clock.advance(1_000);
    const c = await refresh(b.body.refresh_token, { now: clock.now });
    expect(c.status).toBe(200);
    clock.advance(1_000);
    expect((await refresh(a.refresh_token, { now: clock.now })).status).toBe(401);
    expect((await refresh(c.body.refresh_token, { now: clock.now })).status).toBe(401);
  });

  it("REFRESH_REUSE_GRACE=0: an immediate second use is reuse", async () => {
    const env = { REFRESH_REUSE_GRACE: "0" };
    const clock = fakeClock();
    const a = await registerAt(clock.now, env);
    const b = await refresh(a.refresh_token, { now: clock.now, env });
    expect(b.status).toBe(200);
    // same instant, no grace
    const again = await refresh(a.refresh_token, { now: clock.now, env });
    expect(again.status).toBe(401);
    expect((await refresh(b.body.refresh_token, { now: clock.now, env })).status).toBe(401);
    expect((await sessionRow(a.refresh_token)).revoked_reason).toBe("refresh_reuse");
  });

  it("unknown, malformed and missing refresh tokens -> 401 / 400", async () => {
    expect((await refresh("A".repeat(43))).status).toBe(401);
    const u = await registerUser();
    expect([400, 401]).toContain((await refresh(u.access_token)).status); // an access token is not a refresh token
    expect((await call("/auth/refresh", { body: {} })).status).toBe(400);
  });
});

describe("the session check", () => {
  it("is one statement without bound parameters: one round trip on the request's new connection", async () => {
    const u = await registerUser();
    // postgres.js sends a statement with parameters in two round trips on a connection that has not prepared it.
    for (const [path, env] of [
      ["/auth/me", undefined],
      ["/auth/sessions", { REQUIRE_MFA_ROLES: "student" }], // also reads whether the account holds a second factor
    ] as const) {
      const recorded = await recordQueries(async () => {
        const res = await call(path, { token: u.access_token, env });
        expect(res.status, path).toBe(path === "/auth/me" ? 200 : 403);
      });
      expect(recorded.length, path).toBe(1);
      expect(recorded[0].query).toMatch(/"auth_sessions"/);
      expect(recorded[0].params, path).toEqual([]);
    }
  });
});

describe("logout and sessions", () => {
  it("logout ends the current session at once, and only that one", async () => {
    const u = await registerUser();
    const other = await login(u.email);
    const res = await call("/auth/logout", { method: "POST", token: u.access_token });
    expect(res.status).toBe(200);
    expect(await me(u.access_token)).toBe(401);
    expect((await refresh(u.refresh_token)).status).toBe(401);
    expect(await me(other.access_token)).toBe(200);
    expect((await call("/auth/logout", { method: "POST" })).status).toBe(401);
  });

  it("logout-all ends every session of the caller at once", async () => {
    const u = await registerUser();
    const second = await login(u.email);
    const stranger = await registerUser();
    const res = await call("/auth/logout-all", { method: "POST", token: second.access_token });
    expect(res.status).toBe(200);
    expect(await me(u.access_token)).toBe(401);
    expect(await me(second.access_token)).toBe(401);
    expect((await refresh(u.refresh_token)).status).toBe(401);
    expect((await refresh(second.refresh_token)).status).toBe(401);
    expect(await me(stranger.access_token)).toBe(200);
  });

  it("GET /auth/sessions lists the caller's active sessions with id, created, last used, user agent, IP, current", async () => {
    const clock = fakeClock();
    const email = uniqueEmail("list");
    const reg = await call("/auth/register", {
      body: { full_name: "Lister", email, password: PASSWORD, role: "student" },
      headers: { "user-agent": "Phone/1.0" },
      ip: "203.0.113.7",
      now: clock.now,
    });
    const first = (await json(reg)) as Pair;
    clock.advance(MIN);
    const second = await login(email, PASSWORD, { headers: { "user-agent": "Laptop/2.0" }, ip: "198.51.100.9", now: clock.now });
    const third = await login(email, PASSWORD, { now: clock.now });
    await call("/auth/logout", { method: "POST", token: third.access_token, now: clock.now });
    clock.advance(MIN);
    await refresh(first.refresh_token, { now: clock.now }); // touches last used
    const stranger = await registerUser();

    const res = await call("/auth/sessions", { token: second.access_token, now: clock.now });
    expect(res.status).toBe(200);
    const { sessions } = await json(res);
    expect(sessions).toHaveLength(2);
    const phone = sessions.find((s: any) => s.user_agent === "Phone/1.0");
    const laptop = sessions.find((s: any) => s.user_agent === "Laptop/2.0");
    const start = clock.now().getTime() - 2 * MIN;
    expect(phone).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      created_at: new Date(start).toISOString(),
      last_used_at: new Date(start + 2 * MIN).toISOString(),
      expires_at: new Date(start + 30 * DAY).toISOString(),
      user_agent: "Phone/1.0",
      ip: "203.0.113.7",
      current: false,
    });
    expect(laptop).toMatchObject({ ip: "198.51.100.9", current: true, created_at: new Date(start + MIN).toISOString() });
    // most recently used first
    expect(sessions[0].id).toBe(phone.id);
    expect(JSON.stringify(sessions)).not.toContain(stranger.user.id);
    expect((await call("/auth/sessions")).status).toBe(401);
  });

  it("DELETE /auth/sessions/:id ends one of the caller's sessions at once; another user's id -> 404", async () => {
    const u = await registerUser();
    const second = await login(u.email);
    const list = await json(await call("/auth/sessions", { token: second.access_token }));
    const target = list.sessions.find((s: any) => !s.current);
    const del = await call(`/auth/sessions/${target.id}`, { method: "DELETE", token: second.access_token });
    expect(del.status).toBe(200);
    expect(await me(u.access_token)).toBe(401);
    expect((await refresh(u.refresh_token)).status).toBe(401);
    expect(await me(second.access_token)).toBe(200);
    // already ended
    expect((await call(`/auth/sessions/${target.id}`, { method: "DELETE", token: second.access_token })).status).toBe(404);

    const stranger = await registerUser();
    const strangerList = await json(await call("/auth/sessions", { token: stranger.access_token }));
    const theirs = strangerList.sessions[0].id;
    const cross = await call(`/auth/sessions/${theirs}`, { method: "DELETE", token: second.access_token });
    expect(cross.status).toBe(404);
    expect((await json(cross)).code).toBe("session_not_found");
    expect(await me(stranger.access_token)).toBe(200);

    expect((await call("/auth/sessions/not-a-uuid", { method: "DELETE", token: second.access_token })).status).toBe(400);
  });

  it("ending the current session through DELETE works like logout", async () => {
    const u = await registerUser();
    const list = await json(await call("/auth/sessions", { token: u.access_token }));
    const current = list.sessions.find((s: any) => s.current);
    expect((await call(`/auth/sessions/${current.id}`, { method: "DELETE", token: u.access_token })).status).toBe(200);
    expect(await me(u.access_token)).toBe(401);
  });
});
