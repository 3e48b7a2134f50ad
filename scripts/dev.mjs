// npm run dev: PostgreSQL (embedded, data in .data/), migrations, local mail capture and S3,
// then the Worker under `wrangler dev`. One Ctrl-C stops everything it started.
import path from "node:path";
import { ROOT, startStack } from "./lib/stack.mjs";

const dataDir = path.join(ROOT, ".data");
let stack;
let stopping = false;

async function shutdown(code = 0) {
  if (stopping) return;
  stopping = true;
  console.log("\nstopping the local stack...");
  await stack?.stop();
  process.exit(code);
}
process.on("SIGINT", () => shutdown(0));
process.on("SIGTERM", () => shutdown(0));

try {
  console.log("starting PostgreSQL, mail capture, S3 and the Worker...");
  stack = await startStack({ dataDir });
} catch (err) {
  console.error(`npm run dev failed: ${err.message}`);
  process.exit(1);
}
const lines = [
  "",
  "Local stack is up:",
  `  API            ${stack.apiUrl}/auth  (health: ${stack.apiUrl}/health)`,
  `  API docs       ${stack.apiUrl}/docs   (OpenAPI: ${stack.apiUrl}/openapi.json)`,
  `  Database       ${stack.dbUrl}`,
  stack.mailUrl ? `  Mail inbox     ${stack.mailUrl}/` : null,
  stack.s3Endpoint ? `  S3 (s3rver)    ${stack.s3Endpoint}` : null,
  stack.oidcUrl ? `  Google/Apple   ${stack.oidcUrl}/google, ${stack.oidcUrl}/apple (local OpenID provider)` : null,
  "Press Ctrl-C to stop everything.",
  "",
].filter((l) => l !== null);
console.log(lines.join("\n"));
stack.wrangler.on("exit", (code) => {
  if (!stopping) {
    console.error(`wrangler dev exited (code ${code}); stopping the rest`);
    shutdown(code ?? 1);
  }
});
