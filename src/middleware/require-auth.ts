import type { MiddlewareHandler } from "hono";
import { authenticate } from "../auth/sessions";
import type { AppEnv } from "../context";
import { errors } from "../errors";

/** Bearer authentication: verifies the access token and loads the live session and user. */
export const requireAuth: MiddlewareHandler<AppEnv> = async (c, next) => {
  const header = c.req.header("authorization");
  const m = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  if (!m) throw errors.unauthorized("Authentication required: send Authorization: Bearer <token>.");
  c.set("auth", await authenticate(c.get("deps"), m[1]));
  await next();
};
