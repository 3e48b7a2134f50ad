import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { build, type Metafile } from "esbuild";
import { beforeAll, describe, expect, it } from "vitest";
import { S3_SCHEMAS_SHIM, S3_SCHEMAS_SOURCE, s3SchemasModule } from "../../scripts/build/s3-schemas.ts";
import { readWranglerConfig } from "../../scripts/stack/wrangler-config.ts";

// The Worker's S3 client gets two modules through wrangler.toml [alias] (read by vitest.config.ts
// too, so the avatar tests send real requests to s3rver through both):
//  - src/shims/s3-schemas.js: the SDK's operation schemas with their computed keys written out,
//    so that the bundle keeps only the operations the Worker sends;
//  - src/shims/smithy-event-streams.ts: no event-stream codecs (SelectObjectContent only).
// This keeps both honest when the SDK changes.

const ROOT = path.resolve(__dirname, "../..");
const aliases = readWranglerConfig().alias as Record<string, string>;
const aliasesTo = (file: string) =>
  Object.entries(aliases)
    .filter(([, target]) => target === file)
    .map(([name]) => name)
    .sort();

/** What the Worker bundles for its S3 client (src/storage/s3.ts), as wrangler bundles it, before the aliases. */
let bundled: Metafile;
beforeAll(async () => {
  const result = await build({
    entryPoints: [path.join(ROOT, "src/storage/s3.ts")],
    bundle: true,
    write: false,
    metafile: true,
    format: "esm",
    // wrangler's own choices: esbuild's default platform (browser: the packages' "browser" fields
    // apply) and these conditions (getBuildConditions in wrangler).
    platform: "browser",
    conditions: ["workerd", "worker", "browser"],
    external: ["node:*"],
    logLevel: "silent",
  });
  bundled = result.metafile;
});

/** Bundled files that import `specifier`. */
const importersOf = (specifier: string) =>
  Object.entries(bundled.inputs)
    .filter(([, input]) => input.imports.some((i) => i.original === specifier))
    .map(([file]) => file);

/** Two values are the same schema: equal data, the same classes, thunks that give the same schema. */
function sameSchema(a: unknown, b: unknown, seen = new Set<unknown>()): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== typeof b || a === null || b === null) return false;
  if (typeof a === "function") {
    const fa = a as () => unknown;
    const fb = b as () => unknown;
    // Classes (the SDK's error classes) must be the very same; a schema thunk `() => X$` is compared by what it gives.
    if (/^class\b/.test(Function.prototype.toString.call(fa)) || fa.length !== 0 || fb.length !== 0) return false;
    return sameSchema(fa(), fb(), seen);
  }
  if (typeof a !== "object") return false;
  if (seen.has(a)) return true;
  seen.add(a);
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;
  if (a instanceof Map) {
    // In order, keys too: a registry's errors are keyed by their schemas.
    const eb = [...(b as Map<unknown, unknown>)];
    return a.size === eb.length && [...a].every(([k, v], i) => sameSchema(k, eb[i][0], seen) && sameSchema(v, eb[i][1], seen));
  }
  const ka = Object.keys(a as object);
  const kb = Object.keys(b as object);
  return (
    ka.length === kb.length &&
    ka.every((k, i) => k === kb[i] && sameSchema((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], seen))
  );
}

