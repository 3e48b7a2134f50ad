import type { MiddlewareHandler } from "hono";
import { routePath } from "hono/route";
import type { RequestLogPolicy } from "../config";
import type { AppEnv } from "../context";
import { createDeps, type Overrides } from "../deps";
import { apiError } from "../errors";
import { negotiateLocale } from "../i18n/locales";
import { log } from "../log";
import { clientAddress } from "./client-address";
import { finishHeaders } from "./response-headers";

/** A client's own X-Request-Id, kept only as a log field: printable ASCII, at most 64 characters. */
const clientRequestId = (v: string | undefined) => (v && /^[\x21-\x7e]{1,64}$/.test(v) ? v : undefined);

/**
 * Whether this request gets its log line (REQUEST_LOG): an error answer or a request that logged a
 * warning when the policy keeps errors, every request with `all`, one in N others with `sampled:N`.
 */
function wantsLine(policy: RequestLogPolicy, status: number, warned: boolean): boolean {
  if (policy.errors && (status >= 400 || warned)) return true;
  if (policy.oneIn <= 1) return policy.oneIn === 1;
  return crypto.getRandomValues(new Uint32Array(1))[0] % policy.oneIn === 0;
}

/**
 * Per-request setup: the request id (always generated here: audit rows and logs must not carry a
 * value a client chose), infrastructure (deps), who is asking (meta, with the answer's language
 * negotiated from Accept-Language), and the JSON request line with method, route, status and
 * duration (never bodies or headers) for the requests REQUEST_LOG asks for (by default the errors:
 * Workers Logs' own invocation log records every request). Every answer gets its headers here
 * (finishHeaders: security headers, no-store by default, X-Request-Id, its language and Vary).
 */
export function requestContext(overrides: Overrides): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const requestId = crypto.randomUUID();
    c.set("requestId", requestId);
    let ctx: { waitUntil(p: Promise<unknown>): void } | undefined;
    try {
      ctx = c.executionCtx;
    } catch {
      ctx = undefined;
    }
    const waitUntil = (p: Promise<unknown>) => (ctx ? ctx.waitUntil(p) : void p.catch(() => {}));
    const deps = createDeps(c.env, requestId, waitUntil, overrides);
    // A request that logged a warning or an error gets its request line too (REQUEST_LOG=errors).
    let warned = false;
    const write = deps.log;
    deps.log = (level, msg, fields) => {
      if (level !== "info") warned = true;
      write(level, msg, fields);
    };
    c.set("deps", deps);
    const locale = negotiateLocale(c.req.header("accept-language"));
    c.set("meta", { ip: await clientAddress(c.req.raw, deps.config), userAgent: c.req.header("user-agent") ?? null, requestId, locale });
    const started = performance.now();
    await next();
    finishHeaders(c, requestId, locale);
    if (!wantsLine(deps.config.REQUEST_LOG, c.res.status, warned)) return;
    log("info", "request", {
      requestId,
      clientRequestId: clientRequestId(c.req.header("x-request-id")),
      method: c.req.method,
      route: routePath(c, -1),
      status: c.res.status,
      durationMs: Math.round((performance.now() - started) * 10) / 10,
    });
  };
}

/** Methods with a body must say what it is: a body without Content-Type is refused with 415. */
export const requireContentType: MiddlewareHandler<AppEnv> = async (c, next) => {
  const m = c.req.method;
  if ((m === "POST" || m === "PUT" || m === "PATCH") && !c.req.header("content-type")) {
    const length = c.req.header("content-length");
    if (c.req.raw.body && length !== "0") throw apiError("unsupported_media_type");
  }
  await next();
};
