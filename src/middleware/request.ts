import type { MiddlewareHandler } from "hono";
import { routePath } from "hono/route";
import type { AppEnv } from "../context";
import { createDeps, type Overrides } from "../deps";
import { AppError } from "../errors";
import { log } from "../log";
import { clientIp } from "./rate-limit";

/**
 * Per-request setup: infrastructure (deps), who is asking (meta), and one JSON log line per
 * request with method, route, status, duration and request id (never bodies or headers).
 */
export function requestContext(overrides: Overrides): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const requestId = c.get("requestId");
    let ctx: { waitUntil(p: Promise<unknown>): void } | undefined;
    try {
      ctx = c.executionCtx;
    } catch {
      ctx = undefined;
    }
    const waitUntil = (p: Promise<unknown>) => (ctx ? ctx.waitUntil(p) : void p.catch(() => {}));
    c.set("deps", createDeps(c.env, requestId, waitUntil, overrides));
    c.set("meta", { ip: clientIp(c.req.raw), userAgent: c.req.header("user-agent") ?? null, requestId });
    const started = performance.now();
    await next();
    log("info", "request", {
      requestId,
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
    if (c.req.raw.body && length !== "0")
      throw new AppError(415, "unsupported_media_type", "Unsupported content type: send application/json.");
  }
  await next();
};
