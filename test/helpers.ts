import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import postgres from "postgres";
import { inject } from "vitest";
import { createApp } from "../src/app";
import type { Env } from "../src/config";
import { clientHooks } from "../src/db/client";
import worker from "../src/index";

/** The Worker's own env in tests (wrangler.toml + test bindings). */
export const testEnv = env as unknown as Env;

let ipCounter = Math.floor(Math.random() * 200) * 256;
/** A fresh client address, so per-IP rate limits of one test don't leak into another. */
export function freshIp(): string {
  ipCounter++;
  return `10.${(ipCounter >> 16) & 255}.${(ipCounter >> 8) & 255}.${ipCounter & 255}`;
}

export interface CallOptions {
  method?: string;
  body?: unknown;
  headers?: Record<string, string>;
  token?: string;
  ip?: string;
  env?: Partial<Record<string, unknown>>;
  /** A controlled clock: builds the app with this `now` instead of the real one. */
  now?: () => Date;
}

/**
 * Requests made here run inside the test's context, not a real request's, so the Worker's
 * per-request Postgres clients would stay open (a real request closes them when it ends) and
 * exhaust max_connections. They are ended once no call is in flight.
 */
const openClients = new Set<{ end(o?: { timeout?: number }): Promise<void> }>();
let callsInFlight = 0;
// Only clients made by a call (a test that builds its own deps keeps control of its clients).
clientHooks.created = (client) => void (callsInFlight > 0 && openClients.add(client));

/** An HTTP request into the Worker (its default export), or into an app with a controlled clock. */
export async function call(path: string, opts: CallOptions = {}): Promise<Response> {
  callsInFlight++;
  try {
    return await callWorker(path, opts);
  } finally {
    if (--callsInFlight === 0 && openClients.size > 0) {
      const clients = [...openClients];
      openClients.clear();
      await Promise.all(clients.map((c) => c.end({ timeout: 0 }).catch(() => {})));
    }
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
  const res = opts.now
    ? await createApp("/auth", { now: opts.now }).fetch(request, e, ctx)
    : await worker.fetch(request as Request<unknown, IncomingRequestCfProperties>, e, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

export async function json<T = any>(res: Response): Promise<T> {
  return (await res.json()) as T;
}

let counter = 0;
export const uniqueEmail = (prefix = "user") =>
  `${prefix}-${Date.now().toString(36)}-${++counter}-${Math.random().toString(36).slice(2, 7)}@example.com`;

export const PASSWORD = "Correct-Horse-Battery-9";

export async function registerUser(overrides: Partial<{ full_name: string; email: string; password: string; role: string }> = {}) {
  const body = { full_name: "Test User", email: uniqueEmail(), password: PASSWORD, role: "student", ...overrides };
  const res = await call("/auth/register", { body });
  if (res.status !== 201) throw new Error(`register failed: ${res.status} ${await res.text()}`);
  const data = await json(res);
  return { ...data, email: body.email, password: body.password } as {
    access_token: string;
    refresh_token: string;
    user: { id: string; email: string; full_name: string; role: string; avatar: string | null };
    email: string;
    password: string;
  };
}

/** A direct connection to the test database, for assertions on rows. */
export function db() {
  return postgres(inject("dbUrl"), { max: 1, fetch_types: false, onnotice: () => {} });
}

/** A clock the test moves by hand. */
export function fakeClock(start = Date.now()) {
  let t = start;
  return {
    now: () => new Date(t),
    advance: (ms: number) => {
      t += ms;
    },
    set: (ms: number) => {
      t = ms;
    },
  };
}

// Shared by the session tests.
export const MIN = 60_000;
export const DAY = 24 * 3600_000;

export type Pair = { access_token: string; refresh_token: string; token_type: string; expires_in: number };

/** POST /auth/refresh: status and body. */
export async function refresh(refresh_token: string, opts: { now?: () => Date; env?: Record<string, unknown> } = {}) {
  const res = await call("/auth/refresh", { body: { refresh_token }, ...opts });
  return { status: res.status, body: await json(res) };
}

/** GET /auth/me: just the status. */
export async function me(token: string, opts: { now?: () => Date } = {}) {
  return (await call("/auth/me", { token, ...opts })).status;
}

/** POST /auth/login that must succeed: the pair and the user. */
export async function login(
  email: string,
  password = PASSWORD,
  opts: { now?: () => Date; headers?: Record<string, string>; ip?: string } = {},
) {
  const res = await call("/auth/login", { body: { email, password }, ...opts });
  if (res.status !== 200) throw new Error(`login failed: ${res.status} ${await res.text()}`);
  return (await json(res)) as Pair & { user: { id: string } };
}
