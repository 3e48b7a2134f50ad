import type { Context } from "hono";

/**
 * The security headers of every answer the Worker makes, the app's (requestContext) and the one
 * made without the app (src/index.ts, a configuration error), both through writeAnswerHeaders.
 * The set Hono's `secureHeaders()` sends by default, with our values where they differ (no
 * referrer, never framed, resources to the same site, a year of HSTS). Set on the answer in one
 * pass after the handler: a constant list costs one header write each, with no copy of the answer.
 */
const HARDENING: ReadonlyArray<readonly [string, string]> = [
  ["Cross-Origin-Resource-Policy", "same-site"],
  ["Cross-Origin-Opener-Policy", "same-origin"],
  ["Origin-Agent-Cluster", "?1"],
  ["Referrer-Policy", "no-referrer"],
  ["Strict-Transport-Security", "max-age=31536000; includeSubDomains"],
  ["X-Content-Type-Options", "nosniff"],
  ["X-DNS-Prefetch-Control", "off"],
  ["X-Download-Options", "noopen"],
  ["X-Frame-Options", "DENY"],
  ["X-Permitted-Cross-Domain-Policies", "none"],
  ["X-XSS-Protection", "0"],
];

/** Responses of an auth API carry tokens, codes or personal data: never cached unless the route says so. */
const DEFAULT_CACHE_CONTROL = "no-store";

/**
 * The headers every answer carries, written on `h`: the hardening above, Cache-Control unless the
 * route set its own, the request id, the answer's language unless the route set its own (/docs and
 * /openapi.json are English), and Vary (Origin: CORS, added here for requests without one, which
 * skip the CORS middleware; Accept-Language: the language).
 */
export function writeAnswerHeaders(h: Headers, requestId: string, locale: string, hasOrigin: boolean): void {
  h.set("X-Request-Id", requestId);
  for (const [name, value] of HARDENING) h.set(name, value);
  if (!h.has("Cache-Control")) h.set("Cache-Control", DEFAULT_CACHE_CONTROL);
  if (!h.has("Content-Language")) h.set("Content-Language", locale);
  if (!hasOrigin) h.append("Vary", "Origin");
  h.append("Vary", "Accept-Language");
}

/**
 * writeAnswerHeaders on the app's answer once it is made. Hono's `c.header()` after the handler
 * would copy the whole answer on every call; its headers are writable when the app made it, so they
 * are written in place. An answer with read-only headers (one passed through from a fetch) is
 * copied first.
 */
export function finishHeaders(c: Context, requestId: string, locale: string): void {
  const hasOrigin = c.req.header("origin") !== undefined;
  try {
    writeAnswerHeaders(c.res.headers, requestId, locale, hasOrigin);
  } catch {
    // Read-only headers: the first write threw, before anything was written.
    c.res = new Response(c.res.body, c.res);
    writeAnswerHeaders(c.res.headers, requestId, locale, hasOrigin);
  }
}
