import { afterEach, describe, expect, inject, it, vi } from "vitest";
import { loginAs, registerUser, uniqueEmail } from "../support/accounts";
import { fakeClock } from "../support/clock";
import { auditRows, db } from "../support/db";
import { latestCode } from "../support/mail";
import { call, freshIp, json } from "../support/worker";

/**
 * Issue 6: abuse resistance. Per-client rate limits (Workers Rate Limiting binding, simulated by
 * the test runtime with the numbers in wrangler.toml), per-account throttling in Postgres,
 * breached and common passwords, REGISTER_ENUMERATION_SAFE, the audit log, hardened responses.
 */

const [BREACHED, _BREACHED_ACCENTED] = inject("breachedPasswords");
const [_PADDING_ONLY] = inject("paddedPasswords");

const WRONG = "Wrong-Password-42x";
const rand = () => Math.floor(Math.random() * 0xffff).toString(16);

afterEach(() => {
  vi.restoreAllMocks();
});

describe("audit log", () => {
  it("records every auth event with user, IP, user agent, time, request id and outcome", async () => {
    const ua = `abuse-test/${rand()}`;
    const ip = freshIp();
    const h = { headers: { "user-agent": ua }, ip };
    const email = uniqueEmail("audit");
    const password = "Audit-Trail-Password-1";
    const reg = await json(await call("/auth/register", { body: { full_name: "Audit", email, password, role: "student" }, ...h }));
    const userId = reg.user.id as string;

    await loginAs(email, WRONG, h); // login_failed
    const login = await json(await loginAs(email, password, h)); // login_succeeded
    const r1 = await json(await call("/auth/refresh", { body: { refresh_token: login.refresh_token }, ...h })); // refreshed
    await call("/auth/refresh", { body: { refresh_token: r1.refresh_token }, ...h });
    await call("/auth/refresh", { body: { refresh_token: login.refresh_token }, ...h, env: { REFRESH_REUSE_GRACE: "0" } }); // reuse
    const fd = new FormData();
    fd.set("full_name", "Audit Renamed");
    expect((await call("/auth/update-profile", { method: "POST", body: fd, token: reg.access_token, ...h })).status).toBe(200);
    const changed = await json(
      await call("/auth/change-password", {
        token: reg.access_token,
        body: { current_password: password, new_password: "Audit-Changed-Password-2" },
        ...h,
      }),
    );
    expect((await call("/auth/logout", { method: "POST", token: changed.access_token, ...h })).status).toBe(200);
    await call("/auth/forgot-password", { body: { email }, ...h });
    const otp = await latestCode(email, /reset/);
    expect((await call("/auth/reset-password", { body: { email, otp, new_password: "Audit-Reset-Password-3" }, ...h })).status).toBe(200);
    // Throttled: a fake clock, five failures then an early attempt.
    const clock = fakeClock();
    for (let i = 0; i < 6; i++) await loginAs(email, WRONG, { ...h, now: clock.now });

    const rows = await auditRows(userId);
    const events = rows.map((r) => `${r.event}:${r.outcome}`);
    for (const e of [
      "registered:success",
      "login_failed:failure",
      "login_succeeded:success",
      "refreshed:success",
      "refresh_reuse_detected:blocked",
      "profile_updated:success",
      "password_changed:success",
      "logged_out:success",
      "reset_requested:success",
      "reset_completed:success",
    ])
      expect(events, e).toContain(e);
    for (const r of rows) {
      expect(r.ip).toBe(ip);
      expect(r.user_agent).toBe(ua);
      expect(r.request_id).toMatch(/^[0-9a-f-]{36}$/);
      expect(r.at).toBeInstanceOf(Date);
    }
    // Throttled attempts carry no user id (the account is not looked up): found by request.
    const sql = db();
    const throttled =
      await sql`select event, outcome, ip, user_agent from auth_audit_events where event = 'login_throttled' and user_agent = ${ua}`;
    const indexes = await sql`select indexdef from pg_indexes where tablename = 'auth_audit_events'`;
    await sql.end();
    expect(throttled).toEqual([{ event: "login_throttled", outcome: "blocked", ip, user_agent: ua }]);
    expect(indexes.map((i) => i.indexdef).join("\n")).toMatch(/\(user_id, "?at"?\)/);
  });

  it("no password, code or token anywhere in the audit table or the logs", async () => {
    const lines: string[] = [];
    const capture = (...args: unknown[]) => void lines.push(args.map(String).join(" "));
    for (const m of ["log", "info", "warn", "error", "debug"] as const) vi.spyOn(console, m).mockImplementation(capture);

    const secrets: string[] = [];
    const email = uniqueEmail("secrets");
    const pw1 = `Secret-One-${rand()}-Xq`;
    const pw2 = `Secret-Two-${rand()}-Xq`;
    const pw3 = `Secret-Three-${rand()}-Xq`;
    const wrong = `Secret-Wrong-${rand()}-Xq`;
    secrets.push(pw1, pw2, pw3, wrong, BREACHED);

    const reg = await json(await call("/auth/register", { body: { full_name: "S", email, password: pw1, role: "student" } }));
    await call("/auth/register", { body: { full_name: "S", email: uniqueEmail(), password: BREACHED, role: "student" } });
    await call("/auth/register", {
      body: { full_name: "S", email: uniqueEmail(), password: BREACHED, role: "student" },
      env: { PWNED_PASSWORDS_URL: "http://127.0.0.1:1" },
    });
    await loginAs(email, wrong);
    const login = await json(await loginAs(email, pw1));
    const r1 = await json(await call("/auth/refresh", { body: { refresh_token: login.refresh_token } }));
    const changed = await json(
      await call("/auth/change-password", { token: r1.access_token, body: { current_password: pw1, new_password: pw2 } }),
    );
    await call("/auth/forgot-password", { body: { email } });
    const otp = await latestCode(email, /reset/);
    await call("/auth/reset-password", { body: { email, otp: otp === "000000" ? "000001" : "000000", new_password: pw3 } }); // wrong code
    await call("/auth/reset-password", { body: { email, otp, new_password: pw3 } });
    secrets.push(reg.access_token, reg.refresh_token, login.access_token, login.refresh_token, r1.access_token, r1.refresh_token);
    secrets.push(changed.access_token, changed.refresh_token, otp);
    vi.restoreAllMocks();

    expect(lines.some((l) => l.includes('"msg":"request"'))).toBe(true);
    const sql = db();
    const [{ dump }] = await sql`select coalesce(string_agg(row_to_json(a)::text, E'\n'), '') as dump from auth_audit_events a`;
    await sql.end();
    expect(dump).toContain(reg.user.id);
    const logs = lines.join("\n");
    for (const s of secrets) {
      expect(dump.includes(s), `audit table holds a secret`).toBe(false);
      expect(logs.includes(s), `logs hold a secret`).toBe(false);
    }
    // The code as a standalone 6-digit value (it might otherwise appear inside a uuid or time).
    expect(new RegExp(`(^|[^0-9a-f])${otp}([^0-9a-f]|$)`).test(dump)).toBe(false);
  });

  it("one JSON log line per request with method, route, status, duration and the X-Request-Id", async () => {
    const lines: string[] = [];
    vi.spyOn(console, "log").mockImplementation((...a: unknown[]) => void lines.push(a.map(String).join(" ")));
    const res = await loginAs(uniqueEmail("log"), WRONG);
    vi.restoreAllMocks();
    const id = res.headers.get("X-Request-Id");
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    const mine = lines.map((l) => JSON.parse(l)).filter((l) => l.msg === "request" && l.requestId === id);
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatchObject({ level: "info", method: "POST", route: "/auth/login", status: 401 });
    expect(typeof mine[0].durationMs).toBe("number");
  });
});

