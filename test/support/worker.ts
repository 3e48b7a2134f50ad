import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import postgres from "postgres";
import type { Env } from "../../src/config";
import { CLIENT_OPTIONS, drizzleOver } from "../../src/db/client";
import type { Overrides } from "../../src/deps";
import { createWorker } from "../../src/index";

/** The Worker's own env in tests (wrangler.toml + the bindings test/support/global-setup.ts provides). */
export const testEnv = env as unknown as Env;

let ipCounter = Math.floor(Math.random() * 200) * 256;
/** A fresh client address, so per-IP rate limits of one test don't leak into another. */
export function freshIp(): string {
  ipCounter++;
  return `10.${(ipCounter >> 16) & 255}.${(ipCounter >> 8) & 255}.${ipCounter & 255}`;
}

/**
 * Requests made here run inside the test's context, not a real request's, so the Worker's
 * per-request Postgres clients would stay open (a real request closes them when it ends) and
 * exhaust max_connections. The Worker is built with a database factory (the production client
 * options) that remembers each client, and they are ended once no call is in flight.
 */
const openClients = new Set<postgres.Sql>();
let callsInFlight = 0;
/** Every statement the Worker sent, with its parameters, when a test asked to record them (recordStatements). */
let recording: { query: string; params: unknown[] }[] | null = null;

const trackedDb: Overrides["createDb"] = (connectionString) => {
  const client = postgres(connectionString, {
    ...CLIENT_OPTIONS,
    debug: (_connection: number, query: string, params: unknown[]) => void recording?.push({ query, params }),
  });
  openClients.add(client);
  return drizzleOver(client);
};

async function endIdleClients() {
  if (callsInFlight > 0 || openClients.size === 0) return;
  const clients = [...openClients];
  openClients.clear();
  await Promise.all(clients.map((c) => c.end({ timeout: 0 }).catch(() => {})));
}

/** The Worker as deployed, with the tracked database; one per clock (a Worker keeps one app per base path). */
const workers = new Map<(() => Date) | undefined, ReturnType<typeof createWorker>>();
function workerWith(now?: () => Date) {
  let w = workers.get(now);
  if (!w) {
    w = createWorker({ createDb: trackedDb, ...(now ? { now } : {}) });
    if (now) workers.clear(); // clocks are per test: keep only the latest
    workers.set(now, w);
  }
  return w;
}

export interface CallOptions {
  method?: string;
  body?: unknown;
  headers?: Record<string, string>;
  token?: string;
  ip?: string;
  env?: Partial<Record<string, unknown>>;
  /** A controlled clock for this request. */
  now?: () => Date;
  /** Called with the response as soon as it is there, before the request's waitUntil work ends. */
  onResponse?: (res: Response) => unknown;
}

/** An HTTP request into the Worker's fetch handler. */
export async function call(path: string, opts: CallOptions = {}): Promise<Response> {
  callsInFlight++;
  try {
    return await callWorker(path, opts);
  } finally {
    callsInFlight--;
    await endIdleClients();
  }
}

async function callWorker(path: string, opts: CallOptions): Promise<Response> {
  const headers = new Headers(opts.headers);
  if (!headers.has("cf-connecting-ip")) headers.set("cf-connecting-ip", opts.ip ?? freshIp());
  if (opts.token) headers.set("authorization", `Bearer ${opts.token}`);
  let body: BodyInit | undefined;
  if (opts.body !== undefined) {
    if (
      typeof opts.body === "string" ||
      opts.body instanceof FormData ||
      opts.body instanceof ReadableStream ||
      opts.body instanceof Uint8Array
    ) {
      body = opts.body as BodyInit;
    } else {
      body = JSON.stringify(opts.body);
      if (!headers.has("content-type")) headers.set("content-type", "application/json");
    }
  }
  const request = new Request(`http://auth.test${path}`, {
    method: opts.method ?? (opts.body !== undefined ? "POST" : "GET"),
    headers,
    body,
    // @ts-expect-error workerd needs duplex for stream bodies
    duplex: opts.body instanceof ReadableStream ? "half" : undefined,
  });
  const e = (opts.env ? { ...testEnv, ...opts.env } : testEnv) as Env;
  const ctx = createExecutionContext();
  const res = await workerWith(opts.now).fetch(request as Request<unknown, IncomingRequestCfProperties>, e, ctx);
  await opts.onResponse?.(res);
  await waitOnExecutionContext(ctx);
  return res;
}

/** The scheduled handler (the purge), as the cron trigger runs it. */
export async function runScheduled(opts: { now?: () => Date; env?: Record<string, unknown> } = {}) {
  callsInFlight++;
  try {
    const ctx = createExecutionContext();
    const e = (opts.env ? { ...testEnv, ...opts.env } : testEnv) as Env;
    await workerWith(opts.now).scheduled(createScheduledController({ scheduledTime: Date.now(), cron: "17 * * * *" }), e, ctx);
    await waitOnExecutionContext(ctx);
  } finally {
    callsInFlight--;
    await endIdleClients();
  }
}

/** Runs `fn` and returns every SQL statement the Worker sent meanwhile. */
export async function recordStatements(fn: () => Promise<unknown>): Promise<string[]> {
  return (await recordQueries(fn)).map((q) => q.query);
}

/** Runs `fn` and returns every statement the Worker sent meanwhile, with its parameters (to EXPLAIN it). */
export async function recordQueries(fn: () => Promise<unknown>): Promise<{ query: string; params: unknown[] }[]> {
  const statements: { query: string; params: unknown[] }[] = [];
  recording = statements;
  try {
    await fn();
  } finally {
    recording = null;
  }
  return statements;
}

export async function json<T = any>(res: Response): Promise<T> {
  return (await res.json()) as T;
}

/** A fetch into the Worker (through `call`), for Hono's typed client (src/client.ts). */
export const workerFetch: typeof fetch = async (input, init) => {
  const request = new Request(input, init);
  const url = new URL(request.url);
  const body = request.body ? await request.text() : undefined;
  return call(url.pathname + url.search, { method: request.method, headers: Object.fromEntries(request.headers), body });
};
