import { afterEach, describe, expect, inject, it, vi } from "vitest";
import { ipKey } from "../src/middleware/rate-limit";
import { call, db, fakeClock, freshIp, json, PASSWORD, registerUser, uniqueEmail } from "./helpers";

/**
 * Issue 6: abuse resistance. Per-client rate limits (Workers Rate Limiting binding, simulated by
 * the test runtime with the numbers in wrangler.toml), per-account throttling in Postgres,
 * breached and common passwords, REGISTER_ENUMERATION_SAFE, the audit log, hardened responses.
 */

const limits = inject("rateLimits");
const pwnedUrl = inject("pwnedUrl");
const mailUrl = inject("mailUrl");
const [BREACHED, BREACHED_ACCENTED] = inject("breachedPasswords");
const [PADDING_ONLY] = inject("paddedPasswords");

const WRONG = "Wrong-Password-42x";
const rand = () => Math.floor(Math.random() * 0xffff).toString(16);

afterEach(() => {
  vi.restoreAllMocks();
});

/**
 * The simulated limiter counts in wall-clock windows (like the real one, approximately). A burst
 * that straddles a window boundary would see a reset counter, so it is run again, once, with
 * fresh keys: two boundaries cannot fall inside one burst.
 */
async function inOneWindow<T>(period: number, burst: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    const before = Math.floor(Date.now() / (period * 1000));
    const result = await burst();
    const after = Math.floor(Date.now() / (period * 1000));
    if (before === after || attempt === 1) return result;
  }
}

const loginAs = (email: string, password: string, opts: Parameters<typeof call>[1] = {}) =>
  call("/auth/login", { body: { email, password }, ...opts });

async function auditRows(userId: string) {
  const sql = db();
  const rows = await sql`select event, outcome, user_id, ip, user_agent, request_id, at, detail
                         from auth_audit_events where user_id = ${userId} order by id`;
  await sql.end();
  return rows;
}

async function inbox(to: string): Promise<{ subject: string; text: string }[]> {
  const res = await fetch(`${mailUrl}/emails?to=${encodeURIComponent(to)}`);
  return ((await res.json()) as { data: { subject: string; text: string }[] }).data;
}

async function resetCodeFor(email: string): Promise<string> {
  const [latest] = await inbox(email);
  const m = /reset code is: (\d{6})/.exec(latest?.text ?? "");
  if (!m) throw new Error(`no reset code mailed to ${email}`);
  return m[1];
}

async function sha1Hex(text: string): Promise<string> {
  const d = await crypto.subtle.digest("SHA-1", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(d), (b) => b.toString(16).padStart(2, "0"))
    .join("")
    .toUpperCase();
}

