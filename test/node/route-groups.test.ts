import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";

/**
 * Route groups are built when first used (src/routes/groups.ts, src/lazy-app.ts): a route module
 * declares its routes inside its group's function, not at import, or every isolate would build
 * every route at startup again.
 */
const ROOT = path.resolve(__dirname, "../..");
const ROUTES = path.join(ROOT, "src/routes");

/** `const x = route(` at the top level of a module (no indentation). */
const topLevelRoutes = (text: string) => [...text.matchAll(/^(?:export )?const (\w+) = route\(/gm)].map((m) => m[1]);

describe("route modules build nothing at import", () => {
  it("no route is declared at a module's top level", () => {
    const found = fs
      .readdirSync(ROUTES)
      .filter((f) => f.endsWith(".ts"))
      .flatMap((f) => topLevelRoutes(fs.readFileSync(path.join(ROUTES, f), "utf8")).map((name) => `${f}: ${name}`));
    expect(found).toEqual([]);
  });

  it("the check finds a top-level route", () => {
    expect(topLevelRoutes('const meRoute = route({ method: "get" });\nfunction g() {\n  const x = route({});\n}')).toEqual(["meRoute"]);
  });
});
