import { afterEach, describe, expect, inject, it, vi } from "vitest";
import { ipKey } from "../../src/middleware/rate-limit";
import { loginAs, uniqueEmail } from "../support/accounts";
import { inOneWindow } from "../support/limits";
import { call, freshIp, json } from "../support/worker";

/**
 * Issue 6: abuse resistance. Per-client rate limits (Workers Rate Limiting binding, simulated by
 * the test runtime with the numbers in wrangler.toml), per-account throttling in Postgres,
 * breached and common passwords, REGISTER_ENUMERATION_SAFE, the audit log, hardened responses.
 */

const limits = inject("rateLimits");
const [_BREACHED, _BREACHED_ACCENTED] = inject("breachedPasswords");
const [_PADDING_ONLY] = inject("paddedPasswords");

const WRONG = "Wrong-Password-42x";
const rand = () => Math.floor(Math.random() * 0xffff).toString(16);

afterEach(() => {
  vi.restoreAllMocks();
});

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
