// Bundles one of the Worker's modules for Node with esbuild, so that a build step can import it
// and run it without a server (scripts/build/openapi.ts, scripts/build/routes.ts).
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { build } from "esbuild";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

/** Bundles `entry` (relative to the project) and imports it. */
export async function importForNode<T>(entry: string, name: string): Promise<T> {
  // Bundled inside node_modules so the bundle's bare imports resolve to the project's packages.
  const bundle = path.join(ROOT, "node_modules", ".cache", `${name}.mjs`);
  await build({
    entryPoints: [path.join(ROOT, entry)],
    outfile: bundle,
    bundle: true,
    platform: "node",
    format: "esm",
    packages: "external",
    // Nothing here hashes passwords: the scrypt core's WebAssembly module stays out.
    loader: { ".wasm": "empty" },
    logLevel: "warning",
  });
  return (await import(pathToFileURL(bundle).href)) as T;
}
