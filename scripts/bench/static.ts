// Bundle size (`wrangler deploy --dry-run`) and startup time (`wrangler check startup`), offline.
import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import zlib from "node:zlib";
import { SourceMapConsumer } from "source-map-js";
import { ROOT } from "../stack/local-service.ts";

const run = promisify(execFile);
const OFFLINE = { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: "false", WRANGLER_SEND_METRICS: "false", NO_COLOR: "1", FORCE_COLOR: "0" };
const strip = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, "");

/** Which npm package (or "src") an esbuild input path belongs to. */
function packageOf(input: string): string {
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input.replace(/\\/g, "/"));
  if (m) return m[1];
  if (/(^|\/)bench\//.test(input)) return "bench";
  return input.split("/").filter(Boolean)[0] ?? "(unknown)";
}

/**
 * Origin of a source-map source: our files appear as absolute paths (or ../src/...); a package
 * whose own source map names "src/..." (drizzle-orm does) must not look like ours.
 */
function originOf(source: string): string {
  if (source.startsWith(`${ROOT}/src/`) || /^(\.\.\/)+src\//.test(source)) return "src (our code)";
  if (/node_modules\//.test(source)) return packageOf(source);
  if (/^src\//.test(source)) return "a package's own sources (src/…)";
  return packageOf(source);
}

export interface BundleSize {
  command: string;
  wranglerTotalKiB: number | null;
  wranglerGzipKiB: number | null;
  ourRawKiB: number;
  ourGzipKiB: number;
  contributors: { pkg: string; kib: number }[];
}

/** Sizes of a bundle written by freezeWorker (`wrangler deploy --dry-run --outdir`). */
export function measureBundle({ outdir, output, metafile }: { outdir: string; output: string; metafile: string }): BundleSize {
  const text = output;
  const m = /Total Upload:\s*([\d.]+)\s*KiB\s*\/\s*gzip:\s*([\d.]+)\s*KiB/.exec(text);
  // Our own count of what was written (JS modules, no source maps), gzip level 9 per file.
  let raw = 0;
  let gz = 0;
  for (const f of fs.readdirSync(outdir, { recursive: true })) {
    const full = path.join(outdir, String(f));
    if (!fs.statSync(full).isFile() || /\.map$|README|\.json$/.test(String(f))) continue;
    const buf = fs.readFileSync(full);
    raw += buf.length;
    gz += zlib.gzipSync(buf, { level: 9 }).length;
  }
  // Largest contributors, from esbuild's metafile (bytes in the output, before gzip).
  let contributors: BundleSize["contributors"] = [];
  try {
    const meta: { outputs?: Record<string, { inputs?: Record<string, { bytesInOutput: number }> }> } = JSON.parse(
      fs.readFileSync(metafile, "utf8"),
    );
    const byPkg = new Map<string, number>();
    for (const out of Object.values(meta.outputs ?? {}))
      for (const [input, info] of Object.entries(out.inputs ?? {}))
        byPkg.set(packageOf(input), (byPkg.get(packageOf(input)) ?? 0) + info.bytesInOutput);
    contributors = [...byPkg.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 12)
      .map(([pkg, bytes]) => ({ pkg, kib: bytes / 1024 }));
  } catch {}
  return {
    command: "npx wrangler deploy --dry-run --outdir <tmp>",
    wranglerTotalKiB: m ? Number(m[1]) : null,
    wranglerGzipKiB: m ? Number(m[2]) : null,
    ourRawKiB: raw / 1024,
    ourGzipKiB: gz / 1024,
    contributors,
  };
}

/** A V8 CPU profile (.cpuprofile, or the inspector's Profiler.stop answer): the fields read here. */
export interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number } }[];
  samples?: number[];
  timeDeltas?: number[];
}

/** Self time (ms) of one origin or function. */
export interface SelfTime {
  what: string;
  ms: number;
}

/**
 * Self time of a V8 .cpuprofile by origin. Worker frames are mapped through the source map of
 * our own dry-run build (the same esbuild output as the one `check startup` builds) to the npm
 * package or src/ file they come from; runtime internals are grouped by their node-internal URL.
 */