describe("request ids", () => {
  it("are generated by the server: a client's X-Request-Id never reaches the audit table, only a separate, capped log field", async () => {
    const lines: string[] = [];
    vi.spyOn(console, "log").mockImplementation((...a: unknown[]) => void lines.push(a.map(String).join(" ")));
    const forged = "00000000-0000-4000-8000-000000000000";
    // A successful request gets its line only when REQUEST_LOG asks for every request.
    const u = await registerUser({}, { headers: { "x-request-id": forged }, env: { REQUEST_LOG: "all" } });
    const long = await loginAs(u.email, WRONG, { headers: { "x-request-id": "x".repeat(500) } });
    vi.restoreAllMocks();
    const rows = await auditRows(u.user.id);
    expect(rows.length).toBeGreaterThanOrEqual(2);
    for (const r of rows) {
      expect(r.request_id).toMatch(/^[0-9a-f-]{36}$/);
      expect(r.request_id).not.toBe(forged);
    }
    const logged = lines.map((l) => JSON.parse(l)).filter((l) => l.msg === "request");
    const registered = logged.find((l) => l.route === "/auth/register" && l.clientRequestId === forged);
    expect(registered).toBeDefined();
    expect(registered.requestId).not.toBe(forged);
    // An over-long client id is dropped from the log, and never echoed back.
    const longLine = logged.find((l) => l.requestId === long.headers.get("x-request-id"));
    expect(longLine).toBeDefined();
    expect(longLine.clientRequestId).toBeUndefined();
    expect(long.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
  });
});
