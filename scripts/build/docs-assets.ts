// Copies Scalar's standalone API reference bundle into public/ (Workers Static Assets), where
// GET /docs loads it from the Worker's own origin. wrangler runs this as the [build] command
// before `wrangler dev` and `wrangler deploy`. The bundle (4.3 MB, ~1.2 MiB gzip) is not part of
// the Worker script, so it does not count toward the script size limit.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const src = path.join(root, "node_modules/@scalar/api-reference/dist/browser/standalone.js");
const dest = path.join(root, "public/docs/scalar.js");

if (!fs.existsSync(src)) {
  console.error(`docs-assets: ${path.relative(root, src)} is missing; run npm install (it is a devDependency).`);
  process.exit(1);
}
const from = fs.statSync(src);
const to = fs.existsSync(dest) ? fs.statSync(dest) : undefined;
if (!to || to.size !== from.size || to.mtimeMs < from.mtimeMs) {
  fs.mkdirSync(path.dirname(dest), { recursive: true });
  fs.copyFileSync(src, dest);
  console.log(`docs-assets: copied Scalar bundle to ${path.relative(root, dest)} (${(from.size / 1024).toFixed(0)} KiB)`);
}
