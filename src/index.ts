import { createApp } from "./app";
import { purgeExpired } from "./auth/purge";
import { type Env, getConfig } from "./config";
import { createDeps, type Overrides } from "./deps";
import { DEFAULT_LOCALE, negotiateLocale } from "./i18n/locales";
import { t } from "./i18n/messages";
import { describeError, log } from "./log";

/** The same hardening as every other response (app.ts secureHeaders), for the one answer made without the app. */
const HARDENING = {
  "Cache-Control": "no-store",
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
  "X-Frame-Options": "DENY",
  "Cross-Origin-Resource-Policy": "same-site",
  "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
};

/**
 * The Worker: fetch (one app per base path and LEGACY_ROOT_PATHS, normally one per isolate, built on first use) and
 * the scheduled purge. `overrides` supplies infrastructure (tests pass a controlled clock and a
 * database client they can close); production uses the defaults.
 */
export function createWorker(overrides: Overrides = {}) {
  const apps = new Map<string, ReturnType<typeof createApp>>();
  const appFor = (env: Env) => {
    const { BASE_PATH, LEGACY_ROOT_PATHS } = getConfig(env);
    const key = `${BASE_PATH} ${LEGACY_ROOT_PATHS}`;
    let app = apps.get(key);
    if (!app) {
      app = createApp(BASE_PATH, overrides, { legacyRootPaths: LEGACY_ROOT_PATHS });
      apps.set(key, app);
    }
    return app;
  };
  return {
    fetch(request, env, ctx) {
      try {
        return appFor(env).fetch(request, env, ctx);
      } catch (err) {
        const requestId = crypto.randomUUID();
        log("error", "cannot start: configuration error", { requestId, ...describeError(err) });
        const locale = negotiateLocale(request.headers.get("accept-language"));
        return Response.json(
          { status: "error", message: t(locale, "error.internal_error.misconfigured"), code: "internal_error" },
          { status: 500, headers: { ...HARDENING, "X-Request-Id": requestId, "Content-Language": locale, Vary: "Accept-Language" } },
        );
      }
    },
    async scheduled(_controller, env, ctx) {
      const requestId = `cron-${crypto.randomUUID()}`;
      const deps = createDeps(env, requestId, (p) => ctx.waitUntil(p), overrides);
      try {
        const counts = await purgeExpired(deps, { ip: null, userAgent: null, requestId, locale: DEFAULT_LOCALE });
        log("info", "purge done", counts);
      } catch (err) {
        log("error", "purge failed", describeError(err));
        throw err;
      }
    },
  } satisfies ExportedHandler<Env>;
}

export default createWorker();
