import Ajv2020, { type ValidateFunction } from "ajv/dist/2020";
import addFormats from "ajv-formats";
import fc from "fast-check";
import { describe, expect, inject, it } from "vitest";
import { type Registered, registerUser, verifyAndLogIn } from "../support/accounts";
import { type AdminAccount, adminAccount } from "../support/admin";
import { fakeClock } from "../support/clock";
import { withDb } from "../support/db";
import { loginWithMfa } from "../support/mfa";
import { arbitraryOf, type Doc, type Operation, type Parameter, resolve, type Schema, useUris } from "../support/openapi-arbitraries";
import { serviceClient, type TestServiceClient } from "../support/services";
import { call } from "../support/worker";

/**
 * Issue 33: the document is the contract. For every operation of /openapi.json and every auth
 * state (anonymous, a signed-in user, an admin with MFA, a service client), requests generated
 * from the document (schema-valid ones, and boundary and hostile ones) go through the Worker;
 * every answer must be a status the operation declares (never a 5xx), an error code listed for
 * that status, and a body (and the headers it promises) valid against the declared schema
 * (JSON Schema 2020-12, Ajv).
 *
 * Deterministic by seed: CONTRACT_SEED (default 33), e.g.
 *   CONTRACT_SEED=7 npx vitest run test/routes/contract.test.ts
 * A failure prints the seed, the operation, the auth state and the request.
 */

const SEED = inject("contractSeed");
// Every address the document asks for points at this machine: the local webhook receiver, a closed port.
useUris([inject("webhookReceiver"), "http://127.0.0.1:9/callback"]);
/** Generated requests per operation and auth state. */
const PER_OPERATION = 20;
const METHODS = ["get", "post", "put", "patch", "delete"] as const;
const STATES = ["anonymous", "user", "admin", "service"] as const;
type State = (typeof STATES)[number];

interface Op {
  path: string;
  method: string;
  op: Operation;
}

interface GeneratedRequest {
  path: Record<string, unknown>;
  query: Record<string, unknown>;
  /** The body as declared, in one of its media types, or a variant that breaks it. */
  body?: { type: string; value: unknown };
  variant: "declared" | "malformed" | "other-type" | "none";
  /** A query parameter the operation does not declare (boundary requests only). */
  extra?: [string, string];
  /** CF-Connecting-IP as a client off Cloudflare can forge it (boundary requests only; else a fresh address). */
  clientIp?: string;
  /** The media type a malformed body pretends to be. */
  malformedAs: string;
}

/** Percent-encoding of any text, also with lone surrogates (sent as their WTF-8 bytes). */
function pct(text: string): string {
  try {
    return encodeURIComponent(text);
  } catch {
    return text
      .replace(/[\ud800-\udfff]/g, "\uffff")
      .replace(/[^\uffff]+/g, encodeURIComponent)
      .replace(/\uffff/g, "%ED%A0%80");
  }
}

const asText = (v: unknown) => (typeof v === "string" ? v : (JSON.stringify(v) ?? ""));

/** The request's URL: path parameters filled in (never a value that is another path), the query string. */
function urlOf({ path, op }: Op, req: GeneratedRequest): string {
  const filled = path.replace(/\{([^}]+)\}/g, (_, name: string) => {
    const v = asText(req.path[name]);
    return pct(v === "" || v === "." || v === ".." ? `x${v}` : v);
  });
  const params = op.parameters ?? [];
  const query = Object.entries(req.query)
    .filter(([name, v]) => v !== undefined && params.some((p) => p.in === "query" && p.name === name))
    .map(([k, v]) => `${pct(k)}=${pct(asText(v))}`);
  if (req.extra) query.push(`${pct(req.extra[0])}=${pct(req.extra[1])}`);
  return query.length ? `${filled}?${query.join("&")}` : filled;
}

