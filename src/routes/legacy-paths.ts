import type { OpenAPIHono } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import { getPath } from "hono/utils/url";
import type { AppEnv } from "../context";

/**
 * The old service's endpoints at the root (`POST /login`, ...), as its README listed them and
 * the mobile app still calls them (LEGACY_ROOT_PATHS, docs/legacy-clients.md). An alias is not
 * a second route: the path is rewritten to the canonical one before routing, so it runs the same
 * middleware, limits (the same rate-limit bucket) and handler. Aliases are always at the root,
 * whatever BASE_PATH is.
 */
export const LEGACY_ROOT_PATHS = ["/register", "/login", "/forgot-password", "/reset-password", "/update-profile"] as const;

/**
 * RFC 9745: `Deprecation` is a structured-field date (`@` + Unix seconds) of when the resource
 * was deprecated, not the `true` of the earlier drafts. The aliases were deprecated when this
 * service replaced the old one.
 */
export const DEPRECATED_AT = `@${Date.UTC(2026, 11, 1) / 1000}`;

/** Alias -> canonical path; none when the base path is the root (the aliases would be the routes). */
export type Aliases = ReadonlyMap<string, string>;

export function legacyAliases(basePath: string): Aliases {
  if (basePath === "/") return new Map();
  return new Map(LEGACY_ROOT_PATHS.map((p) => [p, `${basePath}${p}`]));
}

/** Hono's own path extraction, with an alias replaced by its canonical path (used for routing). */
export const aliasingGetPath = (aliases: Aliases) => (request: Request) => {
  const path = getPath(request);
  return aliases.get(path) ?? path;
};

/**
 * Every answer on an alias (errors too) says it is deprecated and links to its successor
 * (RFC 8288 Link; `successor-version` from RFC 5829). Canonical paths carry neither header.
 */
export function deprecationHeaders(aliases: Aliases): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const canonical = aliases.get(getPath(c.req.raw));
    await next();
    if (!canonical) return;
    c.res.headers.set("Deprecation", DEPRECATED_AT);
    c.res.headers.append("Link", `<${canonical}>; rel="successor-version"`);
  };
}

const HEADERS = (canonical: string) => ({
  Deprecation: {
    description: "RFC 9745: when this path was deprecated",
    schema: { type: "string", pattern: "^@[0-9]{1,12}$", maxLength: 13, example: DEPRECATED_AT },
  },
  Link: {
    description: "The canonical path that replaces this one",
    schema: { type: "string", enum: [`<${canonical}>; rel="successor-version"`] },
  },
});

/** Lists each alias in the OpenAPI document next to its canonical operation, marked deprecated. */
export function documentAliases(app: OpenAPIHono<AppEnv>, aliases: Aliases): void {
  const aliasOf = new Map([...aliases].map(([alias, canonical]) => [canonical, alias]));
  for (const def of [...app.openAPIRegistry.definitions]) {
    if (def.type !== "route") continue;
    const { route } = def;
    const alias = aliasOf.get(route.path);
    if (!alias) continue;
    const responses = Object.fromEntries(
      Object.entries(route.responses).map(([status, r]) => [
        status,
        { ...r, headers: { ...((r as { headers?: object }).headers ?? {}), ...HEADERS(route.path) } },
      ]),
    );
    app.openAPIRegistry.registerPath({
      ...route,
      path: alias,
      operationId: `${(route as { operationId?: string }).operationId ?? route.method}Deprecated`,
      deprecated: true,
      summary: `${route.summary} (deprecated root path)`,
      description:
        `Deprecated alias of \`${route.method.toUpperCase()} ${route.path}\` for clients of the old service ` +
        "(LEGACY_ROOT_PATHS): the same request, limits and answers, plus `Deprecation` and `Link` headers. " +
        "New clients use the canonical path.",
      responses,
    } as typeof route);
  }
}
