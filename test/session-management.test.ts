// Logout, logout-all, the session list, ending one session, and change-password.
// (Split from sessions.test.ts: a test file's isolate keeps its Postgres connections until it ends.)
import { describe, expect, it } from "vitest";
import { call, DAY, fakeClock, json, login, MIN, me, PASSWORD, type Pair, refresh, registerUser, uniqueEmail } from "./helpers";

/** A password that passes every new-password check (policy, common list, breached stand-in). */
const NEW_PASSWORD = "Quiet-Lantern-Orbit-4821";

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
    const res = await call("/auth/change-password", {
      body: { current_password: PASSWORD, new_password: "short" },
      token: u.access_token,
      env,
    });
    expect(res.status).toBe(400);
    expect(await me(u.access_token)).toBe(200);
  });
});