/** A field of a multipart body: a file where the schema says binary. */
function formOf(doc: Doc, schema: Schema, value: unknown): FormData {
  const form = new FormData();
  const s = (typeof schema === "object" && schema.$ref ? resolve(doc, schema.$ref) : schema) as Record<string, any>;
  for (const [k, v] of Object.entries((value ?? {}) as Record<string, unknown>)) {
    const prop = s?.properties?.[k];
    const binary = prop && (prop.format === "binary" || prop.contentMediaType || prop.type === undefined);
    if (binary) form.set(k, new File([new TextEncoder().encode(asText(v))], "upload.png", { type: "image/png" }));
    else form.set(k, asText(v));
  }
  return form;
}

/** What the Worker is sent: the body encoded as its media type says (or broken on purpose). */
function bodyOf(doc: Doc, { op, method }: Op, req: GeneratedRequest): { body?: BodyInit; headers: Record<string, string> } {
  // (A GET cannot carry a body: fetch refuses to send one.)
  if (req.variant === "none" || !req.body || method === "get") return { headers: {} };
  const { type, value } = req.body;
  if (req.variant === "malformed") {
    const as = req.malformedAs;
    if (as === "multipart/form-data")
      return {
        body: '--b\r\nContent-Disposition: form-data; name="a"\r\n\r\nx',
        headers: { "content-type": "multipart/form-data; boundary=b" },
      };
    if (as === "application/x-www-form-urlencoded") return { body: "a=%zz&&=", headers: { "content-type": as } };
    return { body: '{"a":', headers: { "content-type": "application/json" } };
  }
  const declared = op.requestBody?.content ?? {};
  const schema = declared[type]?.schema ?? {};
  if (type === "multipart/form-data") return { body: formOf(doc, schema, value), headers: {} };
  if (type === "application/x-www-form-urlencoded") {
    const form = new URLSearchParams();
    for (const [k, v] of Object.entries((value ?? {}) as Record<string, unknown>)) form.set(k, asText(v));
    return { body: form.toString(), headers: { "content-type": type } };
  }
  return { body: JSON.stringify(value), headers: { "content-type": "application/json" } };
}

/** CF-Connecting-IP values a client can send where no Cloudflare edge sets the header. */
const FORGED_IPS = [
  "a".repeat(2000),
  "203.0.113.1, 203.0.113.2, 203.0.113.3, 203.0.113.4, 203.0.113.5, 2001:db8::1",
  "unknown",
  "010.0.0.1",
  "::ffff:198.51.100.7",
  "2001:DB8:0:0:0:0:0:1",
  "fe80::1%eth0",
];

