import { describe, expect, it } from "vitest";
import { registerUser } from "../support/accounts";
import { adminAccount } from "../support/admin";
import { fakeClock } from "../support/clock";
import { withDb } from "../support/db";
import { serviceClient } from "../support/services";
import { call, json } from "../support/worker";

// Text PostgreSQL cannot store (NUL, lone UTF-16 surrogates) is refused with 400 on every string
// field of every endpoint, driven from the OpenAPI document so new endpoints are covered too.

type Schema = { type?: string | string[]; properties?: Record<string, Schema>; anyOf?: Schema[]; oneOf?: Schema[]; $ref?: string };
type Doc = { paths: Record<string, Record<string, any>>; components: { schemas: Record<string, Schema> } };

const HOSTILE = { nul: "ab\u0000cd", loneHigh: "ab\ud800cd", loneLow: "\udc00abc" };

const deref = (doc: Doc, s: Schema): Schema => (s.$ref ? doc.components.schemas[s.$ref.split("/").pop()!] : s);
const isString = (doc: Doc, s: Schema): boolean => {
  const d = deref(doc, s);
  if (d.type === "string" || (Array.isArray(d.type) && d.type.includes("string"))) return true;
  return [...(d.anyOf ?? []), ...(d.oneOf ?? [])].some((x) => isString(doc, x));
};

describe("NUL bytes and lone surrogates", () => {
  it("every string field of every JSON endpoint answers 400 validation_failed, never 500, and changes nothing", async () => {
    const doc = (await (await call("/openapi.json")).json()) as Doc;
    const u = await registerUser();
    // The admin API is reached with an admin's session (MFA verified, at the clock's time).
    const clock = fakeClock();
    const admin = await adminAccount(clock);
    // The service routes are reached with a service client's credentials.
    const service = await serviceClient(admin, clock);
    const before = await withDb((sql) => sql`select count(*)::int as n from users`);
    let checked = 0;
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        const schema = op.requestBody?.content?.["application/json"]?.schema as Schema | undefined;
        if (!schema) continue;
        const props = deref(doc, schema).properties ?? {};
        for (const [field, fieldSchema] of Object.entries(props)) {
          if (!isString(doc, fieldSchema)) continue;
          for (const [kind, value] of Object.entries(HOSTILE)) {
            const body: Record<string, unknown> = { [field]: value };
            const asAdmin = op.security?.some((s: Record<string, unknown>) => "adminAuth" in s);
            const asService = op.security?.some((s: Record<string, unknown>) => "serviceClient" in s);
            const res = await call(path.replace(/\{[^}]+\}/g, "00000000-0000-4000-8000-000000000000"), {
              method: method.toUpperCase(),
              body,
              token: asAdmin ? admin.token : op.security && !asService ? u.access_token : undefined,
              headers: asService ? { authorization: service.authorization } : undefined,
              now: asAdmin ? clock.now : undefined,
            });
            expect(res.status, `${method} ${path} ${field} (${kind})`).toBe(400);
            const answer = await json(res);
            expect(answer.code, `${method} ${path} ${field} (${kind})`).toBe("validation_failed");
            checked++;
          }
        }
      }
    }
    expect(checked).toBeGreaterThan(20);
    const after = await withDb((sql) => sql`select count(*)::int as n from users`);
    expect(after).toEqual(before);
  });

  it("hostile keys, nested values and query parameters are refused too", async () => {
    for (const body of [
      { ["e\u0000mail"]: "x@example.com", password: "x" },
      { email: "x@example.com", password: "x", extra: ["ok", { deep: "\ud800" }] },
    ]) {
      const res = await call("/auth/login", { body });
      expect(res.status).toBe(400);
      expect((await json(res)).code).toBe("validation_failed");
    }
    const res = await call(`/auth/sessions?x=${encodeURIComponent("\u0000")}`, { token: (await registerUser()).access_token });
    expect(res.status).toBe(400);
  });

  it("multipart field names, values and file names on update-profile", async () => {
    const u = await registerUser();
    const forms: FormData[] = [];
    const a = new FormData();
    a.set("full_name", "Ada\u0000Lovelace");
    forms.push(a);
    const b = new FormData();
    b.set("full\u0000name", "Ada");
    forms.push(b);
    // (A lone surrogate cannot travel in multipart: FormData and UTF-8 turn it into U+FFFD.)
    const c = new FormData();
    c.set("email", `${u.email}\u0000`);
    forms.push(c);
    const d = new FormData();
    d.set("avatar", new File([new Uint8Array([1, 2, 3])], "evil\u0000.png"));
    forms.push(d);
    for (const form of forms) {
      const res = await call("/auth/update-profile", { method: "POST", body: form, token: u.access_token });
      expect(res.status, [...form.keys()].join()).toBe(400);
      expect((await json(res)).code, JSON.stringify([...form.keys()])).toBe("validation_failed");
    }
    const [row] = await withDb((sql) => sql`select full_name from users where id = ${u.user.id}`);
    expect(row.full_name).toBe(u.user.full_name);
  });
});