describe("src/shims/s3-schemas.js", () => {
  const specifiers = aliasesTo("./src/shims/s3-schemas.js");

  it("is what scripts/build/s3-schemas.ts makes of the installed SDK (npm run build:s3-schemas)", () => {
    expect(fs.readFileSync(S3_SCHEMAS_SHIM, "utf8")).toBe(s3SchemasModule());
    expect(fs.readFileSync(S3_SCHEMAS_SHIM, "utf8")).not.toMatch(/\[[A-Za-z_$][\w$]*\]:/);
  });

  it("stands in for the SDK's schemas_0.js only, wherever the S3 client imports it", () => {
    expect(specifiers).toEqual(["../schemas/schemas_0", "./schemas/schemas_0"]);
    const importers = specifiers.flatMap(importersOf);
    expect(importers.length).toBeGreaterThan(3);
    // Another client of the SDK uses the same relative paths; none of it may be in the bundle.
    expect(importers.filter((f) => !f.startsWith("node_modules/@aws-sdk/client-s3/dist-es/"))).toEqual([]);
    for (const file of importers) {
      const spec = bundled.inputs[file].imports.find((i) => specifiers.includes(i.original ?? ""));
      expect(path.resolve(ROOT, spec?.path ?? "")).toBe(S3_SCHEMAS_SOURCE);
    }
  });

  it("exports the same names and the same schemas as the SDK's file", async () => {
    // Both in one bundle, so they share the SDK's error classes as the Worker does.
    const out = path.join(ROOT, "node_modules/.cache/s3-schemas-compare.mjs");
    await build({
      stdin: {
        contents: `export * as original from ${JSON.stringify(S3_SCHEMAS_SOURCE)}; export * as shim from ${JSON.stringify(S3_SCHEMAS_SHIM)};`,
        resolveDir: ROOT,
        loader: "js",
      },
      outfile: out,
      bundle: true,
      format: "esm",
      platform: "node",
      logLevel: "silent",
    });
    const { original, shim } = (await import(`${pathToFileURL(out).href}?${Date.now()}`)) as Record<string, Record<string, unknown>>;
    const names = Object.keys(original).sort();
    expect(Object.keys(shim).sort()).toEqual(names);
    expect(names.length).toBeGreaterThan(400);
    const different = names.filter((n) => !sameSchema(original[n], shim[n]));
    expect(different).toEqual([]);
    // The comparison can fail: a schema with one trait changed is not the same.
    const put = original.PutObjectRequest$ as unknown[];
    expect(sameSchema(put, [...put.slice(0, -1), 99])).toBe(false);
  });
});

describe("src/shims/smithy-event-streams.ts", () => {
  it("stands in for @smithy/core/event-streams, which only the S3 client's own modules import", () => {
    expect(aliasesTo("./src/shims/smithy-event-streams.ts")).toEqual(["@smithy/core/event-streams"]);
    const importers = importersOf("@smithy/core/event-streams");
    expect(importers.length).toBeGreaterThan(1);
    expect(importers.filter((f) => !/^node_modules\/(@aws-sdk|@smithy)\//.test(f))).toEqual([]);
  });

  it("exports every name they take from it; the config resolver is the package's own; the codecs throw", async () => {
    const shim = await import("../../src/shims/smithy-event-streams");
    const real = await import(
      // @ts-expect-error plain ESM file of the package, typed by the package's index
      "../../node_modules/@smithy/core/dist-es/submodules/event-streams/eventstream-serde-config-resolver/EventStreamSerdeConfig.js"
    );
    const names = new Set<string>();
    for (const file of importersOf("@smithy/core/event-streams")) {
      const text = fs.readFileSync(path.join(ROOT, file), "utf8");
      const patterns = [
        /import\s*\{([^}]*)\}\s*from\s*["']@smithy\/core\/event-streams["']/g,
        /const\s*\{([^}]*)\}\s*=\s*await\s+import\(\s*["']@smithy\/core\/event-streams["']\s*\)/g,
      ];
      for (const re of patterns)
        for (const m of text.matchAll(re)) for (const n of m[1].split(",")) if (n.trim()) names.add(n.trim().split(/\s+as\s+|\s*:\s*/)[0]);
    }
    expect([...names].sort()).toEqual(["EventStreamSerde", "eventStreamSerdeProvider", "resolveEventStreamSerdeConfig"]);
    for (const n of names) expect(shim, n).toHaveProperty(n);
    expect(shim.resolveEventStreamSerdeConfig).toBe(real.resolveEventStreamSerdeConfig);
    const marshaller = shim.eventStreamSerdeProvider();
    expect(() => marshaller.deserialize()).toThrow(/not bundled/);
    expect(() => marshaller.serialize()).toThrow(/not bundled/);
    expect(() => new shim.EventStreamSerde()).toThrow(/not bundled/);
  });
});
