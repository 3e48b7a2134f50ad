import type { MiddlewareHandler } from "hono";
import { routePath } from "hono/route";
import { type AccessPolicy, assertAccess } from "../auth/access";
import { audit } from "../auth/audit";
import { authenticate } from "../auth/sessions/sessions";
import type { AppEnv } from "../context";
import { AppError, apiError } from "../errors";

/**
 * A route open to anonymous callers that acts for the caller when one is signed in (the web flow's
 * start with intent=link): an Authorization header, if sent, is authenticated exactly as by
 * requireAuth; without one the handler sees no `auth`.
 */
export const optionalAuth =
  (policy: AccessPolicy): MiddlewareHandler<AppEnv> =>
  async (c, next) => {
    if (c.req.header("authorization") === undefined) return next();
    return requireAuth(policy)(c, next);
  };

/** Bearer authentication: verifies the access token, loads the live session and user, applies the route's policy. */
export const requireAuth =
  (policy: AccessPolicy): MiddlewareHandler<AppEnv> =>
  async (c, next) => {
    const header = c.req.header("authorization");
    const m = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    if (!m) throw apiError("unauthorized");
    const deps = c.get("deps");
    const auth = await authenticate(deps, m[1]);
    try {
      assertAccess(deps, auth, policy);
    } catch (err) {
      // Every call of the admin API is on record, the refused ones too (who tried what).
      if (policy.admin && err instanceof AppError)
        await audit(deps, c.get("meta"), "admin_access_refused", "blocked", auth.user.id, {
          reason: err.code,
          route: `${c.req.method} ${routePath(c, -1)}`,
        });
      throw err;
    }
    c.set("auth", auth);
    await next();
  };
