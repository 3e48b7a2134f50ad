import fc from "fast-check";

/**
 * fast-check arbitraries from the JSON Schemas (2020-12) of an OpenAPI 3.1 document: values that
 * fit a schema, and boundary values around it (lengths and bounds just inside and just outside,
 * wrong types, text PostgreSQL cannot store). Used by test/routes/contract.test.ts.
 */

export type Schema = Record<string, any> | boolean;
export interface Doc {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Schema> };
}
export interface Parameter {
  name: string;
  in: "path" | "query" | "header" | "cookie";
  required?: boolean;
  schema: Schema;
}
export interface Operation {
  operationId: string;
  security?: Record<string, string[]>[];
  parameters?: Parameter[];
  requestBody?: { required?: boolean; content: Record<string, { schema: Schema }> };
  responses: Record<
    string,
    {
      headers?: Record<string, { $ref?: string; schema?: Schema }>;
      content?: Record<string, { schema: Schema; examples?: Record<string, unknown> }>;
    }
  >;
}

/** A JSON pointer (`#/components/schemas/User`) into the document. */
export function resolve<T>(doc: unknown, ref: string): T {
  return ref
    .replace(/^#\//, "")
    .split("/")
    .map((p) => p.replace(/~1/g, "/").replace(/~0/g, "~"))
    .reduce((node: any, key) => node?.[key], doc) as T;
}

const deref = (doc: Doc, s: Schema): Schema => {
  let out = s;
  for (let i = 0; typeof out === "object" && out.$ref && i < 20; i++) out = resolve<Schema>(doc, out.$ref);
  return out;
};

/** Text PostgreSQL cannot store, and other text a parser may trip on. */
const HOSTILE_TEXT = ["\u0000", "a\u0000b", "\ud800", "x\udc00", "\u202e\u0301", " ", "'; select 1; --", "%00", "\\", "🙂".repeat(3)];

const PROBABLY_EMAIL = fc
  .tuple(fc.stringMatching(/^[a-z0-9][a-z0-9._+-]{0,15}$/), fc.constantFrom("example.com", "example.org", "mail.example.net"))
  .map(([local, domain]) => `${local.replace(/[.]+$/, "")}x@${domain}`);

/**
 * Addresses for `format: uri`: loopback ones by default (a webhook endpoint the admin API accepts
 * is called by the Queue consumer; a name that does not resolve only makes runtime noise).
 */
let URIS = ["http://127.0.0.1:9/hooks", "http://localhost:9/callback"];
export const useUris = (uris: string[]) => {
  URIS = uris;
};

function stringArb(s: Record<string, any>, boundary: boolean): fc.Arbitrary<string> {
  const min: number = s.minLength ?? 0;
  const max: number = s.maxLength ?? 64;
  const fits = (v: string) => [...v].length >= min && [...v].length <= max;
  let valid: fc.Arbitrary<string>;
  if (s.format === "email") valid = PROBABLY_EMAIL;
  else if (s.format === "uuid") valid = fc.uuid({ version: 4 });
  else if (s.format === "date-time")
    valid = fc
      .date({ min: new Date("2000-01-01T00:00:00Z"), max: new Date("2100-01-01T00:00:00Z"), noInvalidDate: true })
      .map((d) => d.toISOString());
  else if (s.format === "uri") valid = fc.constantFrom(...URIS);
  else if (s.pattern) {
    // `^[class]+$` with lengths: the lengths go into the pattern (a filter would almost never meet them).
    const repeated = /^\^(\[[^\]]+\])[+*]\$$/.exec(s.pattern);
    const upTo = Math.max(min, Math.min(max, 64));
    valid = fc.stringMatching(repeated ? new RegExp(`^${repeated[1]}{${min},${upTo}}$`) : new RegExp(s.pattern));
  } else
    valid = fc.oneof(
      fc.string({ minLength: min, maxLength: Math.min(max, 40) }),
      fc.string({ minLength: min, maxLength: Math.min(max, 40), unit: "grapheme" }),
    );
  // Never a filter that could loop: a value that misses the lengths becomes the example (or the shortest text).
  const fallback = typeof s.example === "string" && fits(s.example) ? s.example : "a".repeat(min);
  valid = valid.map((v) => (fits(v) ? v : fallback));
  if (!boundary) return valid;
  const edges = [
    "a".repeat(min),
    "a".repeat(Math.min(max, 5000)),
    "a".repeat(Math.min(max + 1, 5001)),
    ...(min > 0 ? ["a".repeat(min - 1)] : []),
    "",
    "0x10",
    ...HOSTILE_TEXT,
  ];
  return fc.oneof({ weight: 2, arbitrary: valid }, { weight: 3, arbitrary: fc.constantFrom(...edges) });
}

