// Change password: the current password through the login throttle, races, the notice mail.
import { describe, expect, it } from "vitest";
import { login, loginAs, loginFailures, me, PASSWORD, refresh, registerUser } from "../../support/accounts";
import { fakeClock } from "../../support/clock";
import { db, untilBlocked } from "../../support/db";
import { mailsTo } from "../../support/mail";
import { type CallOptions, call, json } from "../../support/worker";

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

describe("change password under attack and under races", () => {
  const env = { BREACHED_PASSWORD_CHECK: "off" };
  const change = (token: string, current: string, next = NEW_PASSWORD, opts: CallOptions = {}) =>
    call("/auth/change-password", { body: { current_password: current, new_password: next }, token, env, ...opts });

  it("a wrong current password is throttled exactly like login, on the same per-account key", async () => {
    const clock = fakeClock();
    const u = await registerUser();
    for (let i = 1; i <= 5; i++)
      expect((await change(u.access_token, `Wrong-Current-${i}x`, NEW_PASSWORD, { now: clock.now })).status).toBe(401);
    // Five failures: the next attempt waits 1 s, whether it comes as a change or as a login.
    const early = await change(u.access_token, PASSWORD, NEW_PASSWORD, { now: clock.now });
    expect(early.status).toBe(429);
    expect(early.headers.get("retry-after")).toBe("1");
    expect((await loginAs(u.email, PASSWORD, { now: clock.now })).status).toBe(429);
    clock.advance(1000);
    expect((await change(u.access_token, PASSWORD, NEW_PASSWORD, { now: clock.now })).status).toBe(200);
  });

  it("50 wrong current passwords in flight at once count at most 5 failures", async () => {
    // One instant for the whole burst: on a real clock a slow machine may spread it past the
    // first delay, and a later attempt is then rightly let through.
    const clock = fakeClock();
    const u = await registerUser();
    const answers = await Promise.all(
      Array.from({ length: 50 }, (_, i) => change(u.access_token, `Wrong-Current-${i}x`, NEW_PASSWORD, { now: clock.now })),
    );
    const statuses = answers.map((a) => a.status);
    expect(statuses.filter((s) => s === 401).length).toBeLessThanOrEqual(5);
    expect(statuses.filter((s) => s !== 401 && s !== 429)).toEqual([]);
    expect(await loginFailures(u.email)).toBeLessThanOrEqual(5);
  });

  it("two changes in flight at once with the same current password: exactly one succeeds, the other is refused", async () => {
    const u = await registerUser();
    const sql = db();
    const watch = db();
    try {
      // Hold the users row: both requests verify the same current password (reads do not wait),
      // then both wait at their UPDATE; released, one writes and the other finds the hash changed.
      let both: Promise<Response[]> = Promise.resolve([]);
      await sql.begin(async (tx) => {
        await tx`select id from users where id = ${u.user.id} for update`;
        both = Promise.all([
          change(u.access_token, PASSWORD, "First-Racer-Passw0rd!"),
          change(u.access_token, PASSWORD, "Second-Racer-Passw0rd!"),
        ]);
        await untilBlocked(watch, '%update "users"%', 2);
      });
      const [a, b] = await both;
      const statuses = [a.status, b.status].sort();
      expect(statuses).toEqual([200, 409]);
      const loser = a.status === 409 ? a : b;
      expect((await json(loser)).code).toBe("password_change_conflict");
      const winner = a.status === 200 ? "First-Racer-Passw0rd!" : "Second-Racer-Passw0rd!";
      const other = winner.startsWith("First") ? "Second-Racer-Passw0rd!" : "First-Racer-Passw0rd!";
      expect((await loginAs(u.email, winner)).status).toBe(200);
      expect((await loginAs(u.email, other)).status).toBe(401);
    } finally {
      await sql.end();
      await watch.end();
    }
  });

  it("mails a password-changed notice (never the password) to the account's address", async () => {
    const u = await registerUser();
    expect((await change(u.access_token, PASSWORD)).status).toBe(200);
    const [notice] = (await mailsTo(u.email)).filter((m) => /password was changed/i.test(m.subject));
    expect(notice).toBeDefined();
    expect(notice.text).toMatch(/wasn't you/);
    expect(notice.text + notice.html).not.toContain(NEW_PASSWORD);
    expect(notice.text + notice.html).not.toContain(PASSWORD);
  });
});
