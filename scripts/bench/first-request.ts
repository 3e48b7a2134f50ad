// What an isolate's startup and first request cost in CPU, before any I/O: importing the app's
// modules plus building the routes that request needs. Route groups are built when first used
// (src/lazy-app.ts); before that change every route was built at import. This compares building
// the whole app (what every first request paid then, and what an unknown path still builds) with
// building one group, in fresh Node processes (V8 like workerd; a proxy, not workerd itself; run
// it on a quiet machine). The Worker's own startup figure is `npm run bench`'s
// `wrangler check startup`.
//   npm run bench:first-request [-- --runs=9]
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { build } from "esbuild";
import { ROOT } from "../stack/local-service.ts";
import { readWranglerConfig } from "../stack/wrangler-config.ts";

const runs = Number(process.argv.find((a) => a.startsWith("--runs="))?.slice(7) ?? 9);
const alias = Object.fromEntries(
  Object.entries(readWranglerConfig().alias as Record<string, string>)
    .filter(([name]) => !name.startsWith("."))
    .map(([name, file]) => [name, path.resolve(ROOT, file)]),
);
const GROUPS = ["account", "sessions", "sign-in", "passkeys", "admin", "system"];
const cases: [string, string][] = [
  ["the whole app (createApp)", `createApp("/auth")`],
  ...GROUPS.map((g): [string, string] => [`group ${g} (createGroupApp)`, `createGroupApp(${JSON.stringify(g)})`]),
];

const dir = path.join(ROOT, "node_modules", ".cache", "first-request");
fs.mkdirSync(dir, { recursive: true });
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
console.log(`CPU ms, median of ${runs} fresh processes: import + build | of which the build`);
for (const [i, [name, call]] of cases.entries()) {
  const out = path.join(dir, `case-${i}.mjs`);
  await build({
    stdin: {
      contents: `import { createApp, createGroupApp } from "./src/app.ts";
const c0 = process.cpuUsage(); ${call}; const c = process.cpuUsage(c0);
globalThis.buildMs = (c.user + c.system) / 1000;`,
      resolveDir: ROOT,
      loader: "ts",
    },
    bundle: true,
    platform: "node",
    format: "esm",
    outfile: out,
    minify: true,
    alias,
    loader: { ".wasm": "empty" },
    external: ["cloudflare:*"],
    logLevel: "error",
  });
  const total: number[] = [];
  const builds: number[] = [];
  for (let r = 0; r < runs; r++) {
    const [t, b] = execFileSync(process.execPath, [
      "-e",
      `const c0 = process.cpuUsage(); import(${JSON.stringify(out)}).then(() => { const c = process.cpuUsage(c0); console.log((c.user + c.system) / 1000, globalThis.buildMs); });`,
    ])
      .toString()
      .trim()
      .split(" ")
      .map(Number);
    total.push(t);
    builds.push(b);
  }
  console.log(`${name.padEnd(34)} ${median(total).toFixed(1).padStart(7)} | ${median(builds).toFixed(1).padStart(6)}`);
}
