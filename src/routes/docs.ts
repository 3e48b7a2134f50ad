import type { OpenAPIHono } from "@hono/zod-openapi";
import { Scalar } from "@scalar/hono-api-reference";
import { Hono } from "hono";
import type { AppEnv } from "../context";
import { errorBody } from "../errors";
import { DEFAULT_LOCALE } from "../i18n/locales";
import { b64url, randomBytes } from "../lib/encoding";
import { RESPONSE_HEADER_REFS, RESPONSE_HEADERS } from "./route";

/**
 * Scalar's standalone bundle (4.3 MB, 1.2 MiB gzip) is far too big for the Worker script, so it
 * is a static asset next to the Worker (wrangler.toml [assets], copied from node_modules by
 * scripts/build/docs-assets.ts): same origin in every environment, no third-party script at run time.
 */
const DOCS_SCRIPT_PATH = "/docs/scalar.js";

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

/**
 * 404 (no such route) and 405 (path exists, other method; see Allow) are not operations: they
 * are reusable components named in the document's description. The headers every response
 * carries (src/routes/route.ts RESPONSE_HEADERS) are components too.
 */
export function documentCommonErrors(app: OpenAPIHono<AppEnv>) {
  for (const [name, header] of Object.entries(RESPONSE_HEADERS)) app.openAPIRegistry.registerComponent("headers", name, header);
  // Components are emitted as they are (no zod conversion): point at the Error schema by $ref.
  const asComponent = (code: "not_found" | "method_not_allowed", description: string, headers: object = {}) => ({
    description,
    headers: { ...RESPONSE_HEADER_REFS, ...headers },
    content: { "application/json": { schema: { $ref: "#/components/schemas/Error" }, example: errorBody(DEFAULT_LOCALE, code) } },
  });
  app.openAPIRegistry.registerComponent("responses", "NotFound", asComponent("not_found", "No route for this method and path"));
  app.openAPIRegistry.registerComponent(
    "responses",
    "MethodNotAllowed",
    asComponent("method_not_allowed", "The path exists but not for this method; the Allow header lists the methods it accepts", {
      Allow: { description: "The methods this path accepts", schema: { type: "string", maxLength: 100, pattern: "^[A-Z]+(, [A-Z]+)*$" } },
    }),
  );
}
