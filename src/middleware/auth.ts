import type { Context, MiddlewareHandler } from "hono";
import { routePath } from "hono/route";
import { type AccessPolicy, assertAccess, needsMfaState } from "../auth/access";
import { isUuid } from "../auth/admin/cursor";
import { isRecordedRefusal, recordAdmin } from "../auth/admin/record";
import { audit } from "../auth/audit";
import { type Authenticated, authenticate } from "../auth/sessions/sessions";
import type { AppEnv } from "../context";
import { AppError, apiError } from "../errors";
import { appErrorOf } from "./error-handler";

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
    const auth = await authenticate(deps, m[1], { mfaState: needsMfaState(deps.config, policy) });
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
    if (policy.admin) await recordAdminRefusal(c, auth);
  };

/**
 * An admin API call that passed the access policy and was then refused (an invalid query, path or
 * body, a malformed cursor, an unknown id the action did not record itself) is recorded as
 * `admin_request_refused`: the admin, the account named in the path when it is a valid id, the
 * error code, the route and the field. Refusals an action already recorded under its own event
 * (recordRefusal) are not recorded twice; faults (5xx) are logged, not audited.
 */
async function recordAdminRefusal(c: Context<AppEnv>, admin: Authenticated): Promise<void> {
  const refusal = c.error ? appErrorOf(c.error) : null;
  if (!refusal || refusal.status >= 500 || isRecordedRefusal(c.error)) return;
  const id = c.req.param("id");
  await recordAdmin(
    c.get("deps"),
    c.get("meta"),
    admin,
    "admin_request_refused",
    id && isUuid(id) ? id : null,
    { reason: refusal.code, route: `${c.req.method} ${routePath(c, -1)}`, field: refusal.options.issues?.[0]?.path ?? null },
    "failure",
  );
}
