import { OpenAPIHono, z } from "@hono/zod-openapi";
import { sql } from "drizzle-orm";
import { getKeyRing } from "../auth/keys";
import type { AppEnv } from "../context";
import { isDbUnavailable } from "../db/client";
import { describeError } from "../log";
import { route } from "./route";
import { json } from "./schemas";

const HealthSchema = z
  .object({ status: z.enum(["ok", "error"]), database: z.enum(["up", "down"]) })
  .openapi("Health", { example: { status: "ok", database: "up" } });

const healthRoute = route({
  method: "get",
  path: "/health",
  tags: ["System"],
  summary: "Readiness: 200 when the database answers, 503 otherwise",
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
  limit: false,
  errors: [],
  noDatabase: true,
  responses: { 200: json(z.object({ status: z.literal("ok") }).openapi("Live", { example: { status: "ok" } }), "The Worker is running") },
});

const JwkSchema = z
  .object({ kty: z.string(), crv: z.string(), x: z.string(), y: z.string().optional(), kid: z.string(), alg: z.string(), use: z.string() })
  .openapi("Jwk");

const jwksRoute = route({
  method: "get",
  path: "/.well-known/jwks.json",
  tags: ["System"],
  summary: "Public keys that verify access tokens (JWKS)",
  limit: false,
  errors: [],
  noDatabase: true,
  responses: {
    200: json(
      z.object({ keys: z.array(JwkSchema) }).openapi("Jwks", {
        example: {
          keys: [
            { kty: "OKP", crv: "Ed25519", x: "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo", kid: "eddsa-1", alg: "EdDSA", use: "sig" },
          ],
        },
      }),
      "The JWK set",
    ),
  },
});

export function systemRoutes() {
  return new OpenAPIHono<AppEnv>()
    .openapi(healthRoute, async (c) => {
      const deps = c.get("deps");
      try {
        await deps.db.execute(sql`select 1`);
        return c.json({ status: "ok" as const, database: "up" as const }, 200);
      } catch (err) {
        deps.log(isDbUnavailable(err) ? "warn" : "error", "health check failed", describeError(err));
        return c.json({ status: "error" as const, database: "down" as const }, 503);
      }
    })
    .openapi(liveRoute, (c) => c.json({ status: "ok" as const }, 200))
    .openapi(jwksRoute, async (c) => {
      const ring = await getKeyRing(c.get("deps").config);
      return c.json(ring.jwks, 200, { "Cache-Control": "public, max-age=300, stale-while-revalidate=60" });
    });
}
