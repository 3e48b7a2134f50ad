import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import worker from "../src/index";
import { sha256Hex } from "../src/auth/encoding";
import { call, db, fakeClock, json, PASSWORD, registerUser, testEnv, uniqueEmail } from "./helpers";

const MIN = 60_000;
const DAY = 24 * 3600_000;
/** A password that passes every new-password check (policy, common list, breached stand-in). */
const NEW_PASSWORD = "Quiet-Lantern-Orbit-4821";

type Pair = { access_token: string; refresh_token: string; token_type: string; expires_in: number };

async function refresh(refresh_token: string, opts: { now?: () => Date; env?: Record<string, unknown> } = {}) {
  const res = await call("/auth/refresh", { body: { refresh_token }, ...opts });
  return { status: res.status, body: await json(res) };
}

async function me(token: string, opts: { now?: () => Date } = {}) {
  return (await call("/auth/me", { token, ...opts })).status;
}

async function login(email: string, password = PASSWORD, opts: { now?: () => Date; headers?: Record<string, string>; ip?: string } = {}) {
  const res = await call("/auth/login", { body: { email, password }, ...opts });
  expect(res.status).toBe(200);
  return (await json(res)) as Pair & { user: { id: string } };
}

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
    const clear = await sql`select 1 from auth_refresh_tokens t where t::text like ${"%" + raw + "%"} or t::text like ${"%" + rotated + "%"}`;
    const clearAnywhere = await sql`select 1 from auth_sessions s where s::text like ${"%" + raw + "%"}`;
    const audit = await sql`select 1 from auth_audit_events a where a::text like ${"%" + raw + "%"} or a::text like ${"%" + rotated + "%"}`;
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
    const [next] = await sql`select consumed_at, session_id from auth_refresh_tokens where token_hash = ${await sha256Hex(r.body.refresh_token)}`;
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
    expect((await refresh(u.access_token)).status).toBe(401); // an access token is not a refresh token
    expect((await call("/auth/refresh", { body: {} })).status).toBe(400);
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

describe("change password", () => {
  const env = { BREACHED_PASSWORD_CHECK: "off" };

  it("needs the right current password", async () => {
    const u = await registerUser();
    const res = await call("/auth/change-password", {
      body: { current_password: "Not-the-password-1", new_password: NEW_PASSWORD },
      token: u.access_token,
      env,
    });
    expect(res.status).toBe(401);
    expect((await json(res)).code).toBe("invalid_current_password");
    expect(await me(u.access_token)).toBe(200);
    expect((await call("/auth/login", { body: { email: u.email, password: PASSWORD } })).status).toBe(200);
    expect((await call("/auth/change-password", { body: { current_password: PASSWORD, new_password: NEW_PASSWORD } })).status).toBe(401);
  });

  it("ends the other sessions and returns a working new pair", async () => {
    const u = await registerUser();
    const other = await login(u.email);
    const res = await call("/auth/change-password", {
      body: { current_password: PASSWORD, new_password: NEW_PASSWORD },
      token: u.access_token,
      env,
    });
    expect(res.status).toBe(200);
    const body = await json(res);
    expect(body).toMatchObject({ status: "success", token_type: "Bearer", expires_in: 900, user: { id: u.user.id } });
    expect(await me(other.access_token)).toBe(401);
    expect((await refresh(other.refresh_token)).status).toBe(401);
    expect(await me(u.access_token)).toBe(401); // the session it was changed from is replaced by the new one
    expect((await refresh(u.refresh_token)).status).toBe(401);
    expect(await me(body.access_token)).toBe(200);
    const next = await refresh(body.refresh_token);
    expect(next.status).toBe(200);
    const sessions = await json(await call("/auth/sessions", { token: next.body.access_token }));
    expect(sessions.sessions).toHaveLength(1);
    expect((await call("/auth/login", { body: { email: u.email, password: PASSWORD } })).status).toBe(401);
    expect((await call("/auth/login", { body: { email: u.email, password: NEW_PASSWORD } })).status).toBe(200);
  });

  it("applies the new-password policy", async () => {
    const u = await registerUser();
    const res = await call("/auth/change-password", { body: { current_password: PASSWORD, new_password: "short" }, token: u.access_token, env });
    expect(res.status).toBe(400);
    expect(await me(u.access_token)).toBe(200);
  });
});

