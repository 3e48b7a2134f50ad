// Logout, logout-all, the session list, ending one session, and change-password.
// (Split from sessions.test.ts: a test file's isolate keeps its Postgres connections until it ends.)
import { describe, expect, it } from "vitest";
import { login, me, PASSWORD, refresh, registerUser } from "../support/accounts";
import { call, json } from "../support/worker";

/** A password that passes every new-password check (policy, common list, breached stand-in). */
const NEW_PASSWORD = "Quiet-Lantern-Orbit-4821";

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
