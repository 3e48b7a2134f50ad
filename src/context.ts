import type { Authenticated } from "./auth/sessions/sessions";
import type { Env } from "./config";
import type { Deps, RequestMeta } from "./deps";

/** Hono's environment for this app: bindings plus per-request variables. */
export interface AppEnv {
  Bindings: Env;
  Variables: {
    deps: Deps;
    meta: RequestMeta;
    requestId: string;
    auth: Authenticated;
  };
}
