import path from "node:path";
import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig, defineProject } from "vitest/config";
import { readWranglerConfig } from "./scripts/stack/wrangler-config.ts";

// The same module aliases as wrangler.toml's [alias] (the plugin does not read them), read from
// that file, so the tests run the code that is deployed.
const workerAliases = Object.fromEntries(
  Object.entries(readWranglerConfig().alias as Record<string, string>).map(([name, file]) => [
    name,
    path.resolve(import.meta.dirname, file),
  ]),
);

const onUnhandledError = (error: unknown) => {
  // postgres.js in workerd: a per-request client's socket closing after the request ended
  // (porsager/postgres#1202). Not a test failure; anything else still fails the run.
  const msg = String((error as Error)?.message ?? error);
  if (/Stream was cancelled|This socket has been closed/.test(msg)) return false;
};

/**
 * workerd prints these to stderr when a test points the Worker at a service that is down on
 * purpose (the database, S3 or Pwned Passwords unreachable: test/app.test.ts, profile,
 * new-password, audit) or cuts a request body short (the streamed-body limit test). The Worker
 * answers those cases itself (asserted by the tests); the runtime's own report of the refused
 * connection, each followed by one `stack:` line of addresses, is noise in a green run. Exactly
 * these messages are dropped; anything else workerd prints stays visible.
 */
const EXPECTED_RUNTIME_NOISE = [
  /^exception = rust\/worker\/ffi\.rs:\d+: disconnected: Connection refused \(os error 111\)$/,
  // The Turnstile stand-in cutting a connection without an answer, on purpose (test/auth/bot-defence/outage.test.ts).
  /^exception = rust\/worker\/ffi\.rs:\d+: disconnected: client error \(SendRequest\)$/,
  /^uncaught exception; source = Uncaught \(in promise\); stack = Error: Network connection lost\.$/,
  /^uncaught exception; exception = workerd\/jsg\/value\.h:\d+: disconnected: jsg\.Error: Network connection lost\.$/,
  /^exception = kj\/async-io\.c\+\+:\d+: disconnected: read end of pipe was aborted$/,
  // Vite, for dependencies published with source maps but without their sources.
  /^Sourcemap for "[^"]*\/node_modules\/[^"]+" points to missing source files$/,
  // wrangler, once per test file: test/support/global-setup.ts sets this variable on purpose.
  /^Found a non-empty CLOUDFLARE_HYPERDRIVE_LOCAL_CONNECTION_STRING_HYPERDRIVE variable for binding\. Hyperdrive will connect to this database during local development\.$/,
];
function filterRuntimeNoise(stream: NodeJS.WriteStream) {
  const write = stream.write.bind(stream);
  let dropStack = false;
  stream.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    const text = typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8");
    const kept = text
      .split(/(?<=\n)/)
      .filter((line: string) => {
        const bare = line.replace(/\n$/, "");
        const stackOfDropped = dropStack && /^stack:( \S+@[0-9a-f]+)+$/.test(bare);
        dropStack = EXPECTED_RUNTIME_NOISE.some((re) => re.test(bare));
        return !dropStack && !stackOfDropped;
      })
      .join("");
    return kept ? (write as (...a: unknown[]) => boolean)(kept, ...rest) : true;
  }) as typeof stream.write;
}
filterRuntimeNoise(process.stderr);
filterRuntimeNoise(process.stdout);

// Two projects, both run by `npm test`:
// - "workers": tests inside workerd (the Workers runtime) against real local services that
//   test/support/global-setup.ts starts in Node (PostgreSQL, mail capture, S3, Pwned Passwords and Turnstile stand-ins).
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
          // packages/verify: the verifier kit's own tests, under Node against the running Worker.
          include: ["test/node/**/*.test.ts", "test/browser/**/*.test.ts", "packages/verify/test/**/*.test.ts"],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      }),
    ],
  },
});
