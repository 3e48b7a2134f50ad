import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { TestProject } from "vitest/node";
import { startPostgres } from "../scripts/lib/postgres.mjs";
import { execFileSync } from "node:child_process";

declare module "vitest" {
  export interface ProvidedContext {
    dbUrl: string;
    adminDbUrl: string;
    workerBindings: Record<string, string>;
    rateLimits: Record<string, { limit: number; period: number }>;
  }
}

/** Parse the [[ratelimits]] blocks of wrangler.toml, so tests use the configured numbers. */
function readRateLimits(): Record<string, { limit: number; period: number }> {
  const toml = fs.readFileSync(path.resolve(__dirname, "../wrangler.toml"), "utf8");
  const out: Record<string, { limit: number; period: number }> = {};
  const re = /name\s*=\s*"(RL_[A-Z_]+)"[\s\S]*?simple\s*=\s*\{\s*limit\s*=\s*(\d+)\s*,\s*period\s*=\s*(\d+)\s*\}/g;
  for (const m of toml.matchAll(re)) out[m[1]] = { limit: Number(m[2]), period: Number(m[3]) };
  return out;
}

/** Starts a throwaway PostgreSQL (fresh database every run) and the local service stand-ins. */
export default async function setup(project: TestProject) {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "auth-test-pg-"));
  const pg = await startPostgres({ dataDir: path.join(dataDir, "data"), persistent: false, database: "auth_test" });
  // In a child Node process: inside Vite's module runner, postgres.js resolves to its workerd build.
  execFileSync(process.execPath, [path.resolve(__dirname, "../scripts/migrate.mjs"), pg.url], { stdio: "inherit" });
  process.env.CLOUDFLARE_HYPERDRIVE_LOCAL_CONNECTION_STRING_HYPERDRIVE = pg.url;
  project.provide("dbUrl", pg.url);
  project.provide("adminDbUrl", pg.url.replace(/\/auth_test$/, "/postgres"));
  project.provide("rateLimits", readRateLimits());
  project.provide("workerBindings", {
    ENVIRONMENT: "test",
    AUTH_SECRET: "test-secret-0123456789abcdef0123456789abcdef",
    // Fast scrypt parameters keep the suite quick; production defaults are tested in password.test.ts.
    SCRYPT_LOG_N: "10",
    SCRYPT_R: "8",
    SCRYPT_P: "1",
  });
  return async () => {
    await pg.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  };
}