describe("per-client rate limits", () => {
  it("the login limit answers 429 with Retry-After after the configured count", async () => {
    const { limit, period } = limits.RL_LOGIN;
    expect(limit).toBeGreaterThan(0);
    const statuses = await inOneWindow(period, async () => {
      const ip = freshIp();
      const out: Response[] = [];
      // Distinct unknown emails: the per-account throttle never engages, only the per-IP limit.
      for (let i = 0; i <= limit; i++) out.push(await loginAs(uniqueEmail("rl"), WRONG, { ip }));
      return out;
    });
    expect(statuses.slice(0, limit).map((r) => r.status)).toEqual(Array(limit).fill(401));
    const over = statuses[limit];
    expect(over.status).toBe(429);
    const retryAfter = Number(over.headers.get("Retry-After"));
    expect(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= period).toBe(true);
    expect(await json(over)).toEqual({
      status: "error",
      code: "too_many_requests",
      message: "Too many requests. Please slow down and try again shortly.",
    });
    // Another client is not affected.
    expect((await loginAs(uniqueEmail("rl"), WRONG)).status).toBe(401);
  });

  it("changing X-Forwarded-For (or X-Real-IP) does not reset the key: only CF-Connecting-IP counts", async () => {
    const { limit, period } = limits.RL_LOGIN;
    const last = await inOneWindow(period, async () => {
      const ip = freshIp();
      const spoof = (i: number) => ({ "x-forwarded-for": `203.0.113.${i % 250}`, "x-real-ip": `198.51.100.${i % 250}` });
      for (let i = 0; i < limit; i++) {
        const r = await call("/auth/login", { body: {}, ip, headers: spoof(i) });
        if (r.status === 429) return { early: i };
      }
      return { res: await call("/auth/login", { body: {}, ip, headers: spoof(999) }) };
    });
    expect("early" in last).toBe(false);
    expect(last.res!.status).toBe(429);
    expect(last.res!.headers.get("Retry-After")).toMatch(/^\d+$/);
  });

  it("IPv6 addresses in one /64 share a limit; another /64 does not", async () => {
    const { limit, period } = limits.RL_REGISTER;
    const result = await inOneWindow(period, async () => {
      const net = `2001:db8:${rand()}:${rand()}`;
      const other = `2001:db8:${rand()}:${rand()}`;
      const statuses: number[] = [];
      // Different interface ids, and one written out in full upper case.
      for (let i = 0; i < limit; i++) {
        const ip = i === 0 ? `${net.toUpperCase()}:0:0:0:1` : `${net}::${(i + 1).toString(16)}:${rand()}`;
        statuses.push((await call("/auth/register", { body: {}, ip })).status);
      }
      const sameNet = await call("/auth/register", { body: {}, ip: `${net}:ffff:ffff:ffff:fffe` });
      const otherNet = await call("/auth/register", { body: {}, ip: `${other}::1` });
      return { statuses, sameNet: sameNet.status, otherNet: otherNet.status };
    });
    expect(result.statuses).toEqual(Array(limit).fill(400)); // counted, then refused by validation
    expect(result.sameNet).toBe(429);
    expect(result.otherNet).toBe(400);
  });

  it("keys: IPv4 as is, IPv6 by /64 in any spelling, IPv4-mapped IPv6 as its IPv4", () => {
    expect(ipKey("192.0.2.7")).toBe("192.0.2.7");
    expect(ipKey("2001:db8:a:b::1")).toBe("2001:db8:a:b::/64");
    expect(ipKey("2001:0DB8:000A:000B:1:2:3:4")).toBe("2001:db8:a:b::/64");
    expect(ipKey("2001:db8:a:c::1")).not.toBe(ipKey("2001:db8:a:b::1"));
    expect(ipKey("::1")).toBe("0:0:0:0::/64");
    expect(ipKey("::ffff:192.0.2.7")).toBe("192.0.2.7");
    expect(ipKey("::ffff:192.0.2.8")).not.toBe(ipKey("::ffff:192.0.2.7"));
  });

  it("limits are separate per endpoint: an exhausted register limit leaves login open", async () => {
    const { limit, period } = limits.RL_REGISTER;
    const r = await inOneWindow(period, async () => {
      const ip = freshIp();
      for (let i = 0; i < limit; i++) await call("/auth/register", { body: {}, ip });
      return {
        register: (await call("/auth/register", { body: {}, ip })).status,
        login: (await call("/auth/login", { body: {}, ip })).status,
      };
    });
    expect(r).toEqual({ register: 429, login: 400 });
  });
});

