/**
 * `zod` as the Worker sees it (wrangler.toml [alias], and vitest.config.ts so the tests run the
 * same code): the package's entry, with its external list taken from ./zod-external.ts.
 * test/node/zod-shim.test.ts checks that it exports everything the package does but `locales`.
 */
import * as z from "./zod-external";

export * from "./zod-external";
export { z, z as default };