function integerArb(s: Record<string, any>, boundary: boolean): fc.Arbitrary<number> {
  const min = Math.max(s.minimum ?? -(2 ** 31), Number.MIN_SAFE_INTEGER);
  const max = Math.min(s.maximum ?? 2 ** 31 - 1, Number.MAX_SAFE_INTEGER);
  const valid = max - min <= 2 ** 31 ? fc.integer({ min, max }) : fc.oneof(fc.integer({ min, max: min + 1000 }), fc.constantFrom(min, max));
  if (!boundary) return valid;
  return fc.oneof(
    valid,
    fc.constantFrom(min, max, min - 1, max + 1, 0, -1),
    // Other notations of a number (as text: a query string's value is text anyway).
    fc.constantFrom<number | string>("0x10", "0b1", "0o7", "1e1", "+1", " 1", "1.0", ""),
  ) as fc.Arbitrary<number>;
}

/** Values of `schema`; with `boundary`, also values at and just past its limits, and hostile text. */
export function arbitraryOf(doc: Doc, schema: Schema, boundary = false, depth = 0): fc.Arbitrary<unknown> {
  const s = deref(doc, schema);
  if (s === true || s === false || !s || Object.keys(s).length === 0) return fc.constantFrom<unknown>("x", 1, null, true);
  if ("const" in s) return boundary ? fc.oneof(fc.constant(s.const), fc.constant("other")) : fc.constant(s.const);
  if (Array.isArray(s.enum))
    return boundary
      ? fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...s.enum) }, fc.constantFrom("other", ""))
      : fc.constantFrom(...s.enum);
  const alternatives = s.anyOf ?? s.oneOf;
  if (alternatives) return fc.oneof(...alternatives.map((a: Schema) => arbitraryOf(doc, a, boundary, depth + 1)));
  if (s.allOf) {
    const parts = s.allOf.map((a: Schema) => deref(doc, a) as Record<string, any>);
    const merged = {
      type: "object",
      properties: Object.assign({}, ...parts.map((p: Record<string, any>) => p.properties ?? {})),
      required: parts.flatMap((p: Record<string, any>) => p.required ?? []),
    };
    return arbitraryOf(doc, merged, boundary, depth + 1);
  }
  const types: string[] = Array.isArray(s.type) ? s.type : s.type ? [s.type] : s.properties ? ["object"] : s.items ? ["array"] : ["string"];
  if (types.length > 1) return fc.oneof(...types.map((type) => arbitraryOf(doc, { ...s, type }, boundary, depth + 1)));
  let valid: fc.Arbitrary<unknown>;
  switch (types[0]) {
    case "null":
      valid = fc.constant(null);
      break;
    case "boolean":
      valid = fc.boolean();
      break;
    case "integer":
      valid = integerArb(s, boundary);
      break;
    case "number":
      valid = fc.double({ min: s.minimum ?? -1e9, max: s.maximum ?? 1e9, noNaN: true, noDefaultInfinity: true });
      break;
    case "array": {
      const items = depth > 6 ? fc.constant("x") : arbitraryOf(doc, s.items ?? {}, boundary, depth + 1);
      valid = fc.array(items, { minLength: s.minItems ?? 0, maxLength: Math.max(s.minItems ?? 0, Math.min(s.maxItems ?? 3, 3)) });
      break;
    }
    case "object": {
      const props = (s.properties ?? {}) as Record<string, Schema>;
      const required = new Set<string>(s.required ?? []);
      const record = fc.record(
        Object.fromEntries(
          Object.entries(props).map(([k, v]) => [k, depth > 6 ? fc.constant("x") : arbitraryOf(doc, v, boundary, depth + 1)]),
        ),
        { requiredKeys: [...required].filter((k) => k in props) },
      );
      valid = boundary
        ? fc.oneof(
            { weight: 4, arbitrary: record },
            // A required member missing, or one more member than the schema names.
            record.map((r) => Object.fromEntries(Object.entries(r as object).slice(1))),
            record.map((r) => ({ ...(r as object), [`extra_${"k".repeat(250)}`]: "\u0000" })),
          )
        : record;
      break;
    }
    default:
      valid = stringArb(s, boundary);
  }
  if (!boundary || types[0] === "string" || types[0] === "integer") return valid;
  // A value of the wrong type, now and then.
  return fc.oneof({ weight: 6, arbitrary: valid }, fc.constantFrom<unknown>("text", 12, true, null, [], {}));
}
