import type { MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { AppEnv } from "../context";
import { apiError } from "../errors";

/** JSON bodies are small: anything over JSON_BODY_LIMIT is refused before it is parsed. */
export const jsonBodyLimit: MiddlewareHandler<AppEnv> = (c, next) =>
  bodyLimit({
    maxSize: c.get("deps").config.JSON_BODY_LIMIT,
    onError: () => {
      throw apiError("payload_too_large");
    },
  })(c, next);

/** Room for the multipart framing and the text fields around a file of the maximum size. */
const MULTIPART_OVERHEAD = 64 * 1024;

/**
 * A multipart body carrying one file of at most `maxFileBytes`: a Content-Length above it plus
 * the framing is refused before reading; a body without one (streamed, chunked) is counted while
 * read and refused as soon as it passes the limit. The file itself is checked exactly later.
 */
export const multipartBodyLimit =
  (maxFileBytes: (c: Parameters<MiddlewareHandler<AppEnv>>[0]) => number, tooLarge: (max: number) => Error): MiddlewareHandler<AppEnv> =>
  (c, next) => {
    const max = maxFileBytes(c);
    return bodyLimit({
      maxSize: max + MULTIPART_OVERHEAD,
      onError: () => {
        throw tooLarge(max);
      },
    })(c, next);
  };
