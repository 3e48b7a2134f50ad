// The peer's better-auth configuration, shared by the Worker (worker.mjs) and the migrator
// (migrate.mjs), so the schema the migrator creates is exactly the one the Worker queries.
//
// Everything is better-auth's default except what the bench needs, each said below:
//   - email + password on, with its own default hash (scrypt N=2^14, r=16, p=1, 64-byte key,
//     through node:crypto, which workerd runs natively: @better-auth/utils/password);
//   - PostgreSQL through node-postgres (pg), better-auth's built-in Postgres path: it wraps a
//     pg Pool in Kysely's PostgresDialect and runs sign-up's writes in a transaction;
//   - its rate limiter off unless asked for (rateLimitOptions);
//   - telemetry off (no outgoing requests from the bench).

/**
 * pg Pool options for a pool that lives one request: Hyperdrive pools the real connections, so
 * one connection per request, as our Worker does (src/db/client.ts).
 */
export const POOL_OPTIONS = { max: 1 };

/**
 * better-auth's rate limiter. "off" (the default here, and better-auth's own default wherever
 * NODE_ENV is not "production", which includes Workers unless it is set): the bench's load must
 * not be throttled. "per-ip": better-auth's production defaults (100 requests per 10 s per
 * address and path, 3 per 10 s on sign-in, in isolate memory), keyed by CF-Connecting-IP as its
 * Cloudflare guide says; the bench gives each request its own CF-Connecting-IP, as it does for
 * our Worker's Rate Limiting bindings, so the limiter runs but never refuses.
 */
export function rateLimitOptions(mode = "off") {
  if (mode === "off") return { enabled: false };
  if (mode === "per-ip") return { enabled: true };
  throw new Error(`unknown rate limit mode ${JSON.stringify(mode)} (use "off" or "per-ip")`);
}

/**
 * better-auth options over `pool` (a pg Pool, or any object with a pg Pool's connect(): see
 * worker.mjs). `backgroundTasks`: the Worker's waitUntil (better-auth's Cloudflare guide); none
 * of the benchmarked routes hands it work.
 */
export function authOptions({ pool, secret, baseURL, rateLimit = "off", backgroundTasks }) {
  return {
    secret,
    baseURL,
    database: pool,
    emailAndPassword: { enabled: true },
    rateLimit: rateLimitOptions(rateLimit),
    telemetry: { enabled: false },
    advanced: {
      ipAddress: { ipAddressHeaders: ["cf-connecting-ip"] },
      ...(backgroundTasks ? { backgroundTasks: { handler: backgroundTasks } } : {}),
    },
  };
}