/** The generated requests of an operation, schema-valid or at and past the boundaries. */
function requestArbitrary(doc: Doc, { op }: Op, knownIds: string[]): fc.Arbitrary<GeneratedRequest> {
  const paramsOf = (where: Parameter["in"], boundary: boolean) => {
    const params = (op.parameters ?? []).filter((p) => p.in === where);
    return fc.record(
      Object.fromEntries(
        params.map((p) => {
          let value = arbitraryOf(doc, p.schema, boundary);
          // Ids of accounts that exist (throwaway ones), besides made-up ones.
          if (p.name.endsWith("id") && knownIds.length) value = fc.oneof(value, fc.constantFrom(...knownIds));
          return [p.name, value];
        }),
      ),
      { requiredKeys: params.filter((p) => p.required || where === "path").map((p) => p.name) },
    );
  };
  const types = Object.keys(op.requestBody?.content ?? {});
  const bodyArb = (boundary: boolean) =>
    types.length
      ? fc
          .constantFrom(...types)
          .chain((type) => arbitraryOf(doc, op.requestBody!.content[type].schema, boundary).map((value) => ({ type, value })))
      : fc.constant(undefined);
  const one = (boundary: boolean) =>
    fc.record({
      path: paramsOf("path", boundary),
      query: paramsOf("query", boundary),
      body: bodyArb(boundary),
      variant: boundary
        ? fc.constantFrom<GeneratedRequest["variant"]>("declared", "declared", "declared", "malformed", "other-type", "none")
        : fc.constant<GeneratedRequest["variant"]>("declared"),
      extra: boundary
        ? fc.option(fc.tuple(fc.constantFrom("x", "utm_source", "q\u0000"), fc.constantFrom("1", "\u0000", "\ud800", "a".repeat(3000))), {
            nil: undefined,
          })
        : fc.constant(undefined),
      clientIp: boundary ? fc.option(fc.constantFrom(...FORGED_IPS), { nil: undefined }) : fc.constant(undefined),
      malformedAs: fc.constantFrom("application/json", "multipart/form-data", "application/x-www-form-urlencoded"),
    });
  return fc.oneof({ weight: 3, arbitrary: one(false) }, { weight: 2, arbitrary: one(true) }).map((r) => {
    // Another media type: a JSON operation sent a form, a form operation sent JSON; no body declared: one anyway.
    if (r.variant === "other-type" || (r.variant === "malformed" && !r.body)) {
      const value = r.body?.value ?? { unexpected: "body" };
      const type = r.body?.type === "application/json" ? "multipart/form-data" : "application/json";
      return { ...r, body: { type, value }, variant: r.variant === "malformed" ? "malformed" : "declared" } as GeneratedRequest;
    }
    return r as GeneratedRequest;
  });
}

/** The credentials of each auth state, re-created whenever a request ended them. */
class Credentials {
  readonly clock = fakeClock();
  user?: Registered;
  admin?: AdminAccount;
  service?: TestServiceClient;
  /** Throwaway accounts, for the admin's and the services' operations on an account. */
  throwaway: string[] = [];

  async setUp() {
    for (let i = 0; i < 4; i++) this.throwaway.push((await registerUser({}, { now: this.clock.now })).user.id);
    await this.freshUser();
    await this.freshAdmin();
    await this.freshService();
  }

  async freshUser() {
    this.user = await verifyAndLogIn(await registerUser({}, { now: this.clock.now }), { now: this.clock.now });
  }

  async freshAdmin() {
    this.admin = await adminAccount(this.clock);
    this.adminIds.push(this.admin.user.user.id);
  }

  /** Every admin this run made: the webhook endpoints they created are deleted at the end. */
  adminIds: string[] = [];

  /**
   * Deletes the webhook endpoints the generated requests created (through the admin API): they
   * subscribe to every account's events, and would keep delivering during the rest of the suite.
   */
  async deleteWebhooks() {
    const rows = await withDb((sql) => sql`select id from auth_webhook_endpoints where created_by in ${sql(this.adminIds)}`);
    if (!rows.length) return;
    await this.freshAdmin();
    for (const { id } of rows) {
      const res = await call(`/auth/admin/webhooks/${id}`, { method: "DELETE", token: this.admin!.token, now: this.clock.now });
      expect([200, 404], await res.clone().text()).toContain(res.status);
    }
  }

  async freshService() {
    this.service = await serviceClient(this.admin!, this.clock, ["events:read", "tokens:introspect", "users:read"], "Contract test");
  }

  headers(state: State): Record<string, string> {
    if (state === "user") return { authorization: `Bearer ${this.user!.access_token}` };
    if (state === "admin") return { authorization: `Bearer ${this.admin!.token}` };
    if (state === "service") return { authorization: this.service!.authorization };
    return {};
  }

  private alive = async (token: string) => (await call("/auth/me", { token, now: this.clock.now })).status === 200;

