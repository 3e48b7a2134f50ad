import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import type { z } from "@hono/zod-openapi";
import { describe, expect, it } from "vitest";
import { createApp } from "../../src/app";
import { createClient } from "../../src/client";
import worker from "../../src/index";
import { legacyAliases } from "../../src/routes/legacy-paths";
import { ErrorSchema } from "../../src/routes/schemas";
import { PASSWORD, uniqueEmail } from "../support/accounts";
import { call, freshIp, json, testEnv } from "../support/worker";

/** The document and the page that renders it are not part of the document. */
const NOT_DOCUMENTED = new Set(["/openapi.json", "/docs"]);
const HTTP_METHODS = ["get", "post", "put", "patch", "delete", "head", "options"];

type Doc = {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Schema>; securitySchemes?: Record<string, unknown>; responses?: Record<string, any> };
};
type Schema = { $ref?: string; example?: unknown; [k: string]: unknown };
type Media = { schema?: Schema; example?: unknown };
type Operation = {
  security?: Record<string, string[]>[];
  requestBody?: { content: Record<string, Media> };
  responses: Record<string, { description: string; content?: Record<string, Media>; headers?: Record<string, unknown> }>;
};

async function loadDoc(env?: Record<string, unknown>): Promise<Doc> {
  const res = await call("/openapi.json", { env });
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toMatch(/application\/json/);
  return json<Doc>(res);
}

/**
 * What the app really serves: Hono's route table, `:id` params as OpenAPI `{id}`, middleware (ALL)
 * left out, plus the root-path aliases of its routes (rewritten to them before routing).
 */
function servedRoutes(basePath = "/auth"): string[] {
  const served = new Set<string>();
  const aliasOf = new Map([...legacyAliases(basePath)].map(([alias, canonical]) => [canonical, alias]));
  for (const r of createApp(basePath).routes) {
    if (r.method === "ALL") continue;
    const path = r.path.replace(/:([A-Za-z0-9_]+)(\{[^}]*\})?/g, "{$1}");
    if (NOT_DOCUMENTED.has(path)) continue;
    served.add(`${r.method.toUpperCase()} ${path}`);
    if (aliasOf.has(path)) served.add(`${r.method.toUpperCase()} ${aliasOf.get(path)}`);
  }
  return [...served].sort();
}

function documentedRoutes(doc: Doc): string[] {
  return Object.entries(doc.paths)
    .flatMap(([path, item]) =>
      Object.keys(item)
        .filter((m) => HTTP_METHODS.includes(m))
        .map((m) => `${m.toUpperCase()} ${path}`),
    )
    .sort();
}

/** The example a reader sees for a media type: its own, or the one of its (referenced) schema. */
/** Operations whose answer (besides errors) may be an HTML page for the browser rather than JSON. */
const HTML_PAGES = ["POST /auth/oauth/{provider}/callback"];

function exampleOf(doc: Doc, media: Media | undefined): { found: boolean; value?: unknown } {
  if (!media) return { found: false };
  if (media.example !== undefined) return { found: true, value: media.example };
  let schema = media.schema;
  if (schema?.$ref) schema = doc.components.schemas[schema.$ref.replace("#/components/schemas/", "")];
  if (schema?.example !== undefined) return { found: true, value: schema.example };
  return { found: false };
}

const operations = (doc: Doc) =>
  Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.entries(item)
      .filter(([m]) => HTTP_METHODS.includes(m))
      .map(([method, op]) => ({ path, method, op })),
  );

