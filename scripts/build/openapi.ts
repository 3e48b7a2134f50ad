// Writes the OpenAPI document the Worker serves at /openapi.json to a file, without a server:
// the app (src/app.ts) is bundled for Node with esbuild and asked for /openapi.json directly.
//   node scripts/build/openapi.ts [out.json]     (default: openapi.json; `npm run lint:api` writes artifacts/openapi.json)
import fs from "node:fs";
import path from "node:path";
import { importForNode } from "./node-bundle.ts";

const out = path.resolve(process.argv[2] ?? "openapi.json");
const { createApp } = await importForNode<{
  createApp: (basePath: string) => { request(path: string, init: RequestInit, env: object): Promise<Response> };
}>("src/app.ts", "openapi-app");

// The request logs one line like every request; this script's output is the file, not that line.
const info = console.log;
console.log = () => {};
const res = await createApp("/auth").request("/openapi.json", {}, { ENVIRONMENT: "development" });
console.log = info;
if (res.status !== 200) throw new Error(`/openapi.json answered ${res.status}: ${await res.text()}`);
fs.mkdirSync(path.dirname(out), { recursive: true });
fs.writeFileSync(out, `${JSON.stringify(await res.json(), null, 2)}\n`);
console.log(`openapi: wrote ${path.relative(process.cwd(), out) || out}`);
