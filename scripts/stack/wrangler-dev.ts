// Helpers around wrangler: run a Worker under `wrangler dev` in its own process group, offline
// (the local stack, the bench), and freeze a Worker into a prebuilt bundle (the bench).
import { type ChildProcess, execFile, spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { logError, portHint, ROOT, ServiceError } from "./local-service.ts";
import { readWranglerConfig, writeWranglerConfig } from "./wrangler-config.ts";

const OFFLINE = { CLOUDFLARE_CF_FETCH_ENABLED: "false", WRANGLER_SEND_METRICS: "false", NO_COLOR: "1", FORCE_COLOR: "0" };

export interface FrozenWorker {
  /** The config that serves the bundle as is (run it with `--no-bundle`). */
  config: string;
  outdir: string;
  /** What `wrangler deploy --dry-run` printed (sizes), without colours. */
  output: string;
  remove(): void;
}

/**
 * Build a Worker once (`wrangler deploy --dry-run --outdir`) and write a config that serves that
 * bundle as is (`--no-bundle`, no [build] step). `wrangler dev` watches the sources and reloads
 * the Worker when a file changes; a frozen bundle keeps the code under test fixed for the whole
 * run while others edit the tree. The frozen config sits next to the original (so relative
 * paths such as [assets] still resolve) and is removed by `remove()`.
 */
export async function freezeWorker({
  config,
  outdir,
  metafile,
}: {
  config: string;
  outdir: string;
  metafile?: string;
}): Promise<FrozenWorker> {
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

/** What wrangler said went wrong: its first "[ERROR]" line, without decoration. */
function wranglerReason(output: string): string | undefined {
  const lines = output.replace(/\x1b\[[0-9;]*m/g, "").split("\n");
  const line = lines.find((l) => /\[ERROR\]/.test(l)) ?? lines.find((l) => /^\s*(\w*Error|error):/.test(l));
  return line?.replace(/^.*?\[ERROR\]\s*/, "").trim();
}

export interface WranglerDev {
  url: string;
  child: ChildProcess;
  /** The process group (wrangler and its workerd). */
  pgid: number;
  stop(): Promise<void>;
}

/**
 * `wrangler dev` in its own process group (so stop() ends workerd too), offline, resolved once
 * `readyPath` answers. Its output goes to `logFile` (when given) and, with `inheritOutput`, to
 * this terminal; otherwise `child.stderr` stays readable and its tail explains failures.
 * A failed start throws a ServiceError naming `portEnv` when the port is the reason.
 */
export async function startWranglerDev({
  config = "wrangler.toml",
  port,
  portEnv,
  logFile,
  inspectorPort,
  readyPath = "/",
  env = {},
  extraArgs = [],
  inheritOutput = false,
  onSpawn = () => {},
  onStarting = () => {},
}: {
  config?: string;
  port: number;
  portEnv?: string;
  logFile?: string;
  inspectorPort?: number;
  readyPath?: string;
  env?: Record<string, string>;
  extraArgs?: string[];
  inheritOutput?: boolean;
  /** Called with the child as soon as it is spawned (before it is ready). */
  onSpawn?: (child: ChildProcess) => void;
  /** Called with stop() before waiting for readiness, so a caller can stop a start that hangs. */
  onStarting?: (stop: () => Promise<void>) => void;
}): Promise<WranglerDev> {
  const SERVICE = "wrangler dev";
  if (!fs.existsSync(path.join(ROOT, "node_modules", ".bin", "wrangler")))
    throw new ServiceError(SERVICE, "wrangler is not installed", { hint: "run npm install" });
  let log: fs.WriteStream | null = null;
  if (logFile) {
    fs.mkdirSync(path.dirname(logFile), { recursive: true });
    fs.writeFileSync(logFile, "");
    log = fs.createWriteStream(logFile, { flags: "a" });
  }
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
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, ...OFFLINE, ...env },
    },
  );
  onSpawn(child);
  const pgid = child.pid!;
  // Its own process group does not get a terminal's Ctrl-C: end it when this process ends.
  const endGroup = () => {
    try {
      process.kill(-pgid, "SIGTERM");
    } catch {}
  };
  process.once("exit", endGroup);
  child.once("exit", () => process.off("exit", endGroup));
  const url = `http://127.0.0.1:${port}`;
  // Only once wrangler says it listens: until then another program on the port could answer.
  const ready = `Ready on ${url}`;
  let listening = false;
  let output = "";
  const tee = (terminal: NodeJS.WriteStream) => (d: Buffer) => {
    output = (output + d).slice(-16_000);
    listening ||= output.replace(/\x1b\[[0-9;]*m/g, "").includes(ready);
    log?.write(d);
    if (inheritOutput) terminal.write(d);
  };
  child.stdout.on("data", tee(process.stdout));
  child.stderr.on("data", tee(process.stderr));
  // "close", not "exit": output can still arrive after the process exited, until its pipes close
  // (writing it to an ended log threw "write after end" on a busy machine).
  child.once("close", () => log?.end());
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    try {
      process.kill(-pgid, "SIGTERM");
    } catch {}
    await new Promise<void>((r) => {
      const t = setTimeout(() => {
        try {
          process.kill(-pgid, "SIGKILL");
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
  const fail = (reason: string, hint?: string) => {
    const err = new ServiceError(SERVICE, reason, { hint, logFile });
    err.detail = output; // the tail of wrangler's output, for callers without a log file
    return err;
  };
  const until = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) {
      const said = wranglerReason(output);
      if (/address already in use/i.test(said ?? "")) throw fail(`port ${port} is in use`, portHint(portEnv));
      throw fail(said ?? `exited with code ${child.exitCode}`);
    }
    if (listening) {
      try {
        const res = await fetch(url + readyPath);
        await res.arrayBuffer();
        break;
      } catch {}
    }
    if (Date.now() > until) {
      await stop();
      if (logFile) logError(logFile, `${SERVICE}: ${readyPath} did not answer within 60 s`);
      throw fail(`${url}${readyPath} did not answer within 60 s`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return { url, child, pgid, stop };
}