describe("GET /openapi.json", () => {
  it("documents every route the app serves, and only those", async () => {
    const doc = await loadDoc();
    expect(doc.openapi).toBe("3.1.0");
    const served = servedRoutes();
    // The areas every deployment has, so a broken route table can't pass as "both empty".
    expect(served).toEqual(
      expect.arrayContaining([
        "POST /auth/register",
        "POST /auth/login",
        "GET /auth/me",
        "DELETE /auth/sessions/{id}",
        "GET /health",
        "GET /health/live",
        "GET /.well-known/jwks.json",
      ]),
    );
    expect(documentedRoutes(doc)).toEqual(served);
  });

  it("follows BASE_PATH", async () => {
    const doc = await loadDoc({ BASE_PATH: "/api/v2" });
    expect(documentedRoutes(doc)).toEqual(servedRoutes("/api/v2"));
    expect(Object.keys(doc.paths)).toContain("/api/v2/login");
    expect(Object.keys(doc.paths)).not.toContain("/auth/login");
  });

  it("gives every operation JSON responses with a shape, the errors the middleware can answer, and examples", async () => {
    const doc = await loadDoc();
    const problems: string[] = [];
    for (const { path, method, op } of operations(doc)) {
      const where = `${method.toUpperCase()} ${path}`;
      const statuses = Object.keys(op.responses);
      if (!statuses.some((s) => s.startsWith("2") || s.startsWith("3"))) problems.push(`${where}: no success response`);
      const needed = ["500", ...(["post", "put", "patch"].includes(method) ? ["415"] : []), ...(op.requestBody ? ["400", "413"] : [])];
      for (const s of needed) if (!statuses.includes(s)) problems.push(`${where}: ${s} not documented`);
      let examples = 0;
      for (const [status, response] of Object.entries(op.responses)) {
        // A redirect has no body: it says where it points.
        if (status.startsWith("3")) {
          if (!response.headers?.Location) problems.push(`${where} ${status}: a redirect without a Location header`);
          continue;
        }
        // JSON everywhere, but for the one page a browser is shown (the form_post re-posting page of the web flow).
        const media = response.content?.["application/json"] ?? (HTML_PAGES.includes(where) ? response.content?.["text/html"] : undefined);
        if (!media?.schema) {
          problems.push(`${where} ${status}: no JSON schema`);
          continue;
        }
        if (exampleOf(doc, media).found) examples++;
        else problems.push(`${where} ${status}: no example`);
      }
      for (const [type, media] of Object.entries(op.requestBody?.content ?? {}))
        if (type === "application/json" && !exampleOf(doc, media).found) problems.push(`${where} request body: no example`);
      if (examples === 0) problems.push(`${where}: no example at all`);
    }
    expect(problems).toEqual([]);
    expect(doc.components.responses?.NotFound?.content["application/json"].schema).toEqual({ $ref: "#/components/schemas/Error" });
    expect(doc.components.responses?.MethodNotAllowed?.content["application/json"].schema).toEqual({ $ref: "#/components/schemas/Error" });
  });

  it("drives every documented example through the zod schema that validates or shapes it", async () => {
    const doc = await loadDoc();
    const app = createApp("/auth");
    const failures: string[] = [];
    let checked = 0;
    const check = (where: string, schema: unknown, media: Media | undefined) => {
      const ex = exampleOf(doc, media);
      if (!ex.found) return;
      checked++;
      const result = (schema as z.ZodType).safeParse(ex.value);
      if (!result.success) failures.push(`${where}: ${result.error.issues.map((i) => `${i.path.join(".")} ${i.message}`).join("; ")}`);
    };
    for (const def of app.openAPIRegistry.definitions) {
      if (def.type !== "route") continue;
      const { method, path, request, responses } = def.route;
      const op = doc.paths[path]?.[method];
      expect(op, `${method} ${path} in the document`).toBeDefined();
      for (const [type, media] of Object.entries(request?.body?.content ?? {}))
        if (type === "application/json")
          check(`${method} ${path} request`, (media as { schema: unknown }).schema, op.requestBody?.content[type]);
      for (const [status, response] of Object.entries(responses))
        for (const [type, media] of Object.entries((response as { content?: Record<string, { schema: unknown }> }).content ?? {}))
          check(`${method} ${path} ${status}`, media.schema, op.responses[status]?.content?.[type]);
    }
    expect(failures).toEqual([]);
    expect(checked).toBeGreaterThan(50);
  });

  it("declares the bearer scheme on protected operations, and they answer 401 without a token", async () => {
    const doc = await loadDoc();
    expect(doc.components.securitySchemes?.bearerAuth).toEqual({
      type: "http",
      scheme: "bearer",
      bearerFormat: "JWT",
      description: expect.stringContaining("RFC8725"),
    });
    expect(doc.components.securitySchemes?.adminAuth).toMatchObject({ type: "http", scheme: "bearer" });
    expect(doc.components.securitySchemes?.serviceClient).toMatchObject({ type: "http", scheme: "basic" });
    // Secured: every alternative needs the token or the service client's credentials (an operation
    // that also lists `{}` is open to anonymous callers).
    const secured = operations(doc).filter(
      ({ op }) =>
        op.security?.some((s) => "bearerAuth" in s || "adminAuth" in s || "serviceClient" in s) &&
        !op.security.some((s) => Object.keys(s).length === 0),
    );
    expect(secured.map((o) => `${o.method} ${o.path}`)).toEqual(expect.arrayContaining(["get /auth/me", "post /auth/logout"]));
    for (const { path, method, op } of operations(doc)) {
      const res = await call(path.replace("{id}", crypto.randomUUID()), { method: method.toUpperCase() });
      const where = `${method.toUpperCase()} ${path}`;
      if (secured.some((s) => s.op === op)) {
        expect(res.status, where).toBe(401);
        expect(Object.keys(op.responses), where).toContain("401");
      } else {
        expect(res.status, where).not.toBe(401);
      }
      // Whatever it answered is a documented status of this operation.
      expect(Object.keys(op.responses), `${where} answered ${res.status}`).toContain(String(res.status));
    }
  });

  it("the errors the middleware answers have the documented Error shape", async () => {
    const doc = await loadDoc();
    const login = doc.paths["/auth/login"].post;

    const wrongMethod = await call("/auth/login", { method: "GET" });
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get("allow")).toBe("POST");
    expect(ErrorSchema.parse(await wrongMethod.json()).code).toBe("method_not_allowed");

    const unknown = await call("/auth/nope");
    expect(unknown.status).toBe(404);
    expect(ErrorSchema.parse(await unknown.json()).code).toBe("not_found");

    const noType = await call("/auth/login", { body: "{}", headers: {} });
    expect(noType.status).toBe(415);
    expect(ErrorSchema.parse(await noType.json()).code).toBe("unsupported_media_type");
    expect(login.responses["415"]).toBeDefined();

    const big = await call("/auth/login", { body: { email: "a@example.com", password: "x".repeat(20_000) } });
    expect(big.status).toBe(413);
    expect(ErrorSchema.parse(await big.json()).code).toBe("payload_too_large");
    expect(login.responses["413"]).toBeDefined();

    const misconfigured = await call("/auth/login", { body: { email: "a@example.com", password: "x" }, env: { JWT_ALG: "none" } });
    expect(misconfigured.status).toBe(500);
    expect(ErrorSchema.parse(await misconfigured.json()).code).toBe("internal_error");
    expect(login.responses["500"]).toBeDefined();
  });
});

