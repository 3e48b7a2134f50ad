// Builds the operators' console (console/src, Preact) into public/console/, where the Worker's
// static assets serve it at /console/ (wrangler.toml [assets]). wrangler's [build] command runs it,
// so `wrangler dev`, the tests and `wrangler deploy` serve the console of the checkout. Nothing of it
// enters the Worker's own bundle. Also writes config.json, the console's public settings:
// CONSOLE_IDLE_TIMEOUT (idle sign-out, default 15m, 1m to 12h) from the environment of the build.
//
//   node console/build.ts            (run by wrangler before dev and deploy)
import fs from "node:fs";
import path from "node:path";
import { build } from "esbuild";

const here = import.meta.dirname;
const root = path.resolve(here, "..");
const out = path.join(root, "public/console");

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600 };
function idleTimeoutSeconds(value = "15m"): number {
  const m = /^(\d+)\s*([smh])?$/.exec(value.trim());
  const seconds = m ? Number(m[1]) * UNITS[m[2] ?? "s"] : Number.NaN;
  if (!(seconds >= 60 && seconds <= 12 * 3600)) {
    console.error(`console build: CONSOLE_IDLE_TIMEOUT must be a duration from 1m to 12h (900, 15m, 1h); got ${JSON.stringify(value)}`);
    process.exit(1);
  }
  return seconds;
}

/** Write only what changed, each file whole (a server reading the folder never sees half a file). */
function put(name: string, content: string | Uint8Array) {
  const file = path.join(out, name);
  const bytes = typeof content === "string" ? Buffer.from(content) : Buffer.from(content);
  if (fs.existsSync(file) && fs.readFileSync(file).equals(bytes)) return;
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, bytes);
  fs.renameSync(tmp, file);
}

const result = await build({
  entryPoints: [path.join(here, "src/main.tsx")],
  bundle: true,
  minify: true,
  format: "esm",
  target: "es2022",
  platform: "browser",
  jsx: "automatic",
  jsxImportSource: "preact",
  legalComments: "none",
  write: false,
  outfile: path.join(out, "console.js"),
  logLevel: "warning",
});
fs.mkdirSync(out, { recursive: true });
for (const file of result.outputFiles) put(path.basename(file.path), file.contents);
put("console.css", fs.readFileSync(path.join(here, "src/console.css")));
put("index.html", fs.readFileSync(path.join(here, "index.html")));
put("config.json", `${JSON.stringify({ idle_timeout_seconds: idleTimeoutSeconds(process.env.CONSOLE_IDLE_TIMEOUT) })}\n`);
