import { OpenAPIHono } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import { cors } from "hono/cors";
import { methodNotAllowed } from "hono/method-not-allowed";
import { requestId } from "hono/request-id";
import { secureHeaders } from "hono/secure-headers";
import type { Config } from "./config";
import type { AppEnv } from "./context";
import type { Overrides } from "./deps";
import { errors } from "./errors";
import { errorBody, onError, onNotFound } from "./middleware/errors";
import { requestContext, requireContentType } from "./middleware/request";
import { authRoutes } from "./routes/auth";
import { docsRoutes, documentCommonErrors } from "./routes/docs";
import { passwordResetRoutes } from "./routes/password-reset";
import { profileRoutes } from "./routes/profile";
import { systemRoutes } from "./routes/system";

/** cors() for a configuration, built once (the configuration is parsed once per env and cached). */
const corsMiddleware = new WeakMap<Config, MiddlewareHandler<AppEnv>>();
function corsFor(config: Config): MiddlewareHandler<AppEnv> {
  let mw = corsMiddleware.get(config);
  if (!mw) {
    const origins = config.corsOrigins;
    mw = cors({
      origin: (origin) => (origins?.includes(origin) ? origin : null),
      allowHeaders: ["Authorization", "Content-Type"],
      allowMethods: ["GET", "POST", "DELETE", "OPTIONS"],
      exposeHeaders: ["X-Request-Id", "Retry-After"],
      maxAge: 600,
    });
    corsMiddleware.set(config, mw);
  }
  return mw;
}

/**
 * Builds the Hono app: middleware chain, routes under the base path, one error handler.
 * `overrides` replaces infrastructure (the clock, outbound fetch) in tests.
 */
export function createApp<const B extends string = "/auth">(basePath: B = "/auth" as B, overrides: Overrides = {}) {
  const app = new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (!result.success)
        throw errors.validation(result.error.issues.map((i) => ({ path: i.path.join(".") || "(body)", message: i.message })));
    },
  });

  app.use(
    "*",
    requestId({ headerName: "X-Request-Id", generator: () => crypto.randomUUID() }),
    requestContext(overrides),
    secureHeaders({
      referrerPolicy: "no-referrer",
      xContentTypeOptions: "nosniff",
      xFrameOptions: "DENY",
      crossOriginResourcePolicy: "same-site",
      strictTransportSecurity: "max-age=31536000; includeSubDomains",
    }),
    async (c, next) => {
      await next();
      // Responses of an auth API carry tokens, codes or personal data: never cached by default.
      if (!c.res.headers.has("Cache-Control")) c.res.headers.set("Cache-Control", "no-store");
    },
    async (c, next) => {
      // CORS only concerns a browser's cross-origin request, which always carries Origin. Without
      // one, skip cors(): it would set headers before the handler, and Hono then copies the
      // handler's whole response to merge them. Vary stays, for caches.
      if (!c.req.header("origin")) {
        await next();
        c.res.headers.append("Vary", "Origin");
        return;
      }
      return corsFor(c.get("deps").config)(c, next);
    },
    methodNotAllowed({
      app,
      onMethodNotAllowed: (c, methods) =>
        c.json(errorBody("method_not_allowed", `Method ${c.req.method} is not allowed here. Use ${methods.join(", ")}.`), 405, {
          Allow: methods.join(", "),
        }),
    }),
    requireContentType,
  );

  const routes = app
    .route(basePath, authRoutes())
    .route(basePath, passwordResetRoutes())
    .route(basePath, profileRoutes())
    .route("/", systemRoutes());

  app.openAPIRegistry.registerComponent("securitySchemes", "bearerAuth", {
    type: "http",
    scheme: "bearer",
    bearerFormat: "JWT",
  });
  // The document (/openapi.json) and its reference page (/docs) are not part of the document.
  documentCommonErrors(app);
  app.doc31("/openapi.json", {
    openapi: "3.1.0",
    info: {
      title: "Edge Auth API",
      version: "1.0.0",
      description:
        "Register, log in, refresh, reset passwords and manage profiles.\n\n" +
        'Every error answers `{status: "error", message, code, issues?}`. Protected operations take ' +
        "`Authorization: Bearer <access_token>`. An unknown path answers 404 (`not_found`); a known path with " +
        "another method answers 405 (`method_not_allowed`) with an `Allow` header.",
    },
  });
  app.route("/", docsRoutes());
  app.notFound(onNotFound);
  app.onError(onError);
  return routes;
}

/** The app's route types for Hono's typed client (src/client.ts), with the default base path. */
export type AppType = ReturnType<typeof createApp<"/auth">>;
