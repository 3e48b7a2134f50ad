import { OpenAPIHono } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import { cors } from "hono/cors";
import { methodNotAllowed } from "hono/method-not-allowed";
import type { Config } from "./config";
import type { AppEnv } from "./context";
import type { Overrides } from "./deps";
import { apiError, validationError } from "./errors";
import { msg } from "./i18n/messages";
import { errorResponse, onError, onNotFound } from "./middleware/error-handler";
import { announceEventWrites } from "./middleware/event-announce";
import { requestContext, requireContentType } from "./middleware/request";
import { accountRoutes } from "./routes/account";
import { adminRoutes } from "./routes/admin";
import { docsRoutes, documentCommonErrors } from "./routes/docs";
import { emailRoutes } from "./routes/email";
import { mountOf, ROUTE_GROUPS, type RouteGroup } from "./routes/groups";
import { aliasingGetPath, deprecationHeaders, documentAliases, legacyAliases } from "./routes/legacy-paths";
import { mfaRoutes } from "./routes/mfa";
import { oauthRoutes } from "./routes/oauth";
import { passkeyRoutes } from "./routes/passkeys";
import { passwordRoutes } from "./routes/password";
import { profileRoutes } from "./routes/profile";
import { zodIssue } from "./routes/schemas";
import { serviceClientRoutes } from "./routes/service-clients";
import { documentEventWebhooks, serviceRoutes } from "./routes/services";
import { sessionRoutes } from "./routes/sessions";
import { signInRoutes } from "./routes/sign-in";
import { systemRoutes } from "./routes/system";
import { webhookRoutes } from "./routes/webhooks";

/** cors() for a configuration, built once (the configuration is parsed once per env and cached). */
const corsMiddleware = new WeakMap<Config, MiddlewareHandler<AppEnv>>();
function corsFor(config: Config): MiddlewareHandler<AppEnv> {
  let mw = corsMiddleware.get(config);
  if (!mw) {
    const origins = config.CORS_ORIGINS;
    mw = cors({
      origin: (origin) => (origins?.includes(origin) ? origin : null),
      allowHeaders: ["Authorization", "Content-Type"],
      allowMethods: ["GET", "POST", "PATCH", "DELETE", "OPTIONS"],
      exposeHeaders: ["X-Request-Id", "Retry-After"],
      // Only for the web flow's start with intent=link, which a listed app calls with fetch and
      // `credentials: "include"` so that the browser keeps the flow's binding cookie. No cookie
      // here carries authority (sessions are bearer tokens), so a listed origin gains nothing else.
      credentials: true,
      maxAge: 600,
    });
    corsMiddleware.set(config, mw);
  }
  return mw;
}

/**
 * Builds the Hono app: middleware chain, routes under the base path, one error handler.
 * `overrides` replaces infrastructure (the clock, outbound fetch, the database client);
 * `legacyRootPaths` (LEGACY_ROOT_PATHS) also serves the old service's root paths.
 */
