import { hc } from "hono/client";
import type { AppType } from "./app";

export type { AppType };

export interface ClientOptions {
  /** An access token: sent as `Authorization: Bearer <token>` on every request. */
  token?: string;
  /** Replaces the global fetch (tests, service bindings, custom agents). */
  fetch?: typeof fetch;
  /** Extra headers on every request. */
  headers?: Record<string, string>;
}

/**
 * A typed client for this API, built on Hono's `hc` from the app's own route types: paths,
 * request bodies and response bodies are checked by the TypeScript compiler.
 *
 *   const api = createClient("https://auth.example.com");
 *   const res = await api.auth.login.$post({ json: { email, password } });
 *   if (res.ok) { const { access_token } = await res.json(); }
 */
export function createClient(baseUrl: string, options: ClientOptions = {}) {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers.Authorization = `Bearer ${options.token}`;
  return hc<AppType>(baseUrl, { headers, ...(options.fetch ? { fetch: options.fetch } : {}) });
}

export type Client = ReturnType<typeof createClient>;
