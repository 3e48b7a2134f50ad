import { execSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";

// src/auth/password/romix.wasm is committed (the Worker imports it as a compiled module); it must be what
// `npm run build:wasm` makes from wasm/romix.ts today, so the reviewed source is the code that runs.
const ROOT = path.resolve(__dirname, "../..");

describe("src/auth/password/romix.wasm", () => {
  it("is the build of wasm/romix.ts by npm run build:wasm", () => {
    const script: string = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")).scripts["build:wasm"];
    expect(script).toContain("-o src/auth/password/romix.wasm");
    const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "romix-")), "romix.wasm");
    execSync(`npx ${script.replace("-o src/auth/password/romix.wasm", `-o ${out}`)}`, { cwd: ROOT, stdio: "pipe" });
    expect(Buffer.compare(fs.readFileSync(out), fs.readFileSync(path.join(ROOT, "src/auth/password/romix.wasm")))).toBe(0);
    fs.rmSync(path.dirname(out), { recursive: true, force: true });
  });
});
