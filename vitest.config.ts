import path from "node:path";
import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig, defineProject } from "vitest/config";

// The same module aliases as wrangler.toml's [alias] (the plugin does not read them), so the
// tests run the code that is deployed.
const workerAliases = {
  "@aws-sdk/xml-builder": path.resolve(import.meta.dirname, "src/shims/aws-xml-builder.ts"),
  "postal-mime": path.resolve(import.meta.dirname, "src/shims/postal-mime.ts"),
};

const onUnhandledError = (error: unknown) => {
  // postgres.js in workerd: a per-request client's socket closing after the request ended
  // (porsager/postgres#1202). Not a test failure; anything else still fails the run.
  const msg = String((error as Error)?.message ?? error);
  if (/Stream was cancelled|This socket has been closed/.test(msg)) return false;
};

// Two projects, both run by `npm test`:
// - "workers": tests inside workerd (the Workers runtime) against real local services that
//   test/support/global-setup.ts starts in Node (PostgreSQL, mail capture, S3, Pwned Passwords stand-in).
// - "node": tests of the Node-side tools (migrations, import command, the docs page in a browser).
export default defineConfig({
  test: {
    silent: "passed-only",
    onUnhandledError,
    projects: [
      defineProject({
        resolve: { alias: workerAliases },
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
          name: "workers",
          include: ["test/**/*.test.ts"],
          exclude: ["test/node/**", "test/browser/**"],
          globalSetup: ["./test/support/global-setup.ts"],
          testTimeout: 30_000,
          hookTimeout: 60_000,
          fileParallelism: false,
        },
      }),
      defineProject({
        test: {
          name: "node",
          environment: "node",
          include: ["test/node/**/*.test.ts", "test/browser/**/*.test.ts"],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      }),
    ],
  },
});
