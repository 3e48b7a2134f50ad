// npm run dev: PostgreSQL (embedded, data in .data/), migrations, local mail capture and S3,
// then the Worker under `wrangler dev`. One Ctrl-C stops everything it started.
// A failed start ends with one line (which service, why, what to do, where the log is) and
// exit code 1.
import path from "node:path";
import { fileURLToPath } from "node:url";
import { displayPath, firstLine, logError } from "./local-service.ts";
import type { LocalStack } from "./stack.ts";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const dataDir = path.join(ROOT, ".data");
let stack: LocalStack | undefined;
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
  // Imported here, so a checkout without `npm install` gets the one-line answer too.
  const { startStack } = await import("./stack.ts");
  console.log("starting PostgreSQL, mail capture, S3 and the Worker...");
  stack = await startStack({ dataDir });
} catch (err) {
  const e = err as { name?: string; code?: string; message?: string } | undefined;
  if (e?.name === "ServiceError") console.error(`npm run dev: ${e.message}`);
  else if (e?.code === "ERR_MODULE_NOT_FOUND") console.error("npm run dev: dependencies are missing: run npm install");
  else {
    const logFile = path.join(dataDir, "logs", "dev.log");
    logError(logFile, err);
    console.error(`npm run dev failed: ${firstLine(err)} (log: ${displayPath(logFile)})`);
  }
  process.exit(1);
}
const lines = [
  "",
  "Local stack is up:",
  `  API            ${stack.apiUrl}/auth  (health: ${stack.apiUrl}/health)`,
  `  API docs       ${stack.apiUrl}/docs   (OpenAPI: ${stack.apiUrl}/openapi.json)`,
  `  Console        ${stack.apiUrl}/console/  (operators: make an admin with npm run create-admin; docs/console.md)`,
  `  Database       ${stack.dbUrl}`,
  `  Mail inbox     ${stack.mailUrl}/`,
  `  S3 (s3rver)    ${stack.s3Endpoint}`,
  `  Google/Apple   ${stack.oidcUrl}/google, ${stack.oidcUrl}/apple (local OpenID provider)`,
  `  Turnstile      ${stack.turnstileUrl}/turnstile/v0/siteverify (local siteverify; off until TURNSTILE_SECRET_KEY is set)`,
  stack.localSettings.length ? `  From .dev.vars ${stack.localSettings.join(", ")}` : null,
  `  Logs           ${displayPath(stack.logDir)}/`,
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
