import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

// Tests run inside workerd (the Workers runtime) against real local services that
// test/global-setup.ts starts in Node: PostgreSQL and the other local stand-ins.
export default defineConfig({
  plugins: [
    cloudflareTest(({ inject }) => ({
      wrangler: { configPath: "./wrangler.toml" },
      miniflare: {
        hyperdrives: { HYPERDRIVE: inject("dbUrl") as string },
        bindings: inject("workerBindings") as Record<string, string>,
      },
    })),
  ],
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["./test/global-setup.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    fileParallelism: false,
    silent: "passed-only",
    onUnhandledError(error) {
      // postgres.js in workerd: a per-request client's socket closing after the request ended
      // (porsager/postgres#1202). Not a test failure; anything else still fails the run.
      const msg = String((error as Error)?.message ?? error);
      if (/Stream was cancelled|This socket has been closed/.test(msg)) return false;
    },
  },
});
