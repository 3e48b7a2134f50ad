import { OpenAPIHono } from "@hono/zod-openapi";
import { cors } from "hono/cors";
import { methodNotAllowed } from "hono/method-not-allowed";
import { secureHeaders } from "hono/secure-headers";
import type { AppEnv } from "./context";
import type { Overrides } from "./deps";
import { apiError, validationError } from "./errors";
import { errorResponse, onError, onNotFound } from "./middleware/errors";
import { requestContext, requireContentType } from "./middleware/request";
import { accountRoutes } from "./routes/accounts";
import { docsRoutes, documentCommonErrors } from "./routes/docs";
import { mfaRoutes } from "./routes/mfa";
import { passwordResetRoutes } from "./routes/password-reset";
import { profileRoutes } from "./routes/profile";
import { sessionRoutes } from "./routes/sessions";
import { systemRoutes } from "./routes/system";

/**
 * Builds the Hono app: middleware chain, routes under the base path, one error handler.
 * `overrides` replaces infrastructure (the clock, outbound fetch, the database client).
 */
export function createApp<const B extends string = "/auth">(basePath: B = "/auth" as B, overrides: Overrides = {}) {
  const app = new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (!result.success)
        throw validationError(result.error.issues.map((i) => ({ path: i.path.join(".") || "(body)", message: i.message })));
    },
  });

  app.use(
    "*",
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
    (c, next) => {
      const origins = c.get("deps").config.CORS_ORIGINS;
      return cors({
        origin: (origin) => (origins?.includes(origin) ? origin : null),
        allowHeaders: ["Authorization", "Content-Type"],
        allowMethods: ["GET", "POST", "DELETE", "OPTIONS"],
        exposeHeaders: ["X-Request-Id", "Retry-After"],
        maxAge: 600,
      })(c, next);
    },
    methodNotAllowed({
      app,
      onMethodNotAllowed: (c, methods) =>
        errorResponse(
          c,
          apiError("method_not_allowed", {
            message: `Method ${c.req.method} is not allowed here. Use ${methods.join(", ")}.`,
            headers: { Allow: methods.join(", ") },
          }),
        ),
    }),
    requireContentType,
  );

  const routes = app
    .route(basePath, accountRoutes())
    .route(basePath, sessionRoutes())
    .route(basePath, passwordResetRoutes())
    .route(basePath, profileRoutes())
    .route(basePath, mfaRoutes())
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
