import type { MiddlewareHandler } from "hono";
import { type AccessPolicy, assertAccess } from "../auth/access";
import { authenticate } from "../auth/sessions";
import type { AppEnv } from "../context";
import { apiError } from "../errors";

/** Bearer authentication: verifies the access token, loads the live session and user, applies the route's policy. */
export const requireAuth =
  (policy: AccessPolicy): MiddlewareHandler<AppEnv> =>
  async (c, next) => {
    const header = c.req.header("authorization");
    const m = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    if (!m) throw apiError("unauthorized");
    const deps = c.get("deps");
    const auth = await authenticate(deps, m[1]);
    assertAccess(deps, auth, policy);
    c.set("auth", auth);
    await next();
  };