export function profileByOrigin(
  profile: CpuProfile,
  sourceMapFile: string | undefined,
  { top = 10, byFunction = false }: { top?: number; byFunction?: boolean } = {},
): SelfTime[] {
  let consumer: SourceMapConsumer | null = null;
  try {
    if (sourceMapFile) consumer = new SourceMapConsumer(JSON.parse(fs.readFileSync(sourceMapFile, "utf8")));
  } catch {}
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  for (let i = 0; i < samples.length; i++) {
    const node = byId.get(samples[i]);
    if (!node) continue;
    const f = node.callFrame;
    let key: string;
    if (!f.url) key = f.functionName ? `(${f.functionName.replace(/[()]/g, "")})` : "(runtime, anonymous)";
    else if (f.url.startsWith("node-internal:") || f.url.startsWith("node:") || /^cloudflare(-internal)?:/.test(f.url))
      key = "runtime (node:*, cloudflare:*)";
    // WebAssembly frames (the scrypt core) carry a function index and a byte offset, not a place
    // in the bundle: the bundle's source map would name some unrelated line.
    else if (f.url.startsWith("wasm://"))
      key = byFunction ? `(WebAssembly) ${f.functionName || "anonymous"}` : "WebAssembly (the scrypt core)";
    else if (consumer && f.lineNumber >= 0) {
      const pos = consumer.originalPositionFor({ line: f.lineNumber + 1, column: Math.max(0, f.columnNumber) });
      key = pos?.source ? originOf(pos.source) : "worker bundle (unmapped)";
      // By function: the original file and line (the bundle is minified; names may be gone).
      if (byFunction && pos?.source) {
        const file = pos.source.replace(/^(\.\.\/)+/, "").replace(/^.*node_modules\//, "");
        key = `${file}:${pos.line}${pos.name ? ` ${pos.name}` : ""}`;
      }
    } else key = "worker bundle (top level)";
    if (byFunction && !f.url && f.functionName && !f.functionName.startsWith("(")) key = `(native) ${f.functionName}`;
    self.set(key, (self.get(key) ?? 0) + (deltas[i + 1] ?? 0) / 1000);
  }
  return [...self.entries()]
    .filter(([k]) => k !== "(idle)")
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([what, ms]) => ({ what, ms }));
}

interface StartupRun {
  windowMs: number | null;
  sampledMs: number | null;
  activeMs: number | null;
  gcMs: number | null;
  idleMs: number | null;
  samples: number | null;
  top: SelfTime[];
  output: string;
}

export interface StartupResult {
  command: string;
  runs: StartupRun[];
  activeMedianMs: number | null;
  activeMinMs: number | null;
}

/** `wrangler check startup` builds the Worker and profiles its startup in a local workerd. */
export async function measureStartup(
  tmpDir: string,
  { runs = 3, config, sourceMap, label = "app" }: { runs?: number; config?: string; sourceMap?: string; label?: string } = {},
): Promise<StartupResult> {
  const results: StartupRun[] = [];
  for (let i = 0; i < runs; i++) {
    const outfile = path.join(tmpDir, `startup-${label}-${i}.cpuprofile`);
    const args = ["wrangler", "check", "startup", "--outfile", outfile];
    if (config) args.push(`--args=--config ${config}`);
    const { stdout, stderr } = await run("npx", args, {
      cwd: ROOT,
      env: OFFLINE,
      maxBuffer: 16 * 1024 * 1024,
    });
    const text = strip(stdout + stderr);
    const num = (re: RegExp) => {
      const x = re.exec(text);
      return x ? Number(x[1]) : null;
    };
    let top: SelfTime[] = [];
    try {
      top = profileByOrigin(JSON.parse(fs.readFileSync(outfile, "utf8")), sourceMap);
    } catch {}
    results.push({
      windowMs: num(/Profile window:\s*([\d.]+)\s*ms/),
      sampledMs: num(/Sampled time:\s*([\d.]+)\s*ms/),
      activeMs: num(/Active:\s*([\d.]+)\s*ms/),
      gcMs: num(/including\s*([\d.]+)\s*ms garbage/),
      idleMs: num(/Idle:\s*([\d.]+)\s*ms/),
      samples: num(/Samples:\s*(\d+)/),
      top,
      output: text
        .split("\n")
        .filter((l) => /Bundle:|Profile window|Sampled time|Active:|Idle:|Samples:/.test(l))
        .map((l) => l.replace(/^[│├└\s]+/, ""))
        .join("\n"),
    });
  }
  const actives = results
    .map((r) => r.activeMs)
    .filter((x): x is number => x != null)
    .sort((a, b) => a - b);
  return {
    command: `npx wrangler check startup${config ? ` --args="--config ${config}"` : ""} --outfile <tmp>/startup.cpuprofile`,
    runs: results,
    activeMedianMs: actives.length ? actives[Math.floor((actives.length - 1) / 2)] : null,
    activeMinMs: actives.length ? actives[0] : null,
  };
}
