import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../context";
import { apiError, type Issue, validationError } from "../errors";
import { msg } from "../i18n/messages";
import { isMediaType, type MediaType } from "./media-type";

/**
 * Text PostgreSQL cannot store, refused before it reaches the domain: a NUL character (U+0000,
 * never valid in a text value) or a lone UTF-16 surrogate (not encodable as UTF-8). Both answer
 * 400 validation_failed naming the field, instead of a 500 from the database.
 */
const UNSAFE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const MESSAGE = msg("validation.unsafe_text");

function scan(value: unknown, path: string, issues: Issue[], depth = 0): void {
  if (issues.length >= 10 || depth > 32) return;
  if (typeof value === "string") {
    if (UNSAFE.test(value)) issues.push({ path: path || "(body)", message: MESSAGE });
  } else if (Array.isArray(value)) {
    value.forEach((v, i) => {
      scan(v, `${path}.${i}`, issues, depth + 1);
    });
  } else if (value && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) {
      if (UNSAFE.test(k)) issues.push({ path: path || "(body)", message: MESSAGE });
      scan(v, path ? `${path}.${k}` : k, issues, depth + 1);
    }
  }
}

/** Whether a NUL byte appears in the header block of any part of a multipart body. */
function partHeadersHaveNul(body: Uint8Array): boolean {
  const text = new TextDecoder("latin1").decode(body);
  for (let at = text.indexOf("\r\n--"); at >= 0; at = text.indexOf("\r\n--", at + 4)) {
    const end = text.indexOf("\r\n\r\n", at);
    if (end < 0) break;
    if (text.slice(at, end).includes("\u0000")) return true;
  }
  const first = text.indexOf("\r\n\r\n");
  return first >= 0 && text.slice(0, first).includes("\u0000");
}

/**
 * Scans every string a route receives: JSON bodies (keys and values), multipart field names,
 * values and file names, query parameters and path parameters. Runs after the media-type check
 * and the body limit, and reads only a body of the route's declared types (`types`; none: the
 * body is never read). It parses the body once: Hono's validator reuses the parsed body.
 */
export const safeText =
  (types: readonly MediaType[]): MiddlewareHandler<AppEnv> =>
  async (c, next) => {
    const issues: Issue[] = [];
    scan(c.req.param(), "", issues);
    scan(c.req.queries(), "", issues);
    const type = c.req.header("content-type") ?? "";
    if (
      isMediaType(
        type,
        types.filter((t) => t === "application/json"),
      )
    ) {
      // A malformed body is left for the validator, which answers malformed_json.
      const body = await c.req.json().catch(() => undefined);
      scan(body, "", issues);
    } else if (
      isMediaType(
        type,
        types.filter((t) => t !== "application/json"),
      )
    ) {
      // Read once and parse here; Hono's form validator reuses the parsed form from bodyCache.
      const bytes = new Uint8Array(await c.req.arrayBuffer());
      let form: FormData;
      try {
        form = await new Response(bytes, { headers: { "content-type": type } }).formData();
      } catch {
        // workerd refuses a NUL in a part's name or file name as malformed: answer what it is.
        if (partHeadersHaveNul(bytes)) throw validationError([{ path: "(body)", message: MESSAGE }]);
        throw apiError("malformed_form");
      }
      (c.req.bodyCache as { formData?: FormData }).formData = form;
      form.forEach((v, k) => {
        scan(k, k, issues);
        scan(typeof v === "string" ? v : v.name, k, issues);
      });
    }
    if (issues.length) throw validationError(issues);
    await next();
  };
