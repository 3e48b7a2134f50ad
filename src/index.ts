import { purgeExpired } from "./auth/purge";
import { deliverBatch, sweepWebhooks } from "./auth/webhooks/dispatch";
import { type Env, getConfig } from "./config";
import { createDeps, type Overrides } from "./deps";
import { DEFAULT_LOCALE, negotiateLocale } from "./i18n/locales";
import { t } from "./i18n/messages";
import { createLazyApp } from "./lazy-app";
import { describeError, log } from "./log";
import { writeAnswerHeaders } from "./middleware/response-headers";

/**
 * The cron trigger (wrangler.toml) that only runs the webhook sweep; every other trigger runs the
 * hourly purge and then the sweep.
 */
const WEBHOOK_SWEEP_CRON = "* * * * *";

/**
 * The Worker: fetch (one app per base path and LEGACY_ROOT_PATHS, normally one per isolate, each route group built on first use: src/lazy-app.ts),
 * queue (webhook deliveries, src/auth/webhooks/dispatch.ts) and the scheduled purge and webhook
 * sweep. `overrides` supplies infrastructure (tests pass a controlled clock and a database client
 * they can close); production uses the defaults.
 */
export function createWorker(overrides: Overrides = {}) {
  const apps = new Map<string, ReturnType<typeof createLazyApp>>();
  const appFor = (env: Env) => {
    const { BASE_PATH, LEGACY_ROOT_PATHS } = getConfig(env);
    const key = `${BASE_PATH} ${LEGACY_ROOT_PATHS}`;
    let app = apps.get(key);
    if (!app) {
      app = createLazyApp(BASE_PATH, overrides, { legacyRootPaths: LEGACY_ROOT_PATHS });
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
        const headers = new Headers();
        writeAnswerHeaders(headers, requestId, locale, request.headers.has("origin"));
        return Response.json(
          { status: "error", message: t(locale, "error.internal_error.misconfigured"), code: "internal_error" },
          { status: 500, headers },
        );
      }
    },
    async queue(batch, env, ctx) {
      const requestId = `queue-${crypto.randomUUID()}`;
      try {
        // Each lane of the dispatcher opens its own deps (its own database connection).
        await deliverBatch(
          () => createDeps(env, requestId, (p) => ctx.waitUntil(p), overrides),
          batch.messages.map((m) => m.body),
        );
        batch.ackAll();
      } catch (err) {
        // The database unreachable, say: the batch comes back later; what was delivered is recorded.
        log("error", "webhook batch failed; retried", describeError(err));
        batch.retryAll({ delaySeconds: 30 });
      }
    },
    async scheduled(controller, env, ctx) {
      const requestId = `cron-${crypto.randomUUID()}`;
      const deps = createDeps(env, requestId, (p) => ctx.waitUntil(p), overrides);
      let failure: unknown;
      if (controller.cron !== WEBHOOK_SWEEP_CRON) {
        try {
          const counts = await purgeExpired(deps, { ip: null, userAgent: null, requestId, locale: DEFAULT_LOCALE });
          log("info", "purge done", counts);
        } catch (err) {
          log("error", "purge failed", describeError(err));
          failure = err;
        }
      }
      // After the purge: the events it wrote (anonymised accounts) go out with the rest.
      try {
        const woken = await sweepWebhooks(deps);
        if (woken) log("info", "webhook sweep woke pairs", { woken });
      } catch (err) {
        log("error", "webhook sweep failed", describeError(err));
        failure ??= err;
      }
      if (failure) throw failure;
    },
  } satisfies ExportedHandler<Env>;
}

export default createWorker();