describe("purge (scheduled handler)", () => {
  it("removes ended sessions, old consumed refresh tokens, dead reset codes and stale throttles, and nothing else", async () => {
    const u = await registerUser();
    const uid = u.user.id;
    const now = Date.now();
    const at = (ms: number) => new Date(now + ms);
    const sql = db();
    const sess = (name: string) => ({ name, id: crypto.randomUUID() });
    const live = sess("live"), revoked = sess("revoked"), expired = sess("expired"), idle = sess("idle");
    const mkSession = (id: string, o: { expires: number; idle: number; revoked?: number }) => sql`
      insert into auth_sessions (id, user_id, created_at, last_used_at, expires_at, idle_expires_at, revoked_at, revoked_reason, ip)
      values (${id}, ${uid}, ${at(-20 * DAY)}, ${at(-DAY)}, ${at(o.expires)}, ${at(o.idle)},
              ${o.revoked === undefined ? null : at(o.revoked)}, ${o.revoked === undefined ? null : "logout"}, '192.0.2.1')`;
    await mkSession(live.id, { expires: 10 * DAY, idle: 6 * DAY });
    await mkSession(revoked.id, { expires: 10 * DAY, idle: 6 * DAY, revoked: -MIN });
    await mkSession(expired.id, { expires: -MIN, idle: -2 * MIN });
    await mkSession(idle.id, { expires: 10 * DAY, idle: -MIN });

    const tok = async (name: string, sessionId: string, consumed: number | null) => {
      const id = crypto.randomUUID();
      await sql`insert into auth_refresh_tokens (id, session_id, token_hash, created_at, consumed_at)
        values (${id}, ${sessionId}, ${await sha256Hex(crypto.randomUUID())}, ${at(-20 * DAY)}, ${consumed === null ? null : at(consumed)})`;
      return { name, id };
    };
    const tokens = [
      await tok("live-unconsumed", live.id, null),
      await tok("live-consumed-recently", live.id, -6 * DAY),
      await tok("live-consumed-long-ago", live.id, -8 * DAY),
      await tok("revoked-session-token", revoked.id, null),
      await tok("expired-session-token", expired.id, null),
      await tok("idle-session-token", idle.id, -MIN),
    ];

    const code = async (name: string, expires: number, consumed: number | null) => {
      const id = crypto.randomUUID();
      await sql`insert into auth_password_reset_codes (id, user_id, code_hash, created_at, expires_at, consumed_at)
        values (${id}, ${uid}, ${"h-" + id}, ${at(-5 * MIN)}, ${at(expires)}, ${consumed === null ? null : at(consumed)})`;
      return { name, id };
    };
    const codes = [await code("live", 5 * MIN, null), await code("expired", -MIN, null), await code("consumed", 5 * MIN, -MIN)];

    const prefix = `purgetest-${crypto.randomUUID()}`;
    const throttle = async (name: string, o: { failures: number; last: number; blocked?: number }) => {
      await sql`insert into auth_throttles (key, failures, last_at, blocked_until)
        values (${`${prefix}:${name}`}, ${o.failures}, ${at(o.last)}, ${o.blocked === undefined ? null : at(o.blocked)})`;
    };
    await throttle("stale", { failures: 3, last: -25 * 3600_000 });
    await throttle("stale-block-over", { failures: 6, last: -25 * 3600_000, blocked: -24 * 3600_000 });
    await throttle("recent", { failures: 3, last: -3600_000 });
    await throttle("stale-but-blocked", { failures: 12, last: -25 * 3600_000, blocked: 3600_000 });
    await throttle("stale-locked", { failures: 100, last: -25 * 3600_000 });

    const registerSession = (await sql`select id from auth_sessions where user_id = ${uid} and id <> all(${[live.id, revoked.id, expired.id, idle.id]})`)[0].id;
    const liveRowsBefore = {
      sessions: (await sql`select id from auth_sessions where revoked_at is null and expires_at > now() + interval '1 hour' and idle_expires_at > now() + interval '1 hour'`).map((r) => r.id),
    };

    const ctx = createExecutionContext();
    await worker.scheduled(createScheduledController({ cron: "17 * * * *", scheduledTime: new Date() }), testEnv, ctx);
    await waitOnExecutionContext(ctx);

    const sessionsAfter = (await sql`select id from auth_sessions where user_id = ${uid}`).map((r) => r.id).sort();
    const tokenIds = (await sql`select t.id from auth_refresh_tokens t join auth_sessions s on s.id = t.session_id where s.user_id = ${uid}`).map((r) => r.id);
    const codeIds = (await sql`select id from auth_password_reset_codes where user_id = ${uid}`).map((r) => r.id);
    const throttleKeys = (await sql`select key from auth_throttles where key like ${prefix + ":%"}`).map((r) => r.key.slice(prefix.length + 1)).sort();
    const liveAfter = (await sql`select id from auth_sessions where id = any(${liveRowsBefore.sessions})`).map((r) => r.id);
    await sql.end();

    expect(sessionsAfter).toEqual([live.id, registerSession].sort());
    const name = (ids: string[], rows: { name: string; id: string }[]) => rows.filter((r) => ids.includes(r.id)).map((r) => r.name).sort();
    // the register session's own refresh token stays too
    expect(tokenIds).toHaveLength(3);
    expect(name(tokenIds, tokens)).toEqual(["live-consumed-recently", "live-unconsumed"]);
    expect(name(codeIds, codes)).toEqual(["live"]);
    expect(throttleKeys).toEqual(["recent", "stale-but-blocked", "stale-locked"]);
    // no live session anywhere in the database was touched
    expect(liveAfter.sort()).toEqual([...liveRowsBefore.sessions].sort());
    // the user's live session still works
    expect(await me(u.access_token)).toBe(200);
  });
});
