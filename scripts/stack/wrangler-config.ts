// wrangler.toml read with a TOML parser (smol-toml, the parser wrangler itself bundles), for the
// tests and scripts that use its numbers: they follow the file, never a regex's idea of it.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parse, stringify } from "smol-toml";

const WRANGLER_TOML = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../wrangler.toml");

/** A parsed wrangler config: the keys a caller reads are its own to check. */
export type WranglerConfig = Record<string, any>;

export function readWranglerConfig(file = WRANGLER_TOML): WranglerConfig {
  return parse(fs.readFileSync(file, "utf8"));
}

export const writeWranglerConfig = (file: string, config: WranglerConfig): void => fs.writeFileSync(file, stringify(config));

/** The [[ratelimits]] bindings: { RL_LOGIN: { limit, period }, ... }. */
export function rateLimits(config = readWranglerConfig()): Record<string, { limit: number; period: number }> {
  return Object.fromEntries(
    ((config.ratelimits ?? []) as { name: string; simple: { limit: number; period: number } }[]).map((r) => [
      r.name,
      { limit: r.simple.limit, period: r.simple.period },
    ]),
  );
}
