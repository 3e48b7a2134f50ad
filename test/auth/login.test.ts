import { afterEach, describe, expect, inject, it, vi } from "vitest";
import { loginAs, registerUser, uniqueEmail } from "../support/accounts";
import { fakeClock } from "../support/clock";
import { latestCode } from "../support/mail";
import { call, json } from "../support/worker";

/**
 * Issue 6: abuse resistance. Per-client rate limits (Workers Rate Limiting binding, simulated by
 * the test runtime with the numbers in wrangler.toml), per-account throttling in Postgres,
 * breached and common passwords, REGISTER_ENUMERATION_SAFE, the audit log, hardened responses.
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
