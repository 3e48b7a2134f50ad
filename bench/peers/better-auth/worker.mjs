// Bench-only: better-auth (email + password) as a Cloudflare Worker over Hyperdrive, the peer
// `npm run bench` compares our Worker with. Never deployed. Routes:
//   GET  /health/live             a constant JSON answer that touches nothing (our /health/live)
//   POST /api/auth/sign-up/email  better-auth's own routes, as its handler serves them
//   POST /api/auth/sign-in/email
//   GET  /api/auth/get-session
//
// The database connection lives one request (Workers cannot carry a socket from one request to
// the next): a pg Pool of one connection per request over env.HYPERDRIVE, ended after the
// response (Cloudflare's Hyperdrive guide for pg). The better-auth instance itself is built once
// per isolate by default (PEER_AUTH_SCOPE = "isolate"), as better-auth's Cloudflare guide builds
// it at module scope: its Kysely dialect reaches the request's pool through AsyncLocalStorage.
// PEER_AUTH_SCOPE = "request" builds the instance per request instead (as many Workers examples
// do); README.md gives what each costs.

import { waitUntil } from "cloudflare:workers";
import { AsyncLocalStorage } from "node:async_hooks";
import { betterAuth } from "better-auth";
import { Pool } from "pg";
import { authOptions, POOL_OPTIONS } from "./auth-options.mjs";

const JSON_HEADERS = { "content-type": "application/json" };

/** The request's pool, created on its first query. */
const requestDb = new AsyncLocalStorage();
function currentPool() {
  const slot = requestDb.getStore();
  if (!slot) throw new Error("database used outside a request");
  slot.pool ??= new Pool({ ...POOL_OPTIONS, connectionString: slot.url });
  return slot.pool;
}
/** What better-auth takes for a pg Pool (an object with connect()), resolved per request. */
const perRequestPool = { connect: () => currentPool().connect(), end: async () => {} };

const settings = (env) => ({
  secret: env.BETTER_AUTH_SECRET,
  baseURL: env.BETTER_AUTH_URL,
  rateLimit: env.PEER_RATE_LIMIT ?? "off",
  backgroundTasks: waitUntil,
});

let isolateAuth;
function authFor(env, slot) {
  if ((env.PEER_AUTH_SCOPE ?? "isolate") === "request") {
    slot.pool = new Pool({ ...POOL_OPTIONS, connectionString: slot.url });
    return betterAuth(authOptions({ ...settings(env), pool: slot.pool }));
  }
  isolateAuth ??= betterAuth(authOptions({ ...settings(env), pool: perRequestPool }));
  return isolateAuth;
}

export default {
  async fetch(request, env, ctx) {
    const { pathname } = new URL(request.url);
    if (pathname === "/health/live" && request.method === "GET") return new Response('{"status":"ok"}', { headers: JSON_HEADERS });
    if (!pathname.startsWith("/api/auth/")) return new Response('{"error":"not_found"}', { status: 404, headers: JSON_HEADERS });
    const slot = { url: env.HYPERDRIVE.connectionString, pool: null };
    const auth = authFor(env, slot);
    try {
      return await requestDb.run(slot, () => auth.handler(request));
    } finally {
      // A pool is made only on a request's first query (get-session without a cookie makes none).
      if (slot.pool) ctx.waitUntil(slot.pool.end());
    }
  },
};
