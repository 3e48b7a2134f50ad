import { TrieRouter } from "hono/router/trie-router";
import { mergePath } from "hono/utils/url";
import { type AppOptions, aliasesFor, createApp, createGroupApp } from "./app";
import type { Overrides } from "./deps";
import { mountOf, type RouteGroup } from "./routes/groups";
import { aliasingGetPath } from "./routes/legacy-paths";
import { ROUTE_MANIFEST } from "./routes/manifest";

type App = { fetch(request: Request, env: unknown, ctx?: ExecutionContext): Response | Promise<Response> };

export interface LazyApp extends App {
  /** The groups built so far (`*`: the whole app), in the order they were built. */
  built(): (RouteGroup | "*")[];
}

/**
 * The app as the Worker serves it: each route group (src/routes/groups.ts) is built the first time
 * a request of that group arrives, so an isolate's startup and its first request build only what
 * that request needs, whatever the number of routes. Which group serves a request comes from the
 * route manifest (src/routes/manifest.ts, generated from the groups); anything the manifest does
 * not place in exactly one group (an unknown path or method, the document, /docs, a preflight on a
 * path two groups share) goes to the whole app (createApp), built on first use too. Every app has
 * the same middleware and error handling, so a request gets the same answer either way
 * (test/routes/lazy-groups.test.ts).
 */
export function createLazyApp(basePath = "/auth", overrides: Overrides = {}, options: AppOptions = {}): LazyApp {
  const getPath = aliasingGetPath(aliasesFor(basePath, options));
  const router = new TrieRouter<RouteGroup>();
  const owners = new Map<string, Set<RouteGroup>>();
  for (const [group, operations] of Object.entries(ROUTE_MANIFEST) as [RouteGroup, readonly string[]][]) {
    for (const operation of operations) {
      const [method, path] = operation.split(" ");
      const full = mergePath(mountOf(group, basePath), path);
      router.add(method, full, group);
      if (!owners.has(full)) owners.set(full, new Set());
      owners.get(full)?.add(group);
    }
  }
  // A CORS preflight (OPTIONS) goes to the group that owns every operation of its path.
  for (const [path, groups] of owners) if (groups.size === 1) router.add("OPTIONS", path, [...groups][0]);

  const built = new Map<RouteGroup | "*", App>();
  const appOf = (group: RouteGroup | undefined): App => {
    const key = group ?? "*";
    let app = built.get(key);
    if (!app) {
      app = group ? createGroupApp(group, basePath, overrides, options) : createApp(basePath, overrides, options);
      built.set(key, app);
    }
    return app;
  };
  const groupOf = (request: Request): RouteGroup | undefined => {
    const method = request.method === "HEAD" ? "GET" : request.method;
    const [matches] = router.match(method, getPath(request));
    const groups = new Set(matches.map(([group]) => group));
    return groups.size === 1 ? [...groups][0] : undefined;
  };
  return { fetch: (request, env, ctx) => appOf(groupOf(request)).fetch(request, env, ctx), built: () => [...built.keys()] };
}
