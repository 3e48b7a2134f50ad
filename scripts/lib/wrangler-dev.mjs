// Bench helpers around wrangler: freeze a Worker into a prebuilt bundle, and run a Worker under
// `wrangler dev` in its own process group, offline.
import { execFile, spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { readWranglerConfig, writeWranglerConfig } from "./wrangler-config.mjs";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

const OFFLINE = { CLOUDFLARE_CF_FETCH_ENABLED: "false", WRANGLER_SEND_METRICS: "false", NO_COLOR: "1", FORCE_COLOR: "0" };

/**
 * Build a Worker once (`wrangler deploy --dry-run --outdir`) and write a config that serves that
 * bundle as is (`--no-bundle`, no [build] step). `wrangler dev` watches the sources and reloads
 * the Worker when a file changes; a frozen bundle keeps the code under test fixed for the whole
 * run while others edit the tree. The frozen config sits next to the original (so relative
 * paths such as [assets] still resolve) and is removed by `remove()`.
 */
export async function freezeWorker({ config, outdir, metafile }) {
  const args = ["wrangler", "deploy", "--dry-run", "--config", config, "--outdir", outdir];
  if (metafile) args.push("--metafile", metafile);
  const { stdout, stderr } = await promisify(execFile)("npx", args, {
    cwd: ROOT,
    env: { ...process.env, ...OFFLINE },
    maxBuffer: 16 * 1024 * 1024,
  });
  const original = path.resolve(ROOT, config);
  // The build already ran; a [build] step would also watch the sources and rebuild.
  const { build: _build, ...settings } = readWranglerConfig(original);
  // esbuild names the output after the entry point (src/index.ts -> index.js).
  const built = path.join(outdir, `${path.basename(settings.main ?? "index.ts").replace(/\.[cm]?[jt]sx?$/, "")}.js`);
  if (!fs.existsSync(built)) throw new Error(`wrangler deploy --dry-run did not write ${built}`);
  const frozen = path.join(path.dirname(original), `.bench-frozen-${path.basename(original, ".toml")}-${process.pid}.toml`);
  writeWranglerConfig(frozen, { ...settings, main: built });
  return {
    config: frozen,
    outdir,
    output: (stdout + stderr).replace(/\x1b\[[0-9;]*m/g, ""),
    remove: () => fs.rmSync(frozen, { force: true }),
  };
}

/**
 * `wrangler dev` in its own process group (so stop() ends workerd too), offline, resolved once
 * `readyPath` answers. `inheritOutput` shows wrangler's output (npm run dev); otherwise only the
 * tail of stderr is kept for error messages.
 */
export async function startWranglerDev({
  config = "wrangler.toml",
  port,
  inspectorPort,
  readyPath = "/",
  env = {},
  extraArgs = [],
  inheritOutput = false,
  onSpawn = () => {},
  onStarting = () => {},
}) {
  const child = spawn(
    "npx",
    [
      "wrangler",
      "dev",
      "--config",
      config,
      "--port",
      String(port),
      "--ip",
      "127.0.0.1",
      ...(inspectorPort ? ["--inspector-port", String(inspectorPort)] : []),
      "--show-interactive-dev-session=false",
      ...extraArgs,
    ],
    {
      cwd: ROOT,
      detached: true,
      stdio: inheritOutput ? ["ignore", "inherit", "inherit"] : ["ignore", "ignore", "pipe"],
      env: { ...process.env, ...OFFLINE, ...env },
    },
  );
  onSpawn(child);
  let stderr = "";
  child.stderr?.on("data", (d) => (stderr = (stderr + d).slice(-4000)));
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    try {
      process.kill(-child.pid, "SIGTERM");
    } catch {}
    await new Promise((r) => {
      const t = setTimeout(() => {
        try {
          process.kill(-child.pid, "SIGKILL");
        } catch {}
        r();
      }, 5000);
      child.once("exit", () => {
        clearTimeout(t);
        r();
      });
    });
  };
  onStarting(stop);
  const until = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`wrangler dev (${config}) exited with code ${child.exitCode}: ${stderr}`);
    try {
      const res = await fetch(url + readyPath);
      await res.arrayBuffer();
      break;
    } catch {}
    if (Date.now() > until) {
      await stop();
      throw new Error(`timed out waiting for wrangler dev (${config}): ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return { url, child, pgid: child.pid, stop };
}
