import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../context";
import { apiError } from "../errors";
import { log } from "../log";

/**
 * Per-client limits with the Workers Rate Limiting binding, keyed by the client address of the
 * request (src/middleware/client-address.ts: CF-Connecting-IP, or a trusted gateway's
 * X-Client-IP; X-Forwarded-For is set by clients and never trusted). IPv6 addresses share a
 * limit per /64.
 *
 * The registry: each limit's binding name and period. The bindings themselves (limit, period,
 * namespace) are declared in wrangler.toml [[ratelimits]]; test/node/docs.test.ts checks the two
 * agree and that docs/abuse.md has a row for each. A new limit is a line here, a block there and
 * a row in the docs.
 */
export const RATE_LIMITS = {
  RL_LOGIN: { period: 60 },
  RL_REGISTER: { period: 60 },
  RL_PASSWORD_RESET: { period: 60 },
  RL_EMAIL_CODES: { period: 60 },
  RL_REFRESH: { period: 60 },
  RL_DEFAULT: { period: 60 },
  RL_SERVICE: { period: 60 },
} as const satisfies Record<string, { period: 10 | 60 }>;

export type LimitName = keyof typeof RATE_LIMITS;

/**
 * Normalise an address into its rate-limit key: IPv4 as is, IPv6 truncated to its /64 (one
 * subscriber usually gets a whole /64), IPv4-mapped IPv6 (::ffff:a.b.c.d) as its IPv4.
 */
export function ipKey(ip: string): string {
  if (!ip.includes(":")) return ip;
  const mapped = /^(?:0{0,4}:){0,5}:?ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(ip);
  if (mapped) return mapped[1];
  const [head, tail = ""] = ip.toLowerCase().split("%")[0].split("::");
  const h = head ? head.split(":") : [];
  const t = tail ? tail.split(":") : [];
  if (t.length && t[t.length - 1].includes(".")) t.splice(t.length - 1, 1, "0", "0");
  const full = ip.includes("::") ? [...h, ...Array(Math.max(0, 8 - h.length - t.length)).fill("0"), ...t] : h;
  return `${full
    .slice(0, 4)
    .map((g) => (parseInt(g || "0", 16) || 0).toString(16))
    .join(":")}::/64`;
}

let warnedNoIp = false;
const warnedNoBinding = new Set<string>();

export function rateLimit(name: LimitName): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const limiter = c.env[name] as RateLimit | undefined;
    if (!limiter && !warnedNoBinding.has(name)) {
      warnedNoBinding.add(name);
      log("warn", `rate limit binding ${name} is missing: requests are not limited (declare it in wrangler.toml)`);
    }
    if (limiter) {
      const { ip } = c.get("meta");
      if (!ip && !warnedNoIp) {
        warnedNoIp = true;
        log("warn", "request without CF-Connecting-IP: rate limited under the shared key 'unknown'");
      }
      const key = `${name}:${ip ? ipKey(ip) : "unknown"}`;
      const { success } = await limiter.limit({ key });
      if (!success) throw apiError("too_many_requests", { retryAfter: RATE_LIMITS[name].period });
    }
    await next();
  };
}