describe("per-account login throttling", () => {
  it("6 failed logins: the next attempt from another IP is throttled; the owner logs in once the delay passes; a success resets it", async () => {
    const u = await registerUser();
    const clock = fakeClock();
    const at = { now: clock.now };
    // Four free failures, then a delay of 1 s after the 5th and 2 s after the 6th (each from a new IP).
    for (let i = 0; i < 5; i++) expect((await loginAs(u.email, WRONG, at)).status).toBe(401);
    const early = await loginAs(u.email, WRONG, at);
    expect(early.status).toBe(429);
    expect(early.headers.get("Retry-After")).toBe("1");
    clock.advance(1000);
    expect((await loginAs(u.email, WRONG, at)).status).toBe(401); // 6th failure

    // The real owner, from yet another IP, with the right password: throttled for the current delay only.
    const blocked = await loginAs(u.email, u.password, at);
    expect(blocked.status).toBe(429);
    expect(blocked.headers.get("Retry-After")).toBe("2");
    expect(await json(blocked)).toMatchObject({ status: "error", code: "too_many_requests" });
    // Attempts during the delay do not extend it.
    clock.advance(1000);
    for (let i = 0; i < 3; i++) expect((await loginAs(u.email, WRONG, at)).status).toBe(429);
    clock.advance(1000);
    const ok = await loginAs(u.email, u.password, at);
    expect(ok.status).toBe(200);

    // The success reset the count: four free failures again, all at the same instant.
    for (let i = 0; i < 5; i++) expect((await loginAs(u.email, WRONG, at)).status).toBe(401);
    expect((await loginAs(u.email, WRONG, at)).status).toBe(429);
  });

  it("delays double from 1 s and are capped; after 100 consecutive failures only a password reset lets the owner in", async () => {
    const u = await registerUser();
    const clock = fakeClock();
    const at = { now: clock.now };
    const retryAfters: Record<number, number> = {};
    for (let failure = 1; failure <= 100; failure++) {
      const r = await loginAs(u.email, WRONG, at);
      expect(r.status, `failure ${failure}`).toBe(401);
      if ([5, 6, 7, 14, 15, 16, 99].includes(failure)) {
        const next = await loginAs(u.email, WRONG, at);
        retryAfters[failure] = next.status === 429 ? Number(next.headers.get("Retry-After")) : 0;
      }
      clock.advance(15 * 60 * 1000 + 1000); // past the longest delay
    }
    expect(retryAfters).toEqual({ 5: 1, 6: 2, 7: 4, 14: 512, 15: 900, 16: 900, 99: 900 });

    // Locked: the right password, from another IP, a day later, still answers 403.
    clock.advance(24 * 3600 * 1000);
    const locked = await loginAs(u.email, u.password, at);
    expect(locked.status).toBe(403);
    expect(await json(locked)).toEqual({
      status: "error",
      code: "password_reset_required",
      message: "This account is locked after too many failed attempts. Reset your password to log in again.",
    });

    // A password reset clears the lock.
    expect((await call("/auth/forgot-password", { body: { email: u.email } })).status).toBe(200);
    const otp = await resetCodeFor(u.email);
    const newPassword = "Fresh-Start-After-Lockout-7";
    const reset = await call("/auth/reset-password", { body: { email: u.email, otp, new_password: newPassword } });
    expect(reset.status).toBe(200);
    expect((await loginAs(u.email, newPassword, at)).status).toBe(200);
  });

  it("an unknown email is throttled exactly like a known one (status, body, Retry-After)", async () => {
    const u = await registerUser();
    const unknown = uniqueEmail("ghost");
    const trace = async (email: string) => {
      const clock = fakeClock(Date.UTC(2030, 0, 1));
      const steps: string[] = [];
      const step = async () => {
        const r = await loginAs(email, WRONG, { now: clock.now });
        steps.push(`${r.status} ${r.headers.get("Retry-After")} ${await r.text()}`);
      };
      for (let i = 0; i < 6; i++) await step();
      clock.advance(1000);
      await step();
      await step();
      clock.advance(2000);
      await step();
      return steps;
    };
    const known = await trace(u.email);
    expect(known.map((s) => s.slice(0, 3))).toEqual(["401", "401", "401", "401", "401", "429", "401", "429", "401"]);
    expect(await trace(unknown)).toEqual(known);
  });
});

