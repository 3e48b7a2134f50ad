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

/** An app's own PKCE pair for the exchange: a verifier it keeps, and base64url(SHA-256(verifier)) for start. */
export async function newPkce() {
  const verifier = `app-verifier-${crypto.randomUUID()}-${crypto.randomUUID()}`;
  return { verifier, challenge: await s256(verifier) };
}

/** base64url(SHA-256(text)). */
export async function s256(text: string) {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
  return btoa(String.fromCharCode(...digest))
    .replace(/\+/g, "-")
    .replace(/\//g, "_")
    .replace(/=+$/, "");
}

/** The cookies a response sets, parsed: name -> {value, attributes (lower-cased keys)}. */
export function setCookies(res: Response): Map<string, { value: string; attributes: Record<string, string | true> }> {
  const out = new Map<string, { value: string; attributes: Record<string, string | true> }>();
  for (const line of res.headers.getSetCookie()) {
    const [pair, ...attrs] = line.split(";").map((p) => p.trim());
    const eq = pair.indexOf("=");
    const attributes: Record<string, string | true> = {};
    for (const a of attrs) {
      const k = a.indexOf("=");
      if (k < 0) attributes[a.toLowerCase()] = true;
      else attributes[a.slice(0, k).toLowerCase()] = a.slice(k + 1);
    }
    out.set(pair.slice(0, eq), { value: pair.slice(eq + 1), attributes });
  }
  return out;
}

/** The flow's browser-binding cookie as a browser sends it back (`name=value`), from start's answer. */
export function bindingCookie(start: Response): string {
  const cookies = [...setCookies(start)].filter(([name]) => /^(__Host-)?oauth-/.test(name));
  expect(cookies, "start sets one browser-binding cookie").toHaveLength(1);
  const [[name, { value }]] = cookies;
  return `${name}=${value}`;
}

/**
 * The callback request into the Worker, exactly as sent: GET with the query, or the form POST,
 * with `cookie` (a Cookie header value) when given.
 */
export function callbackCall(answer: ProviderAnswer, opts: CallOptions & { cookie?: string } = {}) {
  const { cookie, ...rest } = opts;
  const path = answer.callback.pathname;
  const headers = { ...(cookie ? { cookie } : {}), ...rest.headers };
  if (answer.method === "GET") return call(`${path}?${answer.params}`, { ...rest, headers });
  return call(path, {
    method: "POST",
    body: answer.params.toString(),
    ...rest,
    headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
  });
}

/** The fields of the page the callback answers a cross-site form_post with (its hidden inputs). */
export function resubmitFields(html: string): URLSearchParams {
  const params = new URLSearchParams();
  for (const m of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) params.set(m[1], unescapeHtml(m[2]));
  return params;
}

/**
 * The callback as a browser holding `cookie` makes it: Google's GET carries the SameSite=Lax
 * cookie (a top-level navigation); Apple's cross-site form_post does not, so the Worker answers a
 * page that posts the same fields again from its own origin, and that POST carries the cookie.
 */
export async function browserCallback(answer: ProviderAnswer, cookie: string | undefined, opts: CallOptions = {}) {
  if (answer.method === "GET") return callbackCall(answer, { ...opts, cookie });
  const page = await callbackCall(answer, opts);
  expect(page.status, await page.clone().text()).toBe(200);
  expect(page.headers.get("content-type")).toMatch(/^text\/html/);
  return callbackCall({ ...answer, params: resubmitFields(await page.text()) }, { ...opts, cookie });
}

/** GET /auth/oauth/{provider}/start, any outcome. */
export const startCall = (provider: string, query: Record<string, string>, opts: CallOptions = {}) =>
  call(`/auth/oauth/${provider}/start?${new URLSearchParams(query)}`, opts);

/** The allowed redirect_to values of the test bindings. */
export const redirectTargets = (env: Record<string, unknown>) => String(env.OAUTH_REDIRECT_ALLOWLIST).split(",");

export interface WebFlow {
  start: Response;
  answer: ProviderAnswer;
  callback: Response;
  /** The app's PKCE verifier (for the exchange) and the browser's binding cookie. */
  verifier: string;
  cookie: string;
}

/**
 * start (with a fresh PKCE pair unless the query brings a code_challenge; intent=link with the
 * session's `token`) -> the provider (signing in `user`) -> our callback, in the browser that started.
 */
export async function webFlowUntilCallback(
  provider: ProviderName,
  user: SocialUser,
  query: Record<string, string>,
  opts: CallOptions = {},
): Promise<WebFlow> {
  await control("next-login", { provider, ...user });
  const pkce = await newPkce();
  const start = await startCall(provider, { code_challenge: pkce.challenge, ...query }, opts);
  expect(start.status, await start.clone().text()).toBe(query.intent === "link" ? 200 : 302);
  const authorizeUrl =
    query.intent === "link"
      ? (await start.clone().json<{ authorization_url: string }>()).authorization_url
      : start.headers.get("location")!;
  const cookie = bindingCookie(start);
  const answer = await authorizeAtProvider(authorizeUrl);
  return { start, answer, callback: await browserCallback(answer, cookie), verifier: pkce.verifier, cookie };
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

/** A web flow for `user` through to its exchange code: the code and the app's verifier. */
export async function webCode(provider: ProviderName, user: SocialUser, query: Record<string, string>, opts: CallOptions = {}) {
  const flow = await webFlowUntilCallback(provider, user, query, opts);
  const { code } = redirectResult(flow.callback, query.redirect_to);
  expect(code).toBeTruthy();
  return { code: code!, code_verifier: flow.verifier };
}