export function createApp<const B extends string = "/auth">(
  basePath: B = "/auth" as B,
  overrides: Overrides = {},
  options: AppOptions = {},
) {
  const { app, aliases } = frame(basePath, overrides, options);
  // The API's reference is written in English, whatever the request asks for.
  const english: MiddlewareHandler<AppEnv> = async (c, next) => {
    await next();
    c.header("Content-Language", "en");
  };
  app.use("/openapi.json", english).use("/docs", english);

  const routes = app
    .route(basePath, accountRoutes())
    .route(basePath, signInRoutes())
    .route(basePath, sessionRoutes())
    .route(basePath, passwordRoutes())
    .route(basePath, emailRoutes())
    .route(basePath, profileRoutes())
    .route(basePath, mfaRoutes())
    .route(basePath, oauthRoutes())
    .route(basePath, passkeyRoutes())
    .route(basePath, adminRoutes())
    .route(basePath, serviceClientRoutes())
    .route(basePath, webhookRoutes())
    .route(basePath, serviceRoutes())
    .route("/", systemRoutes());
  app.openAPIRegistry.registerComponent("securitySchemes", "bearerAuth", {
    type: "http",
    scheme: "bearer",
    bearerFormat: "JWT",
    description:
      "The access token from register, login or refresh. Verified following RFC8725 (JWT best current practices): " +
      "algorithms pinned per key (EdDSA or ES256 by `kid`; HS256 only in legacy mode; never `none`), `typ` JWT, " +
      "`iss`, `aud`, `exp` and `nbf` checked, `jku`/`x5u`/`jwk` headers ignored, `crit` refused.",
  });
  app.openAPIRegistry.registerComponent("securitySchemes", "adminAuth", {
    type: "http",
    scheme: "bearer",
    bearerFormat: "JWT",
    description:
      "The access token of an administrator (role `admin`) whose session was signed in with two-factor sign-in (`amr` includes " +
      "`otp`); changes also need a login within RECENT_AUTH_MAX_AGE. Verified like bearerAuth, following RFC8725 (JWT best " +
      "current practices); see docs/admin.md.",
  });
  app.openAPIRegistry.registerComponent("securitySchemes", "serviceClient", {
    type: "http",
    scheme: "basic",
    description:
      "A service client's `client_id` and `client_secret` (POST /auth/admin/service-clients), as HTTP Basic credentials; each " +
      "service route names the scope it needs (docs/services.md#service-clients).",
  });
  documentEventWebhooks(app);
  documentAliases(app, aliases);
  // The document (/openapi.json) and its reference page (/docs) are not part of the document.
  documentCommonErrors(app);
  app.doc31("/openapi.json", {
    openapi: "3.1.0",
    // Relative: the document is served by the API it describes, whatever its host.
    servers: [{ url: "/", description: "The deployment serving this document (production, staging or local)", "x-internal": false }],
    tags: [
      { name: "Auth", description: "Accounts, login and the current user" },
      { name: "Sessions", description: "Refresh-token rotation, logout and the session list" },
      { name: "Password reset", description: "Reset with a code mailed to the account's address" },
      { name: "Profile", description: "Name and avatar" },
      { name: "Social sign-in", description: "Sign in with Google and Apple: native ID tokens, the web redirect flow, linked identities" },
      { name: "Passkeys", description: "Add passkeys, sign in and sign up with one, manage them (WebAuthn; docs/passkeys.md)" },
      { name: "Account", description: "Deleting the caller's account (and restoring it), and exporting its data" },
      {
        name: "Admin",
        description:
          "Account management for administrators: role `admin`, a session signed in with two-factor sign-in, and a recent login " +
          "for changes; every call is audited (docs/admin.md)",
      },
      {
        name: "Services",
        description:
          "For the platform's other services: the identity events feed, token introspection and revocation, account reads (docs/services.md)",
      },
      {
        name: "Events",
        description: "The identity events, as webhooks deliver them and the feed returns them (docs/services.md#event-types)",
      },
      { name: "System", description: "Health probes and the public signing keys" },
    ],
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
  return routes;
}

/**
 * The app with one route group only (src/routes/groups.ts), and the same middleware, error
 * handling and paths as createApp: what the Worker builds for a request of that group.
 */
export function createGroupApp(group: RouteGroup, basePath = "/auth", overrides: Overrides = {}, options: AppOptions = {}) {
  const { app } = frame(basePath, overrides, options);
  return app.route(mountOf(group, basePath), ROUTE_GROUPS[group].routes());
}

export interface AppOptions {
  /** LEGACY_ROOT_PATHS: also serve the old service's root paths. */
  legacyRootPaths?: boolean;
}

/** The paths the app answers to under another name (the old service's root paths). */
export const aliasesFor = (basePath: string, { legacyRootPaths = true }: AppOptions = {}) =>
  legacyAliases(legacyRootPaths ? basePath : "/");

/** The app without its routes: the middleware chain and one error handler. */
function frame(basePath: string, overrides: Overrides, options: AppOptions) {
  const aliases = aliasesFor(basePath, options);
  const app = new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (!result.success) {
        const input = (result as { data?: unknown }).data;
        throw validationError(result.error.issues.map((i) => zodIssue(i, input)));
      }
    },
    getPath: aliasingGetPath(aliases),
  });

  app.use(
    "*",
    requestContext(overrides),
    announceEventWrites,
    deprecationHeaders(aliases),
    // CORS only concerns a browser's cross-origin request, which always carries Origin. Without
    // one, skip cors(): it would set headers before the handler, and Hono then copies the handler's
    // whole response to merge them. The security headers, Cache-Control and Vary are written by
    // requestContext once the answer is made (src/middleware/response-headers.ts).
    (c, next) => (c.req.header("origin") === undefined ? next() : corsFor(c.get("deps").config)(c, next)),
    methodNotAllowed({
      app,
      onMethodNotAllowed: (c, methods) =>
        errorResponse(
          c,
          apiError("method_not_allowed", {
            message: msg("error.method_not_allowed.route", { method: c.req.method, allowed: methods.join(", ") }),
            headers: { Allow: methods.join(", ") },
          }),
        ),
    }),
    requireContentType,
  );
  app.notFound(onNotFound);
  app.onError(onError);
  return { app, aliases };
}

/** The app's route types for Hono's typed client (src/client.ts), with the default base path. */
export type AppType = ReturnType<typeof createApp<"/auth">>;