describe("breached and common passwords", () => {
  const register = (password: string, opts: Parameters<typeof call>[1] = {}) =>
    call("/auth/register", { body: { full_name: "P", email: uniqueEmail("pw"), password, role: "student" }, ...opts });

  it("refuses a breached password via the local range API, sending only a 5-character prefix with Add-Padding", async () => {
    const before = ((await (await fetch(`${pwnedUrl}/__requests`)).json()) as unknown[]).length;
    const res = await register(BREACHED);
    expect(res.status).toBe(400);
    const body = await json(res);
    expect(body).toMatchObject({ status: "error", code: "password_breached" });
    expect(body.message).toMatch(/known data breach/);
    expect(body.issues).toEqual([{ path: "password", message: body.message }]);

    const requests = (await (await fetch(`${pwnedUrl}/__requests`)).json()) as { path: string; addPadding: boolean }[];
    const mine = requests.slice(before);
    const prefix = (await sha1Hex(BREACHED)).slice(0, 5);
    expect(mine).toEqual([{ path: `/range/${prefix}`, addPadding: true }]);

    // The server's answer really carries padding lines (count 0) among the real ones.
    const answer = await (await fetch(`${pwnedUrl}/range/${prefix}`, { headers: { "Add-Padding": "true" } })).text();
    const lines = answer.split("\r\n");
    expect(lines.some((l) => /^[0-9A-F]{35}:0$/.test(l))).toBe(true);
    expect(lines).toContain(`${(await sha1Hex(BREACHED)).slice(5)}:1000`);
  });

  it("normalises (NFKC) before hashing: a decomposed spelling of a breached password is refused too", async () => {
    const decomposed = BREACHED_ACCENTED.normalize("NFD");
    expect(decomposed).not.toBe(BREACHED_ACCENTED);
    const res = await register(decomposed);
    expect(res.status).toBe(400);
    expect((await json(res)).code).toBe("password_breached");
  });

  it("a password that appears only on a padding line (count 0) is accepted", async () => {
    const hash = await sha1Hex(PADDING_ONLY);
    const answer = await (await fetch(`${pwnedUrl}/range/${hash.slice(0, 5)}`, { headers: { "Add-Padding": "true" } })).text();
    expect(answer.split("\r\n")).toContain(`${hash.slice(5)}:0`);
    expect((await register(PADDING_ONLY)).status).toBe(201);
  });

  it("refuses breached passwords at change-password and reset-password as well", async () => {
    const u = await registerUser();
    const change = await call("/auth/change-password", {
      token: u.access_token,
      body: { current_password: u.password, new_password: BREACHED },
    });
    expect(change.status).toBe(400);
    expect(await json(change)).toMatchObject({ code: "password_breached", issues: [{ path: "new_password" }] });

    expect((await call("/auth/forgot-password", { body: { email: u.email } })).status).toBe(200);
    const otp = await resetCodeFor(u.email);
    const reset = await call("/auth/reset-password", { body: { email: u.email, otp, new_password: BREACHED } });
    expect(reset.status).toBe(400);
    expect((await json(reset)).code).toBe("password_breached");
    // The password was not changed by either.
    expect((await loginAs(u.email, u.password)).status).toBe(200);
  });

  it("fail-open (the default): a breached password is accepted when the range server is down or answers an error", async () => {
    for (const url of ["http://127.0.0.1:1", `${pwnedUrl}/not-the-api`]) {
      const res = await register(BREACHED, { env: { PWNED_PASSWORDS_URL: url } });
      expect(res.status, url).toBe(201);
    }
  });

  it("fail-closed: refused with 503 and Retry-After when the range server is down; a clean password passes when it is up", async () => {
    const down = await register("Unlisted-Long-Passphrase-8", {
      env: { PWNED_PASSWORDS_URL: "http://127.0.0.1:1", BREACHED_PASSWORD_CHECK: "fail-closed" },
    });
    expect(down.status).toBe(503);
    expect(down.headers.get("Retry-After")).toMatch(/^\d+$/);
    expect(await json(down)).toMatchObject({ status: "error", code: "password_check_unavailable" });

    const up = await register("Unlisted-Long-Passphrase-8", { env: { BREACHED_PASSWORD_CHECK: "fail-closed" } });
    expect(up.status).toBe(201);
    const breached = await register(BREACHED, { env: { BREACHED_PASSWORD_CHECK: "fail-closed" } });
    expect((await json(breached)).code).toBe("password_breached");
  });

  it("off: the range API is not asked at all", async () => {
    const count = async () => ((await (await fetch(`${pwnedUrl}/__requests`)).json()) as unknown[]).length;
    const before = await count();
    expect((await register(BREACHED, { env: { BREACHED_PASSWORD_CHECK: "off" } })).status).toBe(201);
    expect(await count()).toBe(before);
  });

  it("refuses a common password with no network (check off, or range server unreachable and fail-closed), in any letter case", async () => {
    const count = async () => ((await (await fetch(`${pwnedUrl}/__requests`)).json()) as unknown[]).length;
    const before = await count();
    for (const [password, env] of [
      ["baseball", { BREACHED_PASSWORD_CHECK: "off" }],
      ["Password123", { BREACHED_PASSWORD_CHECK: "off" }],
      ["QWERTY123", { PWNED_PASSWORDS_URL: "http://127.0.0.1:1", BREACHED_PASSWORD_CHECK: "fail-closed" }],
      ["p@ssw0rd", {}],
    ] as const) {
      const res = await register(password, { env });
      expect(res.status, password).toBe(400);
      const body = await json(res);
      expect(body, password).toMatchObject({ status: "error", code: "password_too_common", issues: [{ path: "password" }] });
      expect(body.message).toMatch(/most common passwords/);
    }
    expect(await count()).toBe(before); // no network: the offline list answered first
  });

  it("refuses a common password at change-password", async () => {
    const u = await registerUser();
    const res = await call("/auth/change-password", {
      token: u.access_token,
      body: { current_password: u.password, new_password: "Iloveyou1" },
      env: { BREACHED_PASSWORD_CHECK: "off" },
    });
    expect(res.status).toBe(400);
    expect(await json(res)).toMatchObject({ code: "password_too_common", issues: [{ path: "new_password" }] });
  });
});

