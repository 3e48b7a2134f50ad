// Builds the operators' console (console/src, Preact) into public/console/, where the Worker's
// static assets serve it at /console/ (wrangler.toml [assets]). wrangler's [build] command runs it,
// so `wrangler dev`, the tests and `wrangler deploy` serve the console of the checkout. Nothing of it
// enters the Worker's own bundle. Also writes config.json, the console's public settings:
// CONSOLE_IDLE_TIMEOUT (idle sign-out, default 15m, 1m to 12h) from the environment of the build.
// Each language but English is a chunk of its own (hi-<hash>.js), loaded only by a browser that asks
// for it (console/src/i18n); the build prints the size of what it wrote.
//
//   node console/build.ts            (run by wrangler before dev and deploy)
import fs from "node:fs";
import path from "node:path";
import { gzipSync } from "node:zlib";
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
  // The Hindi catalog as UTF-8, not \u escapes (a module script is always read as UTF-8).
  charset: "utf8",
  write: false,
  splitting: true,
  outdir: out,
  entryNames: "console",
  chunkNames: "[name]-[hash]",
  logLevel: "warning",
});
fs.mkdirSync(out, { recursive: true });
const scripts = new Set(result.outputFiles.map((file) => path.basename(file.path)));
for (const file of result.outputFiles) put(path.basename(file.path), file.contents);
// Chunks of earlier builds (another hash) go: the folder holds exactly this build's scripts.
for (const name of fs.readdirSync(out)) if (name.endsWith(".js") && !scripts.has(name)) fs.rmSync(path.join(out, name));
const kib = (n: number) => `${(n / 1024).toFixed(1)} KiB`;
for (const file of result.outputFiles)
  console.log(
    `console build: ${path.basename(file.path)} ${kib(file.contents.length)} (${kib(gzipSync(file.contents, { level: 9 }).length)} gzip)`,
  );
put("console.css", fs.readFileSync(path.join(here, "src/console.css")));
put("index.html", fs.readFileSync(path.join(here, "index.html")));
put("config.json", `${JSON.stringify({ idle_timeout_seconds: idleTimeoutSeconds(process.env.CONSOLE_IDLE_TIMEOUT) })}\n`);
