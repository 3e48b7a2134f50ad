import { afterEach, describe, expect, inject, it, vi } from "vitest";
import { loginAs, loginFailures, registerUser, uniqueEmail } from "../../support/accounts";
import { fakeClock } from "../../support/clock";
import { auditRows, db, untilBlocked } from "../../support/db";
import { latestCode } from "../../support/mail";
import { mfaAccount, mfaToken } from "../../support/mfa";
import { call, json, recordStatements } from "../../support/worker";

/**
 * Per-account login throttling (src/auth/throttle.ts, src/auth/password/confirm.ts): the attempt is reserved
 * before any hash runs, so bursts count at most what the gate let through; and sessions start only
 * on credentials that are still current (src/auth/sessions/sessions.ts startSession).
 */

const [_BREACHED, _BREACHED_ACCENTED] = inject("breachedPasswords");
const [_PADDING_ONLY] = inject("paddedPasswords");

const WRONG = "Wrong-Password-42x";

afterEach(() => {
  vi.restoreAllMocks();
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
    const otp = await latestCode(u.email, /reset/);
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

describe("login throttle under bursts", () => {
  it("100 wrong passwords in flight at once count at most 5 failures; the owner's password works after the delay, without a reset", async () => {
    const clock = fakeClock();
    const u = await registerUser();
    const answers = await Promise.all(
      Array.from({ length: 100 }, (_, i) => loginAs(u.email, `Wrong-Burst-${i}-Password`, { now: clock.now })),
    );
    const statuses = answers.map((a) => a.status);
    expect(statuses.filter((s) => s === 401).length).toBeLessThanOrEqual(5);
    expect(statuses.filter((s) => s !== 401 && s !== 429)).toEqual([]);
    expect(await loginFailures(u.email)).toBeLessThanOrEqual(5);
    // Far from the hard lock: after the 1 s delay the owner simply logs in.
    expect((await loginAs(u.email, u.password, { now: clock.now })).status).toBe(429);
    clock.advance(1000);
    expect((await loginAs(u.email, u.password, { now: clock.now })).status).toBe(200);
    expect(await loginFailures(u.email)).toBe(0);
  });
});

describe("a login's statements", () => {
  it("two: the reservation, then the session with its audit row and the cleared throttle", async () => {
    const u = await registerUser();
    expect((await loginAs(u.email, "Wrong-Password-Once-1")).status).toBe(401);
    expect(await loginFailures(u.email)).toBe(1);
    let res: Response | undefined;
    const statements = await recordStatements(async () => {
      res = await loginAs(u.email, u.password);
    });
    expect(res?.status).toBe(200);
    expect(statements).toHaveLength(2);
    expect(statements[1]).toMatch(/insert into "auth_sessions"/);
    expect(statements[1]).toMatch(/insert into "auth_audit_events"/);
    expect(statements[1]).toMatch(/delete from "auth_throttles"/);
    expect(await loginFailures(u.email)).toBe(0);
    const rows = (await auditRows(u.user.id)).filter((r) => r.event === "login_succeeded");
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ outcome: "success", detail: { method: "password", amr: "pwd" } });
    expect(rows[0].request_id).toEqual(expect.any(String));
  });

  it("no session, no success row: a login that must prove a second factor writes none, and still clears the throttle", async () => {
    const clock = fakeClock();
    const { user } = await mfaAccount(clock);
    const before = (await auditRows(user.user.id)).filter((r) => r.event === "login_succeeded").length;
    expect((await loginAs(user.email, "Wrong-Password-Once-1", { now: clock.now })).status).toBe(401);
    await mfaToken(user.email, clock);
    expect(await loginFailures(user.email)).toBe(0);
    const rows = await auditRows(user.user.id);
    expect(rows.filter((r) => r.event === "login_succeeded")).toHaveLength(before);
    expect(rows.at(-1)?.event).toBe("mfa_challenge_issued");
  });
});

describe("credential changes win races", () => {
  it("a login that verified the old password while a reset was committing gets 401 and no session", async () => {
    const u = await registerUser();
    await call("/auth/forgot-password", { body: { email: u.email } });
    const otp = await latestCode(u.email, /reset/);
    const sql = db();
    const watch = db();
    try {
      // Hold the account's session rows: the reset will update the users row and then wait here,
      // inside its transaction, to end the sessions.
      const held = sql.begin(async (tx) => {
        await tx`select id from auth_sessions where user_id = ${u.user.id} for update`;
        await untilBlocked(watch, "%auth_sessions%revoked%");
        // The reset holds the users row now. A login with the old password reads the committed
        // (old) hash, verifies it, and its session insert waits for the reset's row lock.
        await untilBlocked(watch, "%for share%", 1);
      });
      const resetting = call("/auth/reset-password", { body: { email: u.email, otp, new_password: "After-The-Reset-Pw1!" } });
      const loginAfterReset = (async () => {
        await untilBlocked(watch, "%auth_sessions%revoked%");
        return loginAs(u.email, u.password);
      })();
      await held;
      const [reset, login] = await Promise.all([resetting, loginAfterReset]);
      expect(reset.status).toBe(200);
      expect(login.status).toBe(401);
      expect((await json(login)).code).toBe("invalid_credentials");
      const live = await sql`select id from auth_sessions where user_id = ${u.user.id} and revoked_at is null`;
      expect(live).toEqual([]);
      expect((await loginAs(u.email, "After-The-Reset-Pw1!")).status).toBe(200);
    } finally {
      await sql.end();
      await watch.end();
    }
  });
});
