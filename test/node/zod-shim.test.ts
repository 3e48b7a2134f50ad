import { describe, expect, it } from "vitest";
import * as real from "zod";
import * as shim from "../../src/shims/zod";

// The Worker imports zod through src/shims/zod.ts (wrangler.toml [alias]), which leaves out what
// the API never calls. This keeps the shim honest when zod changes: anything zod adds appears here.
const OMITTED = [
  "locales", // every message translation (~250 KB); the API answers in English
  "compile", // the schema compiler (~30 KB) and its API
  "compileFn",
  "withParser",
  "INVALID",
  "ZodCompileAsyncError",
  "ZodCompileUnsupportedError",
  "fromJSONSchema", // building schemas from JSON Schema
];

describe("src/shims/zod.ts", () => {
  it("exports everything zod exports but the omitted, top level and in z and z.core", () => {
    const without = (keys: string[]) => keys.filter((k) => !OMITTED.includes(k)).sort();
    expect(Object.keys(shim).sort()).toEqual(without(Object.keys(real)));
    expect(Object.keys(shim.z).sort()).toEqual(without(Object.keys(real.z)));
    expect(Object.keys(shim.z.core).sort()).toEqual(without(Object.keys(real.z.core)));
    expect("locales" in shim.z).toBe(false);
  });

  it("is the same zod (one copy: schemas and errors of both are interchangeable)", () => {
    expect(shim.z.ZodString).toBe(real.z.ZodString);
    expect(shim.z.string().safeParse(1).error).toBeInstanceOf(real.z.ZodError);
  });

  it("still answers in English", () => {
    expect(shim.z.string().safeParse(42).error?.issues[0].message).toBe("Invalid input: expected string, received number");
  });
});
