import type { Authenticated } from "./auth/sessions/sessions";
import type { Env } from "./config";
import type { ServiceClient } from "./db/schema";
import type { Deps, RequestMeta } from "./deps";

/** Hono's environment for this app: bindings plus per-request variables. */
export interface AppEnv {
  Bindings: Env;
  Variables: {
    deps: Deps;
    meta: RequestMeta;
    requestId: string;
    auth: Authenticated;
    /** A service route's caller (src/middleware/service-auth.ts). */
    service: ServiceClient;
  };
}
