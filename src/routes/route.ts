import { createRoute, type RouteConfig } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import { type AccessPolicy, accessCodes } from "../auth/access";
import type { Config } from "../config";
import type { AppEnv } from "../context";
import { type AppError, ERROR_CATALOG, type ErrorCode, errorBody } from "../errors";
import { requireAuth } from "../middleware/auth";
import { jsonBodyLimit, multipartBodyLimit, multipartOnly } from "../middleware/body-limit";
import { type LimitName, rateLimit } from "../middleware/rate-limit";
import { safeText } from "../middleware/safe-text";
import { ErrorSchema } from "./schemas";

/** What every route declares besides its OpenAPI shape. */
interface RouteExtras {
  /** The per-client rate limit (src/middleware/rate-limit.ts RATE_LIMITS); false for probes and public keys. */
  limit: LimitName | false;
  /** Protected route: bearer token plus this policy (src/auth/access.ts). Absent: public. */
  auth?: AccessPolicy;
  /** Codes the route's own handler and domain can answer (the middleware's are added here). */
  errors: readonly ErrorCode[];
  /** A multipart body with one file of at most this many bytes. */
  multipart?: { maxFileBytes: (c: Config) => number; tooLarge: (max: number) => AppError };
  /** The route never touches the database (no 503 service_unavailable). */
  noDatabase?: true;
}

type Spec = Omit<RouteConfig, "middleware" | "security"> & RouteExtras;
type Extras = keyof RouteExtras;

const has = (r: RouteConfig, type: string) => Boolean((r.request?.body?.content as Record<string, unknown> | undefined)?.[type]);

/** The codes the middleware of a route can answer, from what the route declares. */
function middlewareCodes(spec: Spec): ErrorCode[] {
  const codes: ErrorCode[] = ["internal_error"];
  if (spec.limit) codes.push("too_many_requests");
  if (!spec.noDatabase) codes.push("service_unavailable");
  if (spec.auth) codes.push("unauthorized", "invalid_token", "token_expired", ...accessCodes(spec.auth));
  // A body without Content-Type is refused app-wide on these methods (src/middleware/request.ts).
  if (["post", "put", "patch"].includes(spec.method)) codes.push("unsupported_media_type");
  if (spec.request?.params || spec.request?.query) codes.push("validation_failed");
  if (has(spec, "application/json")) codes.push("validation_failed", "malformed_json", "payload_too_large", "unsupported_media_type");
  if (spec.multipart) codes.push("validation_failed", "malformed_form", "payload_too_large", "unsupported_media_type");
  return codes;
}

/**
 * The OpenAPI error responses of a set of codes, grouped by status: the description lists each
 * code with its meaning, and each code is an example body (derived from src/errors.ts).
 */
export function errorResponses(codes: readonly ErrorCode[]) {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of new Set(codes)) {
    const { status } = ERROR_CATALOG[code];
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  const responses: Record<number, unknown> = {};
  for (const [status, list] of [...byStatus].sort(([a], [b]) => a - b)) {
    const retry = list.some((c) => ERROR_CATALOG[c].status === 429 || c === "service_unavailable" || c === "storage_unavailable");
    responses[status] = {
      description: list.map((c) => `\`${c}\`: ${ERROR_CATALOG[c].message}`).join("\n\n"),
      ...(retry
        ? {
            headers: {
              "Retry-After": {
                description: "Seconds to wait before trying again",
                schema: { type: "integer", minimum: 1, maximum: 86400 },
              },
            },
          }
        : {}),
      content: {
        "application/json": {
          schema: ErrorSchema,
          examples: Object.fromEntries(list.map((c) => [c, { value: errorBody(c) }])),
        },
      },
    };
  }
  return responses;
}

/**
 * A route: its OpenAPI shape plus, declared together, its rate limit, access policy and error
 * codes. The middleware chain is the same for every route: rate limit, authentication (when
 * `auth` is set), body limit (JSON or multipart), refusal of text Postgres cannot store; then
 * the validators and the handler.
 */
export function route<P extends string, S extends Spec & { path: P }>(spec: S) {
  const { limit, auth, errors, multipart, noDatabase: _noDatabase, ...config } = spec;
  const middleware: MiddlewareHandler<AppEnv>[] = limit ? [rateLimit(limit)] : [];
  if (auth) middleware.push(requireAuth(auth));
  if (has(spec, "application/json")) middleware.push(jsonBodyLimit);
  if (multipart)
    middleware.push(
      multipartOnly,
      multipartBodyLimit((c) => multipart.maxFileBytes(c.get("deps").config), multipart.tooLarge),
    );
  middleware.push(safeText);
  return createRoute({
    ...config,
    middleware,
    ...(auth ? { security: [{ bearerAuth: [] }] } : {}),
    responses: { ...errorResponses([...errors, ...middlewareCodes(spec)]), ...config.responses },
  } as RouteConfig & { path: P }) as unknown as ReturnType<typeof createRoute<P, Omit<S, Extras> & { path: P }>>;
}
