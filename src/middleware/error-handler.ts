import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { ConfigError } from "../config";
import { isDbUnavailable } from "../db/client";
import { AppError, apiError, type ErrorCode, errorBody } from "../errors";
import { type Locale, negotiateLocale } from "../i18n/locales";
import { msg } from "../i18n/messages";
import { describeError, log } from "../log";

/** The request's language (set with meta by the request context; negotiated here if that never ran). */
const localeOf = (c: Context): Locale =>
  (c.get("meta") as { locale?: Locale } | undefined)?.locale ?? negotiateLocale(c.req.header("accept-language"));

/** The JSON error answer, its message in the request's language. */
export function errorResponse(c: Context, err: AppError) {
  const headers: Record<string, string> = { ...err.options.headers };
  if (err.retryAfter !== undefined) headers["Retry-After"] = String(err.retryAfter);
  const extra = { ...err.options.challenge, ...err.options.fields };
  const body = errorBody(localeOf(c), err.code, err.text, err.options.issues, extra);
  return c.json(body, err.status as ContentfulStatusCode, headers);
}

/** Hono's own HTTP errors (body parsing, its built-in middleware) mapped to catalog codes. */
function fromHttpException(err: HTTPException): AppError {
  if (err.status === 400 && /malformed json/i.test(err.message)) return apiError("malformed_json");
  if (err.status === 400 && /malformed formdata/i.test(err.message)) return apiError("malformed_form");
  const byStatus: Partial<Record<number, ErrorCode>> = {
    400: "validation_failed",
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
  };
  return apiError(byStatus[err.status] ?? "internal_error");
}

/** The catalog error a thrown error answers as, when it is one (a refusal or a Hono HTTP error); null for a fault. */
export function appErrorOf(err: unknown): AppError | null {
  if (err instanceof AppError) return err;
  if (err instanceof HTTPException) return fromHttpException(err);
  return null;
}

/** The one error handler: known errors answer their status; anything else is logged and a generic 500. */
export function onError(err: Error, c: Context): Response {
  if (err instanceof AppError) return errorResponse(c, err);
  if (err instanceof HTTPException) return errorResponse(c, fromHttpException(err));
  const requestId = c.get("requestId");
  if (err instanceof ConfigError) {
    log("error", "configuration error", { requestId, ...describeError(err) });
    return errorResponse(c, apiError("internal_error", { message: msg("error.internal_error.misconfigured") }));
  }
  if (isDbUnavailable(err)) {
    log("error", "database unavailable", { requestId, ...describeError(err) });
    return errorResponse(c, apiError("service_unavailable", { retryAfter: 5 }));
  }
  log("error", "unhandled error", { requestId, path: c.req.path, ...describeError(err) });
  return errorResponse(c, apiError("internal_error"));
}

export function onNotFound(c: Context) {
  return errorResponse(c, apiError("not_found", { message: msg("error.not_found.route", { method: c.req.method, path: c.req.path }) }));
}