describe("GET /docs", () => {
  it("serves the API reference page for /openapi.json under a strict, nonce-based CSP", async () => {
    const res = await call("/docs");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/text\/html/);
    const html = await res.text();
    const nonce = /<script src="\/docs\/scalar\.js" nonce="([^"]+)"><\/script>/.exec(html)?.[1];
    expect(nonce).toBeTruthy();
    expect(html).toContain('"url": "/openapi.json"');
    expect(html).toContain("Scalar.createApiReference('#app'");
    const csp = res.headers.get("content-security-policy") ?? "";
    expect(csp).toContain(`script-src 'self' 'nonce-${nonce}'`);
    expect(csp).toContain("connect-src 'self'");
    expect(csp).toContain("default-src 'none'");
    expect(csp).not.toContain("unsafe-eval");
    // A fresh nonce per response.
    const again = await (await call("/docs")).text();
    expect(again).not.toContain(nonce!);
  });
});

describe("typed client (src/client.ts)", () => {
  /** hc's fetch, routed into the Worker's own fetch handler. */
  const ip = freshIp();
  const intoWorker: typeof fetch = async (input, init) => {
    const request = new Request(input, init);
    const headers = new Headers(request.headers);
    headers.set("cf-connecting-ip", ip);
    const ctx = createExecutionContext();
    const res = await worker.fetch(new Request(request, { headers }) as Request<unknown, IncomingRequestCfProperties>, testEnv, ctx);
    await waitOnExecutionContext(ctx);
    return res;
  };

  it("registers, logs in and reads /me with typed requests and responses", async () => {
    const email = uniqueEmail("client");
    const api = createClient("http://auth.test", { fetch: intoWorker });

    const registered = await api.auth.register.$post({ json: { full_name: "Client User", email, password: PASSWORD, role: "student" } });
    expect(registered.status).toBe(201);

    const login = await api.auth.login.$post({ json: { email, password: PASSWORD } });
    expect(login.status).toBe(200);
    if (login.status !== 200) throw new Error("login failed");
    const tokens = await login.json(); // typed: AuthResponse | MfaRequired
    if (tokens.status !== "success") throw new Error("no second factor was enrolled");
    expect(tokens.token_type).toBe("Bearer");

    const me = await createClient("http://auth.test", { fetch: intoWorker, token: tokens.access_token }).auth.me.$get();
    expect(me.status).toBe(200);
    if (me.status !== 200) throw new Error("me failed");
    const body = await me.json();
    expect(body.user.email).toBe(email);
    expect(body.user.full_name).toBe("Client User");

    const anonymous = await api.auth.me.$get();
    expect(anonymous.status).toBe(401);

    // Errors are thrown, not returned, by the handlers: their bodies are the one Error shape.
    const wrong = await api.auth.login.$post({ json: { email, password: "not the password" } });
    expect(wrong.status).toBe(401);
    expect(wrong.ok).toBe(false);
    expect(ErrorSchema.parse(await wrong.json()).code).toBe("invalid_credentials");
  });
});