  /** After a request that may have ended the state's session (logout, deletion, a new password...): a new one. */
  async restore(state: State, method: string, status: number, code: string | undefined) {
    const mayHaveEnded = (method !== "get" && status < 300) || status === 401 || status === 403;
    if (state === "user" && mayHaveEnded && !(await this.alive(this.user!.access_token))) await this.freshUser();
    if (state === "admin" && mayHaveEnded && !(await this.alive(this.admin!.token))) {
      try {
        const session = await loginWithMfa(this.admin!, this.clock);
        this.admin = { ...this.admin!, token: session.access_token, refreshToken: session.refresh_token };
      } catch {
        await this.freshAdmin();
      }
      if (!(await this.alive(this.admin!.token))) await this.freshAdmin();
    }
    if (state === "service" && code === "invalid_client") {
      if (!(await this.alive(this.admin!.token))) await this.freshAdmin();
      await this.freshService();
    }
  }
}

/** Ajv (JSON Schema 2020-12) over the whole document: response schemas are validated where they are. */
function validatorOf(doc: Doc) {
  const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: true });
  addFormats(ajv);
  ajv.addSchema({ ...doc, $id: "openapi" });
  const cache = new Map<string, ValidateFunction>();
  return (pointer: string, value: unknown): string | null => {
    let validate = cache.get(pointer);
    if (!validate) {
      validate = ajv.compile({ $ref: `openapi#${pointer}` });
      cache.set(pointer, validate);
    }
    return validate(value) ? null : ajv.errorsText(validate.errors, { dataVar: "body" });
  };
}