describe("REGISTER_ENUMERATION_SAFE", () => {
  const safe = { REGISTER_ENUMERATION_SAFE: "true" };

  it("off (default): a taken email answers 409", async () => {
    const u = await registerUser();
    const res = await call("/auth/register", { body: { full_name: "X", email: u.email, password: PASSWORD, role: "student" } });
    expect(res.status).toBe(409);
    expect((await json(res)).code).toBe("email_taken");
  });

  it("on: a new and a taken email get byte-identical 202 answers without tokens; the owner is emailed; the new account logs in", async () => {
    const owner = await registerUser();
    const fresh = uniqueEmail("safe");
    const attackerPassword = "Attacker-Chosen-Passw0rd";
    const taken = await call("/auth/register", {
      body: { full_name: "Mallory", email: owner.email, password: attackerPassword, role: "student" },
      env: safe,
    });
    const created = await call("/auth/register", {
      body: { full_name: "Newcomer", email: fresh, password: attackerPassword, role: "student" },
      env: safe,
    });
    expect(taken.status).toBe(202);
    expect(created.status).toBe(202);
    const [a, b] = [await taken.text(), await created.text()];
    expect(a).toBe(b);
    expect(JSON.parse(a)).toEqual({ status: "success", message: expect.stringMatching(/log in/) });
    expect(a).not.toMatch(/token/);

    // The owner is told by mail; the newcomer is not mailed about a taken address.
    const mails = await inbox(owner.email);
    expect(mails.some((m) => /tried to create/.test(m.subject))).toBe(true);
    expect((await inbox(fresh)).length).toBe(0);

    // The owner's account is untouched; the new account works with POST /login.
    expect((await loginAs(owner.email, owner.password)).status).toBe(200);
    expect((await loginAs(owner.email, attackerPassword)).status).toBe(401);
    expect((await loginAs(fresh, attackerPassword)).status).toBe(200);

    const rows = await auditRows(owner.user.id);
    expect(rows.map((r) => `${r.event}:${r.outcome}:${r.detail?.reason ?? ""}`)).toContain("registered:failure:email_taken");
  });
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
    const otp = await resetCodeFor(email);
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
    const otp = await resetCodeFor(email);
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

describe("hardened responses", () => {
  const origins = { CORS_ORIGINS: "https://app.example.com, https://admin.example.com" };

  it("CORS allows a listed origin and refuses another", async () => {
    const preflight = (origin: string) =>
      call("/auth/login", {
        method: "OPTIONS",
        env: origins,
        headers: { origin, "access-control-request-method": "POST", "access-control-request-headers": "content-type" },
      });
    const ok = await preflight("https://app.example.com");
    expect(ok.status).toBe(204);
    expect(ok.headers.get("Access-Control-Allow-Origin")).toBe("https://app.example.com");
    expect(ok.headers.get("Access-Control-Allow-Methods")).toContain("POST");
    expect(ok.headers.get("Vary")).toMatch(/Origin/i);
    const bad = await preflight("https://evil.example.net");
    expect(bad.headers.get("Access-Control-Allow-Origin")).toBeNull();

    const simple = await call("/auth/login", {
      body: { email: uniqueEmail(), password: WRONG },
      env: origins,
      headers: { origin: "https://admin.example.com" },
    });
    expect(simple.headers.get("Access-Control-Allow-Origin")).toBe("https://admin.example.com");
    expect(simple.headers.get("Access-Control-Expose-Headers")).toMatch(/Retry-After/);
    const other = await call("/auth/login", {
      body: { email: uniqueEmail(), password: WRONG },
      env: origins,
      headers: { origin: "https://evil.example.net" },
    });
    expect(other.headers.get("Access-Control-Allow-Origin")).toBeNull();
    // A request without Origin (not a browser's cross-origin request) gets no CORS headers, only Vary.
    const plain = await call("/health/live", { env: origins });
    expect([...plain.headers.keys()].filter((k) => k.startsWith("access-control-"))).toEqual([]);
    expect(plain.headers.get("Vary")).toMatch(/Origin/i);
    // With no CORS_ORIGINS, no origin is allowed.
    const none = await call("/auth/login", { body: {}, headers: { origin: "https://app.example.com" } });
    expect(none.headers.get("Access-Control-Allow-Origin")).toBeNull();
  });

  it("security headers, no-store and X-Request-Id on every response, including errors", async () => {
    const u = await registerUser();
    const rl = limits.RL_REGISTER;
    const cases: [string, Promise<Response>][] = [
      ["200 login", loginAs(u.email, u.password)],
      ["201 register", call("/auth/register", { body: { full_name: "H", email: uniqueEmail(), password: PASSWORD, role: "student" } })],
      ["200 health", call("/health")],
      ["400 validation", call("/auth/login", { body: {} })],
      ["400 malformed json", call("/auth/login", { body: "{not json", headers: { "content-type": "application/json" } })],
      ["401 credentials", loginAs(u.email, WRONG)],
      ["401 no token", call("/auth/me")],
      ["404 route", call("/auth/nope")],
      ["405 method", call("/auth/login", { method: "GET" })],
      ["415 content type", call("/auth/login", { body: "x", headers: { "content-type": "text/plain" } })],
      [
        "503 breach check",
        call("/auth/register", {
          body: { full_name: "H", email: uniqueEmail(), password: "Unlisted-Long-Passphrase-9", role: "student" },
          env: { PWNED_PASSWORDS_URL: "http://127.0.0.1:1", BREACHED_PASSWORD_CHECK: "fail-closed" },
        }),
      ],
      ["500 misconfigured", call("/auth/login", { body: {}, env: { ENVIRONMENT: "production", AUTH_SECRET: "" } })],
    ];
    const tooMany = await inOneWindow(rl.period, async () => {
      const ip = freshIp();
      let last: Response | undefined;
      for (let i = 0; i <= rl.limit; i++) last = await call("/auth/register", { body: {}, ip });
      return last!;
    });
    const all: [string, Response][] = [
      ...(await Promise.all(cases.map(async ([n, p]) => [n, await p] as [string, Response]))),
      ["429 rate limit", tooMany],
    ];
    for (const [name, res] of all) {
      expect(String(res.status), name).toBe(name.slice(0, 3));
      expect(res.headers.get("X-Content-Type-Options"), name).toBe("nosniff");
      expect(res.headers.get("Referrer-Policy"), name).toBe("no-referrer");
      expect(res.headers.get("X-Frame-Options"), name).toBe("DENY");
      expect(res.headers.get("Strict-Transport-Security"), name).toMatch(/max-age=\d+/);
      expect(res.headers.get("Cache-Control"), name).toBe("no-store");
      expect(res.headers.get("X-Request-Id"), name).toMatch(/^[0-9a-f-]{36}$/);
      expect(res.headers.get("Content-Type"), name).toMatch(/^application\/json/);
      const body = await json(res);
      if (res.status >= 400) expect(body, name).toMatchObject({ status: "error", code: expect.any(String), message: expect.any(String) });
    }
  });
});
