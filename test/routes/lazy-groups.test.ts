import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { createApp } from "../../src/app";
import { createLazyApp } from "../../src/lazy-app";
import { operationsOf, ROUTE_GROUPS, type RouteGroup } from "../../src/routes/groups";
import { ROUTE_MANIFEST } from "../../src/routes/manifest";
import { call, freshIp, testEnv } from "../support/worker";

/**
 * The Worker builds each route group on its group's first request (src/lazy-app.ts), placed by the
 * route manifest. These tests hold the manifest to the groups, the groups to the whole app, and
 * the answers of the lazily built app to the whole app's.
 */
const GROUPS = Object.keys(ROUTE_GROUPS) as RouteGroup[];
const NOT_A_GROUP = new Set(["/openapi.json", "/docs"]);

const whole = (basePath: string) => {
  const ops = new Set<string>();
  for (const r of createApp(basePath).routes) if (r.method !== "ALL" && !NOT_A_GROUP.has(r.path)) ops.add(`${r.method} ${r.path}`);
  return [...ops].sort();
};
const mounted = (group: RouteGroup, basePath: string) =>
  operationsOf(group).map((op) => {
    const [method, path] = op.split(" ");
    const at = ROUTE_GROUPS[group].at === "root" ? "" : basePath;
    return `${method} ${at}${path}`;
  });

async function lazyFetch(app: ReturnType<typeof createLazyApp>, path: string, init: RequestInit = {}) {
  const headers = new Headers(init.headers);
  headers.set("cf-connecting-ip", freshIp());
  const ctx = createExecutionContext();
  const res = await app.fetch(new Request(`http://auth.test${path}`, { ...init, headers }), testEnv, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

describe("route groups built on first use", () => {
  it.each(GROUPS)("the manifest lists what group %s builds (npm run build:routes when this fails)", (group) => {
    expect([...ROUTE_MANIFEST[group]].sort()).toEqual(operationsOf(group).sort());
  });

  it.each(["/auth", "/api/v1/auth"])("the groups together are the whole app, under %s, and no operation is in two groups", (basePath) => {
    const all = GROUPS.flatMap((g) => mounted(g, basePath));
    expect(new Set(all).size).toBe(all.length);
    expect(all.sort()).toEqual(whole(basePath));
  });

  it("a request builds only its own group; what no group owns builds the whole app", async () => {
    const app = createLazyApp("/auth");
    expect(app.built()).toEqual([]);
    expect((await lazyFetch(app, "/health/live")).status).toBe(200);
    expect(app.built()).toEqual(["system"]);
    expect((await lazyFetch(app, "/auth/me")).status).toBe(401);
    expect((await lazyFetch(app, "/auth/sessions/5d7c3b1a-2e4f-4a6b-8c9d-0e1f2a3b4c5d", { method: "DELETE" })).status).toBe(401);
    expect(app.built()).toEqual(["system", "account", "sessions"]);
    // The old service's root path is the same operation as its base-path name.
    expect((await lazyFetch(app, "/login", { method: "POST", body: "{}", headers: { "content-type": "application/json" } })).status).toBe(
      400,
    );
    expect(app.built()).toEqual(["system", "account", "sessions", "sign-in"]);
    expect((await lazyFetch(app, "/auth/no-such-thing")).status).toBe(404);
    expect(app.built()).toEqual(["system", "account", "sessions", "sign-in", "*"]);
  });

  const REQUESTS: [string, string, RequestInit?][] = [
    ["an unknown path", "/auth/no-such-thing"],
    ["a known path with another method", "/auth/login", { method: "PUT" }],
    ["HEAD of a GET route", "/health/live", { method: "HEAD" }],
    ["a malformed body on a legacy root path", "/login", { method: "POST", body: "{", headers: { "content-type": "application/json" } }],
    ["a protected route without a token", "/auth/sessions", {}],
    ["a parameter that is not a uuid", "/auth/admin/users/nope", { headers: { authorization: "Bearer x" } }],
    [
      "a CORS preflight",
      "/auth/login",
      { method: "OPTIONS", headers: { origin: "https://app.example.com", "access-control-request-method": "POST" } },
    ],
    ["OPTIONS without Origin", "/auth/login", { method: "OPTIONS" }],
    ["the document", "/openapi.json"],
  ];
  it.each(REQUESTS)("%s: the same answer as the whole app", async (_what, path, init = {}) => {
    const fromWorker = await call(path, {
      method: init.method,
      body: init.body as string | undefined,
      headers: Object.fromEntries(new Headers(init.headers)),
    });
    const headers = new Headers(init.headers);
    headers.set("cf-connecting-ip", freshIp());
    const ctx = createExecutionContext();
    const fromWhole = await createApp("/auth").request(`http://auth.test${path}`, { ...init, headers }, testEnv, ctx);
    await waitOnExecutionContext(ctx);
    expect(fromWorker.status).toBe(fromWhole.status);
    for (const h of ["allow", "access-control-allow-origin", "access-control-allow-methods", "content-type", "cache-control"])
      expect(fromWorker.headers.get(h), h).toBe(fromWhole.headers.get(h));
    const body = async (r: Response) => {
      const text = await r.text();
      return /json/.test(r.headers.get("content-type") ?? "") && text ? { ...JSON.parse(text), request_id: undefined } : text;
    };
    expect(await body(fromWorker)).toEqual(await body(fromWhole));
  });
});