const pointerSegment = (segment: string) => segment.replace(/~/g, "~0").replace(/\//g, "~1");

/** Headers present on every answer that declares them (the others are conditional: CORS, redirects). */
const ALWAYS = new Set(["x-request-id", "retry-after"]);

/** What is wrong with an answer, by the document; null when nothing is. */
async function violation(
  doc: Doc,
  validate: ReturnType<typeof validatorOf>,
  { path, method, op }: Op,
  res: Response,
): Promise<string | null> {
  const status = String(res.status);
  const text = await res.text();
  const show = () => `${status} ${text.slice(0, 300)}`;
  if (res.status >= 500) return `a ${status}: ${show()}`;
  const declared = op.responses[status] ?? op.responses.default;
  if (!declared) return `status ${status} is not declared (${Object.keys(op.responses).join(", ")}): ${show()}`;
  for (const [name, header] of Object.entries(declared.headers ?? {})) {
    const h = (header.$ref ? resolve(doc, header.$ref) : header) as { schema?: Schema };
    const value = res.headers.get(name);
    if (value === null) {
      if (ALWAYS.has(name.toLowerCase())) return `header ${name} is declared on ${status} but missing: ${show()}`;
      continue;
    }
    const typed = typeof h.schema === "object" && h.schema.type === "integer" && /^\d+$/.test(value) ? Number(value) : value;
    const pointer = header.$ref
      ? `${header.$ref.slice(1)}/schema`
      : `/paths/${pointerSegment(path)}/${method}/responses/${status}/headers/${pointerSegment(name)}/schema`;
    const problem = validate(pointer, typed);
    if (problem) return `header ${name}: ${problem} (${value.slice(0, 100)})`;
  }
  const json = declared.content?.["application/json"];
  if (!json) return null;
  let body: any;
  try {
    body = JSON.parse(text);
  } catch {
    return `not JSON: ${show()}`;
  }
  const problem = validate(`/paths/${pointerSegment(path)}/${method}/responses/${status}/content/application~1json/schema`, body);
  if (problem) return `body does not match the schema of ${status}: ${problem}: ${show()}`;
  // The document lists the codes of each status as its examples (errorResponses() in src/routes/route.ts).
  if (body?.status === "error" && !(json.examples && body.code in json.examples))
    return `code ${body.code} is not listed for ${status} (${Object.keys(json.examples ?? {}).join(", ")}): ${show()}`;
  return null;
}

/**
 * The parameters of a request that break their declared schemas (query and path parameters, as
 * text: an integer must be written in decimal digits). Such a request must not succeed.
 */
function invalidParameters(validate: ReturnType<typeof validatorOf>, { path, method, op }: Op, req: GeneratedRequest): string[] {
  return (op.parameters ?? []).flatMap((p, i) => {
    const raw = (p.in === "path" ? req.path : p.in === "query" ? req.query : {})[p.name];
    if (raw === undefined) return p.required && p.in === "query" ? [`${p.name} missing`] : [];
    const text = asText(raw);
    const schema = p.schema as Record<string, any>;
    const integer = schema.type === "integer" || (Array.isArray(schema.type) && schema.type.includes("integer"));
    const value = integer && /^-?\d+$/.test(text) ? Number(text) : text;
    return validate(`/paths/${pointerSegment(path)}/${method}/parameters/${i}/schema`, value) ? [`${p.name}=${text.slice(0, 40)}`] : [];
  });
}

const describeRequest = (url: string, method: string, req: GeneratedRequest) =>
  `${method.toUpperCase()} ${url.slice(0, 200)} [${req.variant}${req.body ? ` ${req.body.type}` : ""}] ${JSON.stringify(req.body?.value ?? null)?.slice(0, 200)}`;

/** The document as the Worker serves it, and its operations. */
const doc = (await (await call("/openapi.json")).json()) as Doc;
const ops: Op[] = Object.entries(doc.paths).flatMap(([path, item]) =>
  METHODS.filter((m) => item[m]).map((method) => ({ path, method, op: item[method] })),
);

describe("the OpenAPI document is the contract", () => {
  it(
    `each of its ${ops.length} operations, in ${STATES.length} auth states, ${PER_OPERATION} requests each (seed ${SEED}), answers only what it declares`,
    async () => {
      const validate = validatorOf(doc);
      const creds = new Credentials();
      await creds.setUp();
      const failures = new Map<string, string>();
      const covered = new Set<string>();
      for (const [i, entry] of ops.entries()) {
        for (const [j, state] of STATES.entries()) {
          const knownIds = state === "admin" || state === "service" ? creds.throwaway : [];
          const requests = fc.sample(requestArbitrary(doc, entry, knownIds), { seed: SEED * 1000 + i * 10 + j, numRuns: PER_OPERATION });
          expect(requests.length).toBe(PER_OPERATION);
          for (const req of requests) {
            const url = urlOf(entry, req);
            const { body, headers } = bodyOf(doc, entry, req);
            const res = await call(url, {
              method: entry.method.toUpperCase(),
              body,
              headers: { ...headers, ...creds.headers(state), ...(req.clientIp ? { "cf-connecting-ip": req.clientIp } : {}) },
              now: creds.clock.now,
            });
            const invalid = invalidParameters(validate, entry, req);
            const problem =
              invalid.length && res.status < 400
                ? `${res.status} to parameters the document does not allow (${invalid.join(", ")})`
                : await violation(doc, validate, entry, res.clone());
            if (problem) {
              const key = `${entry.method.toUpperCase()} ${entry.path} (${state}): ${problem.slice(0, 120)}`;
              if (!failures.has(key)) failures.set(key, `${problem}\n    request: ${describeRequest(url, entry.method, req)}`);
            }
            const code = res.status >= 400 ? ((await res.json().catch(() => ({}))) as { code?: string }).code : undefined;
            await creds.restore(state, entry.method, res.status, code);
          }
        }
        covered.add(`${entry.method} ${entry.path}`);
      }
      await creds.deleteWebhooks();
      console.log(
        `contract (seed ${SEED}): ${covered.size} of ${ops.length} operations × ${STATES.length} auth states × ${PER_OPERATION} requests`,
      );
      const report = [...failures].map(([k, v]) => `${k}\n  ${v}`).join("\n");
      expect(failures.size, `seed ${SEED}: ${failures.size} violations\n${report}`).toBe(0);
      expect(covered.size).toBe(ops.length);
    },
    30 * 60_000,
  );
});
