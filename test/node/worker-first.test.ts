import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { importForNode } from "../../scripts/build/node-bundle.ts";
import { readWranglerConfig } from "../../scripts/stack/wrangler-config.ts";

// wrangler.toml [assets] run_worker_first sends the API's own paths straight to the Worker, without
// looking for an asset first. It is a speed hint: a path it misses still reaches the Worker after the
// asset lookup. What it must never do is hide an asset, and it should cover every route under the
// base path, so that a new route is not quietly slower.

const ROOT = path.resolve(__dirname, "../..");
const patterns = (readWranglerConfig().assets as { run_worker_first: string[] }).run_worker_first;

/** The asset router's own reading of a pattern (workers-shared rules-engine: `*` is any characters). */
const matches = (pathname: string) =>
  patterns.some((p) =>
    new RegExp(
      `^${p
        .split("*")
        .map((s) => s.replace(/[-/\\^$*+?.()|[\]{}]/g, "\\$&"))
        .join(".*")}$`,
    ).test(pathname),
  );

function files(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? files(path.join(dir, e.name)) : [path.join(dir, e.name)]));
}

describe("wrangler.toml [assets] run_worker_first", () => {
  it("has only patterns that send requests to the Worker (no `!` pattern, which would answer 404 without it)", () => {
    expect(patterns.length).toBeGreaterThan(0);
    expect(patterns.filter((p) => p.startsWith("!"))).toEqual([]);
  });

  it("covers every route under the base path and the health and key routes", async () => {
    const { ROUTE_GROUPS, operationsOf } = await importForNode<{
      ROUTE_GROUPS: Record<string, { at: "base" | "root" }>;
      operationsOf(group: string): string[];
    }>("src/routes/groups.ts", "route-groups-worker-first");
    const base = Object.keys(ROUTE_GROUPS)
      .filter((g) => ROUTE_GROUPS[g].at === "base")
      .flatMap((g) => operationsOf(g).map((op) => op.split(" ")[1].replace(/:\w+/g, "x")));
    expect(base.length).toBeGreaterThan(50);
    const paths = [
      ...base.map((p) => `/auth${p}`),
      ...base.map((p) => `/api/v1/auth${p}`),
      "/health",
      "/health/live",
      "/.well-known/jwks.json",
    ];
    expect(paths.filter((p) => !matches(p))).toEqual([]);
    expect(matches("/console/")).toBe(false); // and the check can fail
  });

  it("hides no static asset: the console, the reference page's bundle, anything in public/", () => {
    const assets = files(path.join(ROOT, "public")).map((f) => `/${path.relative(path.join(ROOT, "public"), f).split(path.sep).join("/")}`);
    const all = [...assets, "/console", "/console/", "/console/index.html", "/console/console.js", "/docs/scalar.js"];
    expect(all.filter(matches)).toEqual([]);
  });
});
