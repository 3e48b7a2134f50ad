/**
 * zod's own entry (node_modules/zod/v4/classic/external.js) minus what this API never calls:
 * `locales`, the schema compiler (`compile`, `withParser`, `INVALID`, `ZodCompile*Error`) and
 * `fromJSONSchema`. @hono/zod-openapi passes the `z` namespace as a value
 * (extendZodWithOpenApi), so the bundler must keep every member of it: `locales` alone brought
 * every translation of every message into the Worker (~50 locales, ~250 KB minified), the
 * compiler another ~30 KB. English, the only language the API answers in, is registered by
 * schemas.js itself. Re-exports the package's own files by path,
 * so there is one copy of zod and every `instanceof` still holds.
 */

export * from "../../node_modules/zod/v4/classic/checks.js";
export * as coerce from "../../node_modules/zod/v4/classic/coerce.js";
export * from "../../node_modules/zod/v4/classic/compat.js";
export { deepPartial } from "../../node_modules/zod/v4/classic/deep-partial.js";
export * from "../../node_modules/zod/v4/classic/errors.js";
export { input, output } from "../../node_modules/zod/v4/classic/in-out.js";
export * as iso from "../../node_modules/zod/v4/classic/iso.js";
export { ZodISODate, ZodISODateTime, ZodISODuration, ZodISOTime } from "../../node_modules/zod/v4/classic/iso.js";
export * from "../../node_modules/zod/v4/classic/parse.js";
export * from "../../node_modules/zod/v4/classic/schemas.js";
export { toJSONSchema } from "../../node_modules/zod/v4/core/json-schema-processors.js";
export * as core from "./zod-core";
export {
  $brand,
  $input,
  $output,
  clone,
  config,
  flattenError,
  formatError,
  getDiscriminatedOption,
  globalRegistry,
  memoizer,
  NEVER,
  prettifyError,
  regexes,
  registry,
  TimePrecision,
  toZod,
  treeifyError,
  util,
} from "./zod-core";
