import type { MiddlewareHandler } from "hono";
import { authenticateClient, type ServiceScope } from "../auth/services/clients";
import type { AppEnv } from "../context";

/** A service route: HTTP Basic with a live service client's id and secret, holding `scope` (src/auth/services/clients.ts). */
export const requireServiceClient =
  (scope: ServiceScope): MiddlewareHandler<AppEnv> =>
  async (c, next) => {
    c.set("service", await authenticateClient(c.get("deps"), c.req.header("authorization"), scope));
    await next();
  };
