import { awaitShared } from "../../lib/isolate-memo";
import { isSecureOrLoopback } from "../../lib/url";
import { OAuthError } from "./oauth-error";

/**
 * Per-isolate cache of provider documents (discovery, JWKS): one fetch serves every request of
 * the isolate until the provider's own Cache-Control max-age runs out, concurrent misses share
 * one fetch, and a failed refresh keeps serving the last good copy for a while.
 */
export interface OidcDeps {
  fetch: typeof fetch;
  now: () => Date;
  /** Defaults to the isolate-wide cache; pass your own to isolate callers from each other. */
  oidcCache?: OidcCache;
}

export interface CacheEntry<T> {
  value: T;
  /** When this copy was fetched (ms). */
  fetchedAt: number;
  /** Reuse until then (ms). */
  expiresAt: number;
  /** Last fetch attempt, successful or not (ms): what refetch rate limits count from. */
  checkedAt: number;
  /** While refreshes fail, this copy is still served until then (ms). */
  staleUntil: number;
}

export interface OidcCache {
  entries: Map<string, CacheEntry<unknown>>;
  inflight: Map<string, Promise<CacheEntry<unknown>>>;
  maxEntries: number;
}

export function createOidcCache(maxEntries = 32): OidcCache {
  return { entries: new Map(), inflight: new Map(), maxEntries };
}

/** The isolate's cache: module state lives as long as the isolate. */
const isolateOidcCache = createOidcCache();

/** Bounds for the provider's max-age, in seconds. */
const MIN_TTL_S = 60; // a provider answering no-store must not turn every sign-in into a fetch
const MAX_TTL_S = 24 * 3600;
const DEFAULT_TTL_S = 3600; // when the response says nothing
/** After a failed refresh, retry no sooner than this; serve the stale copy at most this long. */
const RETRY_AFTER_MS = 30_000;
const MAX_STALE_MS = 24 * 3600_000;
const FETCH_TIMEOUT_MS = 5000;
const MAX_BODY_BYTES = 256 * 1024;

/**
 * How long a response may be reused, in seconds, from Cache-Control (max-age less Age;
 * no-store/no-cache mean 0) or Expires; null when it says nothing.
 */
function freshnessSeconds(headers: Headers, nowMs: number): number | null {
  const cc = headers.get("cache-control");
  if (cc) {
    const directives = cc
      .toLowerCase()
      .split(",")
      .map((d) => d.trim());
    if (directives.some((d) => d === "no-store" || d === "no-cache")) return 0;
    const maxAge = directives.map((d) => /^max-age\s*=\s*"?(\d+)"?$/.exec(d)).find(Boolean);
    if (maxAge) {
      const age = Number(headers.get("age") ?? 0);
      return Math.max(0, Number(maxAge[1]) - (Number.isFinite(age) ? age : 0));
    }
  }
  const expires = headers.get("expires");
  if (expires) {
    const at = Date.parse(expires);
    const date = Date.parse(headers.get("date") ?? "");
    if (!Number.isNaN(at)) return Math.max(0, Math.floor((at - (Number.isNaN(date) ? nowMs : date)) / 1000));
    return 0; // an invalid Expires means "already expired" (RFC 9111 5.3)
  }
  return null;
}

function ttlMs(headers: Headers, nowMs: number): number {
  const s = freshnessSeconds(headers, nowMs) ?? DEFAULT_TTL_S;
  return Math.min(MAX_TTL_S, Math.max(MIN_TTL_S, s)) * 1000;
}

function store<T>(cache: OidcCache, key: string, entry: CacheEntry<T>) {
  cache.entries.delete(key);
  cache.entries.set(key, entry as CacheEntry<unknown>);
  // Oldest first in a Map: drop from the front when over the bound.
  while (cache.entries.size > cache.maxEntries) cache.entries.delete(cache.entries.keys().next().value as string);
}

async function fetchJson(deps: OidcDeps, url: string): Promise<{ json: unknown; headers: Headers }> {
  const res = await deps.fetch(url, { headers: { accept: "application/json" }, signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
  if (!res.ok) {
    await res.body?.cancel();
    throw new Error(`${url} answered ${res.status}`);
  }
  const declared = Number(res.headers.get("content-length") ?? 0);
  if (declared > MAX_BODY_BYTES) {
    await res.body?.cancel();
    throw new Error(`${url} answered ${declared} bytes`);
  }
  const text = await res.text();
  if (text.length > MAX_BODY_BYTES) throw new Error(`${url} answered ${text.length} bytes`);
  return { json: JSON.parse(text), headers: res.headers };
}

export interface LoadOptions {
  /** Refetch even if fresh, unless the cache already holds a copy checked after this time (ms). */
  refreshIfCheckedBefore?: number;
}

/**
 * A provider document from the cache or the network. `parse` validates it (throwing on
 * nonsense); a failure with a usable stale copy returns that copy.
 */
export async function loadDocument<T>(
  deps: OidcDeps,
  kind: string,
  url: string,
  parse: (json: unknown) => T,
  opts: LoadOptions = {},
): Promise<CacheEntry<T>> {
  if (!isSecureOrLoopback(url)) throw new OAuthError("provider_unavailable", `refusing to load ${kind} over plain http: ${url}`);
  const cache = deps.oidcCache ?? isolateOidcCache;
  const key = `${kind} ${url}`;
  const now = deps.now().getTime();
  const existing = cache.entries.get(key) as CacheEntry<T> | undefined;
  if (existing) {
    const since = opts.refreshIfCheckedBefore;
    // A refresh asked for by a caller holding an older copy is served by any newer one.
    if (since === undefined ? now < existing.expiresAt : existing.checkedAt > since) return existing;
  }
  const pending = cache.inflight.get(key) as Promise<CacheEntry<T>> | undefined;
  if (pending) {
    // Started by another request: if that one was cancelled its fetch never settles here
    // (src/lib/isolate-memo.ts), so wait no longer than a fetch may take, then fetch ourselves.
    const shared = await awaitShared(pending, FETCH_TIMEOUT_MS + 1000);
    if (shared.settled) return shared.value;
    if (cache.inflight.get(key) === pending) cache.inflight.delete(key);
  }
  const job = (async (): Promise<CacheEntry<T>> => {
    try {
      const { json, headers } = await fetchJson(deps, url);
      const value = parse(json);
      const at = deps.now().getTime();
      const expiresAt = at + ttlMs(headers, at);
      const entry = { value, fetchedAt: at, checkedAt: at, expiresAt, staleUntil: expiresAt + MAX_STALE_MS };
      store(cache, key, entry);
      return entry;
    } catch (err) {
      const at = deps.now().getTime();
      if (existing && at < existing.staleUntil) {
        const stale = { ...existing, checkedAt: at, expiresAt: Math.max(existing.expiresAt, at + RETRY_AFTER_MS) };
        store(cache, key, stale);
        return stale;
      }
      throw new OAuthError("provider_unavailable", `cannot load ${kind} from ${url}`, { cause: err });
    }
  })().finally(() => cache.inflight.delete(key));
  cache.inflight.set(key, job as Promise<CacheEntry<unknown>>);
  return job;
}
