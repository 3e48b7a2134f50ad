export const PEER_DIR: string;
export const PEER_NAME: "better-auth";
/** The password every seeded peer user gets. */
export const PEER_PASSWORD: string;
/** The peer's database in the bench's PostgreSQL server. */
export const PEER_DATABASE: string;

/** npm install in the peer's folder when its packages are missing; true when it installed. */
export function ensurePeerInstalled(opts?: { log?: (line: string) => void }): Promise<boolean>;

/** The installed versions: { "better-auth", "better-call", kysely, pg }. */
export function peerVersions(): Record<string, string | null>;

/** CPU ms consumed so far per class of process (scripts/bench/proc-cpu.ts cpuProbe). */
export type CpuReading = { workerd: number; proxy: number; wrangler: number; postgres: number };

export interface Peer {
  url: string;
  port: number;
  inspectorPort: number;
  /** The workerd that runs the Worker (not wrangler's proxy), found at start. */
  pid: number | null;
  /** wrangler dev's process group (stop() ends it). */
  pgid: number;
  sourceMap: string;
  /** cpuProbe over the peer's wrangler group (and the postmaster when given); null without /proc. */
  cpu: (() => CpuReading) | null;
  /** The peer's own database URL. */
  dbUrl: string;
  migration: { created: string[]; added: string[] };
  settings: { rateLimit: "off" | "per-ip"; authScope: "isolate" | "request" };
  versions: Record<string, string | null>;
  /** The tail of wrangler dev's output. */
  output(): string;
  stop(): Promise<void>;
}

export function startPeer(opts: {
  /** Any database URL of the bench's PostgreSQL server. */
  dbUrl: string;
  port?: number;
  inspectorPort?: number;
  /** The database the peer uses in that server (created when missing); null: dbUrl itself. */
  database?: string | null;
  rateLimit?: "off" | "per-ip";
  authScope?: "isolate" | "request";
  postmasterPid?: number;
  /** Where the frozen bundle goes (default: a temporary folder removed by stop()). */
  tmpDir?: string;
  log?: (line: string) => void;
}): Promise<Peer>;

/** A request in the bench's shape (body: an object, JSON-encoded when sent). */
export interface PeerRequest {
  method: "GET" | "POST";
  path: string;
  headers: Record<string, string>;
  body?: unknown;
}

export function peerRoutes(url: string): {
  /** The Worker's own constant route (a raw Response before better-auth: the workerd floor). */
  live(): PeerRequest;
  /** better-auth's own constant route (`ok`), through its handler. */
  ok(): PeerRequest;
  signUp(user: { email: string; password?: string; name?: string }): PeerRequest;
  signIn(user: { email: string; password?: string }): PeerRequest;
  session(user: { cookie: string }): PeerRequest;
};

/** A distinct CF-Connecting-IP per call. */
export function nextPeerIp(): string;

export function peerRequest(
  url: string,
  request: PeerRequest,
  opts?: { timeoutMs?: number },
): Promise<{ status: number; data: any; cookie: string | null }>;

export interface PeerUser {
  email: string;
  password: string;
  /** "better-auth.session_token=<token>.<signature>", for the Cookie header. */
  cookie: string;
  /** The raw session token (the session row's token). */
  token: string;
}

export function seedPeerUsers(
  url: string,
  n: number,
  opts?: { password?: string; prefix?: string; concurrency?: number },
): Promise<PeerUser[]>;
