import { expect, inject } from "vitest";
import { type CallOptions, call, json } from "./worker";

/**
 * The local OpenID provider standing in for Google and Apple (scripts/stack/oidc-provider.ts,
 * started by global-setup.ts): its control API, and the steps of a social sign-in through the
 * Worker. Real keys and signatures; the Worker fetches discovery and keys from it over HTTP.
 */
export const oidc = () => inject("oidc");

export type ProviderName = "google" | "apple";

export async function control<T = any>(path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${oidc().url}/_control/${path}`, {
    method: body === undefined ? "GET" : "POST",
    headers: { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  expect(res.status).toBe(200);
  return res.json<T>();
}

export type ProviderStats = Record<ProviderName, { jwksFetches: number; discoveryFetches: number; tokenRequests: number; kid: string }>;
export const providerStats = () => control<ProviderStats>("stats");

/** An ID token signed by the provider (claims merged over its defaults; null removes one). */
export const mintIdToken = async (
  provider: ProviderName,
  claims: Record<string, unknown> = {},
  key?: "current" | "foreign" | "unlisted" | "hs256",
) => (await control<{ id_token: string }>("mint", { provider, claims, key })).id_token;

/** SHA-256 hex of a raw nonce: what the app gives the provider's SDK. */
export async function sha256hex(raw: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(raw)));
  return [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** A fresh raw nonce and its hash. */
export async function newNonce() {
  const raw = `nonce-${crypto.randomUUID()}`;
  return { raw, hashed: await sha256hex(raw) };
}

let subjects = 0;
/** A provider user id no other test uses. */
export const uniqueSub = (prefix = "sub") => `${prefix}-${Date.now().toString(36)}-${++subjects}-${Math.random().toString(36).slice(2, 8)}`;

export interface SocialUser {
  sub: string;
  email: string;
  email_verified?: boolean;
  name?: string;
}

/**
 * A native app's ID token for `user`, as the provider's SDK would hand it over: Google with aud =
 * the iOS client and the hashed nonce, Apple with aud = the bundle id (and its string booleans).
 */
export async function nativeToken(provider: ProviderName, user: SocialUser, extra: Record<string, unknown> = {}) {
  const n = await newNonce();
  const o = oidc();
  const aud = provider === "google" ? o.google.iosClientId : o.apple.bundleId;
  const verified = user.email_verified ?? true;
  const claims: Record<string, unknown> = {
    aud,
    sub: user.sub,
    email: user.email,
    email_verified: provider === "apple" ? String(verified) : verified,
    nonce: n.hashed,
    ...(provider === "google" ? { azp: aud, name: user.name ?? null } : {}),
    ...extra,
  };
  return { id_token: await mintIdToken(provider, claims), nonce: n.raw };
}

/** POST /auth/oauth/{provider}/id-token, any outcome. */
export const idTokenSignIn = (provider: string, body: Record<string, unknown>, opts: CallOptions = {}) =>
  call(`/auth/oauth/${provider}/id-token`, { body, ...opts });

/** Sign in natively as `user` (must answer 200): the body. */
export async function socialLogin(provider: ProviderName, user: SocialUser, opts: CallOptions & { fullName?: string } = {}) {
  const t = await nativeToken(provider, user);
  const res = await idTokenSignIn(provider, { ...t, ...(opts.fullName ? { full_name: opts.fullName } : {}) }, opts);
  expect(res.status, await res.clone().text()).toBe(200);
  return json(res);
}

/** The error code of a JSON error answer. */
export const codeOf = async (res: Response) => ((await res.clone().json()) as { code?: string }).code;

// -- The web redirect flow ---------------------------------------------------------------------------

/** Decodes the value of a hidden input of the provider's form_post page. */
const unescapeHtml = (s: string) =>
  s
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&amp;/g, "&");

export interface ProviderAnswer {
  /** Where the provider sends the browser back (our callback URL). */
  callback: URL;
  /** Its parameters: the query (Google) or the posted form (Apple's form_post). */
  params: URLSearchParams;
  method: "GET" | "POST";
}

/** What a browser does at the provider's authorize URL (it signs in whoever is queued with next-login). */
export async function authorizeAtProvider(authorizeUrl: string): Promise<ProviderAnswer> {
  const res = await fetch(authorizeUrl, { redirect: "manual" });
  if (res.status === 302) {
    const back = new URL(res.headers.get("location")!);
    const params = new URLSearchParams(back.search);
    back.search = "";
    return { callback: back, params, method: "GET" };
  }
  expect(res.status, await res.clone().text()).toBe(200);
  const html = await res.text();
  const action = /<form method="post" action="([^"]+)">/.exec(html);
  expect(action).not.toBeNull();
  const params = new URLSearchParams();
  for (const m of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) params.set(m[1], unescapeHtml(m[2]));
  return { callback: new URL(unescapeHtml(action![1])), params, method: "POST" };
}

/** The callback request into the Worker, as the browser makes it (GET with the query, or the form POST). */
export function callbackCall(answer: ProviderAnswer, opts: CallOptions = {}) {
  const path = answer.callback.pathname;
  if (answer.method === "GET") return call(`${path}?${answer.params}`, opts);
  return call(path, {
    method: "POST",
    body: answer.params.toString(),
    headers: { "content-type": "application/x-www-form-urlencoded" },
    ...opts,
  });
}

/** GET /auth/oauth/{provider}/start, any outcome. */
export const startCall = (provider: string, query: Record<string, string>, opts: CallOptions = {}) =>
  call(`/auth/oauth/${provider}/start?${new URLSearchParams(query)}`, opts);

/** The allowed redirect_to values of the test bindings. */
export const redirectTargets = (env: Record<string, unknown>) => String(env.OAUTH_REDIRECT_ALLOWLIST).split(",");

/** start -> the provider (signing in `user`) -> our callback: the callback's answer. */
export async function webFlowUntilCallback(provider: ProviderName, user: SocialUser, query: Record<string, string>) {
  await control("next-login", { provider, ...user });
  const start = await startCall(provider, query);
  expect(start.status, await start.clone().text()).toBe(302);
  const answer = await authorizeAtProvider(start.headers.get("location")!);
  return { start, answer, callback: await callbackCall(answer) };
}

/** The `code` (or `error`) the callback's redirect carries to redirect_to. */
export function redirectResult(res: Response, redirectTo: string) {
  expect(res.status, `callback answered ${res.status}`).toBe(302);
  const location = res.headers.get("location")!;
  expect(location.startsWith(`${redirectTo}?`), location).toBe(true);
  const q = new URL(location).searchParams;
  return { code: q.get("code"), error: q.get("error"), location };
}

/** POST /auth/oauth/exchange, any outcome. */
export const exchangeCall = (body: Record<string, unknown>, opts: CallOptions = {}) => call("/auth/oauth/exchange", { body, ...opts });
