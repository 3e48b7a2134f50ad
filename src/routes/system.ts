import { OpenAPIHono, z } from "@hono/zod-openapi";
import { sql } from "drizzle-orm";
import { getKeyRing } from "../auth/sessions/keys";
import type { AppEnv } from "../context";
import { isDbUnavailable } from "../db/client";
import { describeError } from "../log";
import { route } from "./route";
import { json } from "./schemas";
export function systemRoutes() {
  const HealthSchema = z
    .object({ status: z.enum(["ok", "error"]), database: z.enum(["up", "down"]) })
    .openapi("Health", { example: { status: "ok", database: "up" } });

  /** Retry-After of a 503 from GET /health: as for any request that finds the database down (src/middleware/error-handler.ts). */
  const HEALTH_RETRY_AFTER_S = 5;

  const healthRoute = route({
    method: "get",
    path: "/health",
    tags: ["System"],
    summary: "Readiness: 200 when the database answers, 503 otherwise",
    description: "Runs `select 1` on the database.",
    limit: false,
    errors: [],
    noDatabase: true,
    responses: { 200: json(HealthSchema, "Database reachable"), 503: json(HealthSchema, "Database unreachable") },
  });

  const liveRoute = route({
    method: "get",
    path: "/health/live",
    tags: ["System"],
    summary: "Liveness: answers a constant without touching the database",
    description: "For load balancers and monitors: the Worker is running.",
    limit: false,
    errors: [],
    noDatabase: true,
    responses: { 200: json(z.object({ status: z.literal("ok") }).openapi("Live", { example: { status: "ok" } }), "The Worker is running") },
  });

  /** Public keys only (src/auth/sessions/keys.ts): Ed25519 (OKP) or P-256 (EC), coordinates in base64url. */
  const coordinate = z
    .string()
    .max(64)
    .regex(/^[A-Za-z0-9_-]+$/);
  const JwkSchema = z
    .object({
      kty: z.enum(["OKP", "EC"]),
      crv: z.enum(["Ed25519", "P-256"]),
      x: coordinate,
      y: coordinate.optional(),
      kid: z.string().max(256).openapi({ description: "The key id access tokens name in their header" }),
      alg: z.enum(["EdDSA", "ES256"]),
      use: z.literal("sig"),
    })
    .openapi("Jwk");

  const JwksSchema = z.object({ keys: z.array(JwkSchema).max(100) }).openapi("Jwks", {
    example: {
      keys: [{ kty: "OKP", crv: "Ed25519", x: "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo", kid: "eddsa-1", alg: "EdDSA", use: "sig" }],
    },
  });

  const jwksRoute = route({
    method: "get",
    path: "/.well-known/jwks.json",
    tags: ["System"],
    summary: "Public keys that verify access tokens (JWKS)",
    description: "Every key that verifies; the first key of JWT_PRIVATE_KEYS signs. Cacheable for 5 minutes.",
    limit: false,
    errors: [],
    noDatabase: true,
    responses: {
      200: json(JwksSchema, "The JWK set"),
    },
  });

  return new OpenAPIHono<AppEnv>()
    .openapi(healthRoute, async (c) => {
      const deps = c.get("deps");
      try {
        await deps.db.execute(sql`select 1`);
        return c.json({ status: "ok" as const, database: "up" as const }, 200);
      } catch (err) {
        deps.log(isDbUnavailable(err) ? "warn" : "error", "health check failed", describeError(err));
        return c.json({ status: "error" as const, database: "down" as const }, 503, { "Retry-After": String(HEALTH_RETRY_AFTER_S) });
      }
    })
    .openapi(liveRoute, (c) => c.json({ status: "ok" as const }, 200))
    .openapi(jwksRoute, async (c) => {
      const ring = await getKeyRing(c.get("deps").config);
      // keys.ts admits only Ed25519 and P-256 keys, so the set has the shape documented above.
      return c.json(ring.jwks as z.infer<typeof JwksSchema>, 200, { "Cache-Control": "public, max-age=300, stale-while-revalidate=60" });
    });
}
