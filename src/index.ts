import { createApp } from "./app";
import { purgeExpired } from "./auth/purge";
import { type Env, getConfig } from "./config";
import { createDeps } from "./deps";
import { describeError, log } from "./log";

const apps = new Map<string, ReturnType<typeof createApp>>();

/** One app per base path (normally one per isolate), built on first use. */
export function appFor(env: Env) {
  const basePath = getConfig(env).basePath;
  let app = apps.get(basePath);
  if (!app) {
    app = createApp(basePath);
    apps.set(basePath, app);
  }
  return app;
}

export default {
  fetch(request, env, ctx) {
    try {
      return appFor(env).fetch(request, env, ctx);
    } catch (err) {
      const requestId = crypto.randomUUID();
      log("error", "cannot start: configuration error", { requestId, ...describeError(err) });
      return Response.json(
        { status: "error", message: "The service is misconfigured. Please try again later.", code: "internal_error" },
        {
          status: 500,
          // The same hardening as every other response (app.ts secureHeaders), without the app.
          headers: {
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "X-Frame-Options": "DENY",
            "Cross-Origin-Resource-Policy": "same-site",
            "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
            "X-Request-Id": requestId,
          },
        },
      );
    }
  },
  async scheduled(_controller, env, ctx) {
    const deps = createDeps(env, `cron-${crypto.randomUUID()}`, (p) => ctx.waitUntil(p));
    try {
      const counts = await purgeExpired(deps);
      log("info", "purge done", counts);
    } catch (err) {
      log("error", "purge failed", describeError(err));
      throw err;
    }
  },
} satisfies ExportedHandler<Env>;
