import type { OpenAPIHono } from "@hono/zod-openapi";
import { Scalar } from "@scalar/hono-api-reference";
import { Hono } from "hono";
import { b64url, randomBytes } from "../auth/encoding";
import type { AppEnv } from "../context";
import { errorResponse } from "./schemas";

/**
 * Scalar's standalone bundle (4.3 MB, 1.2 MiB gzip) is far too big for the Worker script, so it
 * is a static asset next to the Worker (wrangler.toml [assets], copied from node_modules by
 * scripts/docs-assets.mjs): same origin in every environment, no third-party script at run time.
 */
export const DOCS_SCRIPT_PATH = "/docs/scalar.js";

/**
 * GET /docs: the interactive API reference (Scalar) for /openapi.json. Served outside the
 * OpenAPI document on purpose: it is a page about the document, not part of the API.
 * A strict Content-Security-Policy: scripts only from this origin plus the page's one inline
 * call (by nonce); requests ("try it") only to this origin.
 */
export function docsRoutes() {
  return new Hono<AppEnv>().get("/docs", async (c, next) => {
    const nonce = b64url(randomBytes(16));
    const res = await Scalar<AppEnv>({
      url: "/openapi.json",
      pageTitle: "Edge Auth API reference",
      cdn: DOCS_SCRIPT_PATH,
      nonce,
      // Nothing from third parties: no web fonts, telemetry, AI agent, MCP or hosted tooling.
      withDefaultFonts: false,
      telemetry: false,
      showDeveloperTools: "never",
      mcp: { disabled: true },
      ...({ agent: { disabled: true } } as object),
    })(c, next);
    (res as Response).headers.set(
      "Content-Security-Policy",
      [
        "default-src 'none'",
        `script-src 'self' 'nonce-${nonce}'`,
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "worker-src 'self' blob:",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
      ].join("; "),
    );
    return res as Response;
  });
}

type Operation = { method: string; path: string; responses: Record<string, unknown>; request?: { body?: unknown } };

/**
 * Documents the errors the app-wide middleware can answer on every operation, so the route
 * files don't have to repeat them: 500 (the one error handler), 415 on methods with a body
 * (a body without Content-Type, src/middleware/request.ts), 413 and 400 on operations with a
 * request body (body limit, malformed JSON). 404 (no such route) and 405 (path exists, other
 * method; see Allow) are not operations: they are reusable components named in the description.
 * Route files stay free to document the same statuses with a more specific description.
 */
export function documentCommonErrors(app: OpenAPIHono<AppEnv>) {
  for (const def of app.openAPIRegistry.definitions) {
    if (def.type !== "route") continue;
    const route = def.route as unknown as Operation;
    const extra: Record<number, unknown> = { 500: errorResponse(500) };
    if (["post", "put", "patch"].includes(route.method)) extra[415] = errorResponse(415);
    if (route.request?.body) Object.assign(extra, { 400: errorResponse(400), 413: errorResponse(413) });
    (def as { route: Operation }).route = { ...route, responses: { ...extra, ...route.responses } };
  }
  // Components are emitted as they are (no zod conversion): point at the Error schema by $ref.
  const asComponent = (status: number, description: string) => {
    const { content } = errorResponse(status);
    return {
      description,
      content: { "application/json": { schema: { $ref: "#/components/schemas/Error" }, example: content["application/json"].example } },
    };
  };
  app.openAPIRegistry.registerComponent("responses", "NotFound", asComponent(404, "No route for this method and path"));
  app.openAPIRegistry.registerComponent(
    "responses",
    "MethodNotAllowed",
    asComponent(405, "The path exists but not for this method; the Allow header lists the methods it accepts"),
  );
}
