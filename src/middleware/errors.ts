import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { ConfigError } from "../config";
import { isDbUnavailable } from "../db/client";
import { AppError, type Issue } from "../errors";
import { describeError, log } from "../log";

/** The one JSON error shape: {status:"error", message, code, issues?}. */
export function errorBody(code: string, message: string, issues?: Issue[]) {
  return { status: "error" as const, message, code, ...(issues ? { issues } : {}) };
}

export function errorResponse(c: Context, err: AppError) {
  const headers: Record<string, string> = { ...err.extra.headers };
  if (err.extra.retryAfter !== undefined) headers["Retry-After"] = String(err.extra.retryAfter);
  return c.json(errorBody(err.code, err.message, err.extra.issues), err.status as ContentfulStatusCode, headers);
}

const HTTP_CODES: Record<number, [string, string]> = {
  400: ["bad_request", "The request is malformed."],
  401: ["unauthorized", "Authentication required."],
  404: ["not_found", "Not found."],
  405: ["method_not_allowed", "Method not allowed."],
  413: ["payload_too_large", "The request body is too large."],
  415: ["unsupported_media_type", "Unsupported content type."],
};

/** The one error handler: known errors answer their status; anything else is logged and a generic 500. */
export function onError(err: Error, c: Context): Response {
  if (err instanceof AppError) return errorResponse(c, err);
  if (err instanceof HTTPException) {
    const status = err.status;
    if (status === 400 && /malformed json/i.test(err.message))
      return errorResponse(c, new AppError(400, "malformed_json", "The request body is not valid JSON."));
    if (status === 400 && /malformed formdata/i.test(err.message))
      return errorResponse(c, new AppError(400, "malformed_form", "The request body is not valid multipart form data."));
    if (status === 415)
      return errorResponse(c, new AppError(415, "unsupported_media_type", "Unsupported content type: send application/json."));
    const [code, message] = HTTP_CODES[status] ?? ["error", err.message || "Request failed."];
    return c.json(errorBody(code, message), status as ContentfulStatusCode);
  }
  const requestId = c.get("requestId");
  if (err instanceof ConfigError) {
    log("error", "configuration error", { requestId, ...describeError(err) });
    return c.json(errorBody("internal_error", "The service is misconfigured. Please try again later."), 500);
  }
  if (isDbUnavailable(err)) {
    log("error", "database unavailable", { requestId, ...describeError(err) });
    return errorResponse(
      c,
      new AppError(503, "service_unavailable", "The service is temporarily unavailable. Please try again shortly.", {
        retryAfter: 5,
      }),
    );
  }
  log("error", "unhandled error", { requestId, path: c.req.path, ...describeError(err) });
  return c.json(errorBody("internal_error", "Something went wrong on our side. Please try again."), 500);
}

export function onNotFound(c: Context) {
  return c.json(errorBody("not_found", `No route for ${c.req.method} ${c.req.path}.`), 404);
}
