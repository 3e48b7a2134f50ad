/**
 * One JSON object per line. Callers pass only non-secret fields; `redact` is a second line of
 * defence that drops any field whose name looks like it carries a secret.
 */
const SECRET_KEY = /pass(word)?|otp|code|token|secret|authorization|cookie|hash|key/i;

function redact(fields: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) out[k] = SECRET_KEY.test(k) ? "[redacted]" : v;
  return out;
}

export type LogLevel = "info" | "warn" | "error";

export function log(level: LogLevel, msg: string, fields: Record<string, unknown> = {}) {
  const line = JSON.stringify({ level, msg, time: new Date().toISOString(), ...redact(fields) });
  if (level === "error") console.error(line);
  else if (level === "warn") console.warn(line);
  else console.log(line);
}

/**
 * A failed database statement as postgres.js and Drizzle report it: the statement text (`query`)
 * and its bound values (`parameters` on postgres.js errors, `params` on Drizzle's, which also
 * prints them in its message). The values are request data (an address, a name): never logged.
 */
interface DbFailure {
  statement: string;
  values: unknown[];
  /** Postgres's own error (SQLSTATE `code`, message), when it answered. */
  server?: { message?: unknown; code?: unknown };
}

function dbFailure(err: unknown): DbFailure | null {
  let found: DbFailure | null = null;
  let server: DbFailure["server"];
  for (let e: any = err, depth = 0; e && typeof e === "object" && depth < 4; e = e.cause, depth++) {
    if (typeof e.query === "string") {
      found ??= { statement: e.query, values: [] };
      for (const list of [e.params, e.parameters]) if (Array.isArray(list)) found.values.push(...list);
    }
    if (typeof e.code === "string") server ??= e;
  }
  return found && { ...found, server };
}

/** Postgres quotes offending input in its messages (`invalid input syntax for type uuid: "..."`): bound values are cut out. */
function withoutValues(message: string, values: unknown[]): string {
  let out = message.replace(/"((?:[^"]|"")*)"/g, (quoted, inner: string) =>
    values.some((v) => v !== null && v !== undefined && String(v) === inner) ? '"[value]"' : quoted,
  );
  for (const v of values) {
    const text = v === null || v === undefined ? "" : String(v);
    if (text.length >= 3) out = out.split(text).join("[value]");
  }
  return out;
}

/**
 * A safe description of an error: its name, message and code, never a stack or request data. A
 * database error gives its statement (`statement`, the SQL with `$1`-style placeholders), the
 * SQLSTATE (`sqlstate`, or postgres.js's own code such as CONNECTION_CLOSED) and Postgres's message,
 * without the statement's bound values.
 */
export function describeError(err: unknown): Record<string, unknown> {
  const db = dbFailure(err);
  if (db) {
    const source = (db.server ?? err) as { message?: unknown; code?: unknown };
    const raw = db.server ? String(source.message ?? "") : "database statement failed";
    const code = source.code ?? (err as { code?: unknown }).code;
    return {
      error: err instanceof Error ? err.name : "Error",
      message: withoutValues(raw, db.values).slice(0, 300),
      ...(code ? { sqlstate: String(code) } : {}),
      statement: db.statement.slice(0, 2000),
    };
  }
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    // Not "errorCode": `redact` above drops any field whose name says "code".
    return { error: err.name, message: err.message.slice(0, 300), ...(code ? { errorKind: String(code) } : {}) };
  }
  return { error: String(err).slice(0, 300) };
}
