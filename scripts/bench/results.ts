// The shape of bench-results/results.json: what bench.ts measures and report.ts renders.
import type { HashBenchResult, ScryptParams } from "./hash.ts";
import type { CpuMs } from "./proc-cpu.ts";
import type { BundleSize, SelfTime, StartupResult } from "./static.ts";

/** CPU ms per request by class of process, their sum and (under load) the load generator's own. */
export type CpuPerRequest = CpuMs & { total: number; loadGenerator?: number };

/** One load run (autocannon) of a scenario at one concurrency. */
export interface LoadResult {
  connections: number;
  durationS: number;
  total: number;
  ok: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  statusCodes: unknown;
  /** Sustained: connections ÷ mean latency × share of 2xx. */
  reqPerSec: number;
  /** 2xx ÷ duration (autocannon's own average). */
  rawReqPerSec: number;
  latency: { p50: number; p90: number; p99: number; max: number; mean: number };
  cpu?: {
    windowMs: number;
    windowRequests: number;
    windowCpuMs: CpuMs;
    msPerRequest: CpuPerRequest;
    /** Cores busy with other work while this ran. */
    otherCores: number | null;
  };
}

interface ScenarioResult extends LoadResult {
  name: string;
  title: string;
  server: string;
  hashBound: boolean;
  /** A flow of the current batch (scenarios.ts `newFlow`), held to its CPU target. */
  newFlow?: boolean;
}

/** CPU per request with an exact count, one request at a time. */
interface SerialResult {
  name: string;
  title: string;
  server: string;
  newFlow?: boolean;
  /** A case of a new flow reported without its CPU target: why (scenarios.ts `noTarget`). */
  noTarget?: string;
  n: number;
  ok: number;
  msPerRequest: CpuPerRequest;
  wallMsPerRequest: number;
}

/** Two scenarios at once: `me` in the foreground, `login` in the background. */
interface MixedResult {
  id: string;
  foreground: string;
  background: string;
  connections: number;
  me: LoadResult;
  login: LoadResult;
}

interface ProfileSummary {
  title: string;
  reqPerSec: number;
  requests: number;
  otherCores: number | null | undefined;
  sampledMs: number;
  idleMs: number;
  byOrigin: SelfTime[];
  byFunction: SelfTime[];
}

/** What a probe (scenarios.ts PROBES) reports: its figures, and target rows for the targets table. */
export interface ProbeResult {
  id: string;
  title: string;
  rows: { label: string; value: number | null; unit: string }[];
  targets: { target: string; ok: boolean | null; detail: string }[];
}

export interface BenchResults {
  startedAt: string;
  command: string;
  options: {
    duration: number;
    connections: number[];
    users: number;
    only: string[] | null;
    hashRounds: number;
    startupRuns: number;
    skipStatic: boolean;
    skipHash: boolean;
    skipProfile: boolean;
    skipPeer: boolean;
    /** Scenario ids to profile (default: the floor, the constant route and /auth/me, without their log line). */
    profile: string[] | null;
    out: string;
    charts: string | null;
  };
  machine: {
    nproc: number;
    cpuModel: string;
    ramGiB: number;
    kernel: string;
    loadavgStart: number[];
    loadavgEnd?: number[];
    otherCoresBusy?: { min: number; median: number; max: number } | null;
  };
  versions: {
    node: string;
    wrangler: string | null;
    workerdWranglerDev: string | null;
    workerdVitest: string | null;
    autocannon: string | null;
    noble: string | null;
    hono: string | null;
    postgres?: string;
    /** The peer's packages as installed (better-auth, better-call, kysely, pg). */
    peer?: Record<string, string | null>;
  };
  /** The peer's settings (its rate limiter, where its better-auth instance is built). */
  peerSettings?: { rateLimit: string; authScope: string };
  /** The pairs of ours and the peer's (scenarios.ts PAIRS) as they were in this run. */
  pairs?: { id: string; title: string; ours: string; theirs: string; target: number | null }[];
  scrypt: ScryptParams;
  rateLimits: string;
  bundle?: BundleSize;
  startup?: StartupResult;
  startupEmpty?: StartupResult;
  hash?: HashBenchResult;
  scenarios?: ScenarioResult[];
  serial?: SerialResult[];
  mixed?: MixedResult[];
  probes?: ProbeResult[];
  profile?: Record<string, ProfileSummary>;
  elapsedS?: number;
}
