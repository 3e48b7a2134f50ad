import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../context";
import { apiError } from "../errors";
import { msg } from "../i18n/messages";

/** The media types a route's body may declare, each matched on the Content-Type it accepts. */
const MEDIA_TYPES = {
  "application/json": /^application\/([\w.-]+\+)?json\s*(;|$)/i,
  "application/x-www-form-urlencoded": /^application\/x-www-form-urlencoded\s*(;|$)/i,
  // The boundary is part of the type: without one, no part can be found.
  "multipart/form-data": /^multipart\/form-data\s*;/i,
} as const;

export type MediaType = keyof typeof MEDIA_TYPES;

/** Whether a Content-Type is one of these media types. */
export const isMediaType = (contentType: string, types: readonly MediaType[]) => types.some((t) => MEDIA_TYPES[t].test(contentType));

/**
 * A body of the route's declared media types only, refused with 415 before anything reads it: no
 * parser of another type (a multipart form at a JSON operation) ever runs, so no other error can
 * answer. A body without Content-Type is refused app-wide (src/middleware/request.ts).
 */
export const mediaTypes =
  (types: readonly MediaType[]): MiddlewareHandler<AppEnv> =>
  async (c, next) => {
    const type = c.req.header("content-type");
    if (type !== undefined && !isMediaType(type, types))
      throw apiError(
        "unsupported_media_type",
        types.includes("multipart/form-data") ? { message: msg("error.unsupported_media_type.multipart") } : undefined,
      );
    await next();
  };
