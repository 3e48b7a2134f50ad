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

/** A safe description of an error: its name, message and code, never a stack or request data. */
export function describeError(err: unknown): Record<string, unknown> {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return { error: err.name, message: err.message.slice(0, 300), ...(code ? { errorCode: String(code) } : {}) };
  }
  return { error: String(err).slice(0, 300) };
}
