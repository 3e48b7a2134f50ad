import { and, eq, sql } from "drizzle-orm";
import { calculatePKCECodeChallenge } from "oauth4webapi";
import { authSecret, type Config } from "../../config";
import { UNCACHED } from "../../db/client";
import { oauthExchangeCodes, oauthStates } from "../../db/schema";
import type { Deps, RequestMeta } from "../../deps";
import { apiError, fieldError } from "../../errors";
import { b64url, fromB64url, hmac, randomBytes, sha256Hex, timingSafeEqual, utf8 } from "../../lib/encoding";
import { describeError } from "../../log";
import { assertMayAddWayIn, type OwnerProof } from "../account/credential-change";
import { audit } from "../audit";
import type { Authenticated } from "../sessions/sessions";
import type { SignInResult } from "../sign-in/complete";
import { appleUserName } from "./apple";
import { type BindingCookie, bindingCookieName, clearedBinding, newBinding } from "./browser-binding";
import { callbackUrl, configuredProvider, webClientOf } from "./configured";
import { RESUBMIT_MARKER } from "./form-post";
import type { VerifiedIdentity } from "./id-token";
import { linkIdentity } from "./identities";
import { isOAuthError, KIND_CODES, oauthApiError } from "./oauth-error";
import type { ProviderName } from "./providers";
import { signInWithIdentity } from "./social-sign-in";
import { completeAuthorization, type PendingAuthorization, startAuthorization } from "./web-flow";

/**
 * The web redirect flow around web-flow.ts:
 *   GET  /oauth/{provider}/start?redirect_to=&code_challenge=&intent=
 *                                                a state row and a browser-binding cookie, then 302 to
 *                                                the provider (intent=link: JSON with the URL, the
 *                                                caller's session in the bearer token)
 *   GET|POST /oauth/{provider}/callback          the cookie checked, the state row used up, the code
 *                                                exchanged, the ID token verified; 302 to
 *                                                redirect_to?code=<exchange code>
 *   POST /oauth/exchange {code, code_verifier}   intent sign_in: the exchange code used up -> the
 *                                                normal sign-in answer
 *   POST /oauth/{provider}/link {code, code_verifier, ...}
 *                                                intent link, from the session that started it
 * Tokens never appear in a URL: the browser carries only the one-time exchange code, valid
 * EXCHANGE_TTL_S. The flow is bound three ways, so that neither an attacker's unopened callback
 * URL nor an attacker's exchange code does anything in a victim's browser or app:
 * - to the browser that started it (browser-binding.ts): a callback without its cookie is refused;
 * - to the app that will redeem the code: its own PKCE pair (code_challenge at start, required;
 *   code_verifier at the exchange or link);
 * - to the intent chosen at start: a sign-in code cannot link, and a link code only links, for the
 *   session that started it.
 */
const STATE_TTL_S = 600; // the user may take a while on the provider's pages
const EXCHANGE_TTL_S = 60; // the app exchanges at once

export const INTENTS = ["sign_in", "link"] as const;
type Intent = (typeof INTENTS)[number];

// -- The pending authorization, sealed under a key derived from the state --------------------------

async function stateKey(config: Config, state: string): Promise<CryptoKey> {
  const raw = await hmac(authSecret(config), `oauth-state:${state}`);
  return crypto.subtle.importKey("raw", raw, "AES-GCM", false, ["encrypt", "decrypt"]);
}

async function seal(config: Config, provider: ProviderName, p: PendingAuthorization): Promise<string> {
  const iv = randomBytes(12);
  const plain = utf8(JSON.stringify({ v: p.codeVerifier, n: p.nonce }));
  const sealed = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv, additionalData: utf8(provider) },
    await stateKey(config, p.state),
    plain,
  );
  return `v1.${b64url(iv)}.${b64url(sealed)}`;
}

async function unseal(config: Config, provider: ProviderName, state: string, stored: string): Promise<PendingAuthorization> {
  const [version, iv, sealed] = stored.split(".");
  if (version !== "v1" || !iv || !sealed) throw new Error("unknown sealed state format");
  const plain = await crypto.subtle.decrypt(
    { name: "AES-GCM", iv: fromB64url(iv), additionalData: utf8(provider) },
    await stateKey(config, state),
    fromB64url(sealed),
  );
  const { v, n } = JSON.parse(new TextDecoder().decode(plain)) as { v: string; n: string };
  return { state, codeVerifier: v, nonce: n };
}

// -- start ------------------------------------------------------------------------------------------

export interface StartInput {
  redirectTo: string;
  /** The app's own S256 challenge for the exchange (required). */
  codeChallenge: string;
  intent: Intent;
  /** intent=link: the signed-in caller, whose session alone may link what the flow brings back. */
  auth?: Authenticated;
  /** The request's URL: the callback is on its origin unless OAUTH_CALLBACK_BASE_URL says otherwise. */
  requestUrl: string;
}

/** The provider's authorization URL and the browser-binding cookie to set, after storing what the callback needs. */
export async function startWebSignIn(deps: Deps, providerName: string, input: StartInput): Promise<{ url: string; cookie: BindingCookie }> {
  const provider = configuredProvider(deps.config, providerName);
  const callback = callbackUrl(deps.config, input.requestUrl, provider.name);
  const client = webClientOf(deps.config, provider, callback);
  // Exactly one of the listed URLs: no prefix, pattern or normalisation that an attacker's URL could pass.
  if (!deps.config.OAUTH_REDIRECT_ALLOWLIST.includes(input.redirectTo)) throw fieldError("oauth_redirect_not_allowed", "redirect_to");
  if (input.intent === "link") {
    if (!input.auth) throw apiError("unauthorized");
    assertMayAddWayIn(input.auth.user);
  }
  let started: Awaited<ReturnType<typeof startAuthorization>>;
  try {
    started = await startAuthorization(deps, provider, client);
  } catch (err) {
    if (!isOAuthError(err)) throw err;
    deps.log("error", "sign-in provider unavailable", { provider: provider.name, ...describeError(err) });
    throw oauthApiError(err);
  }
  const now = deps.now();
  const stateHash = await sha256Hex(started.pending.state);
  const binding = await newBinding(stateHash, callback, STATE_TTL_S);
  await deps.db.insert(oauthStates).values({
    stateHash,
    provider: provider.name,
    redirectTo: input.redirectTo,
    sealed: await seal(deps.config, provider.name, started.pending),
    clientChallenge: input.codeChallenge,
    bindingHash: binding.hash,
    intent: input.intent,
    sessionId: input.intent === "link" ? input.auth!.sessionId : null,
    createdAt: now,
    expiresAt: new Date(now.getTime() + STATE_TTL_S * 1000),
  });
  return { url: started.url.toString(), cookie: binding.cookie };
}

// -- callback ---------------------------------------------------------------------------------------

/** `url` with these query parameters added (an app's own scheme works too). */
function withParams(url: string, params: Record<string, string>): string {
  const u = new URL(url);
  for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
  return u.toString();
}

export interface CallbackRequest {
  /** The query (GET), or Apple's form_post body (POST). */
  params: URLSearchParams;
  method: "GET" | "POST";
  requestUrl: string;
  /** A cookie of the request by name. */
  cookie: (name: string) => string | undefined;
}

export type CallbackOutcome =
  /** Send the browser there, and set (clear) the cookie. */
  | { kind: "redirect"; location: string; cookie?: BindingCookie }
  /** A cross-site form_post without the cookie: answer the page that posts it again from this origin (form-post.ts). */
  | { kind: "resubmit" };

/**
 * The provider's callback -> where to send the browser. An unknown, used or expired state is a
 * 400 (there is no trusted place to redirect to). A state presented without its browser's cookie
 * changes nothing (the state stays usable by the browser that started it) and sends the browser
 * to redirect_to with `error=oauth_browser_mismatch`. Once the state is used, every refusal goes
 * back to redirect_to as `error=<code>`.
 */
export async function finishWebSignIn(deps: Deps, meta: RequestMeta, providerName: string, req: CallbackRequest): Promise<CallbackOutcome> {
  const provider = configuredProvider(deps.config, providerName);
  const callback = callbackUrl(deps.config, req.requestUrl, provider.name);
  const client = webClientOf(deps.config, provider, callback);
  const { params } = req;
  const state = params.get("state");
  const refuse = async (reason: string) => {
    await audit(deps, meta, "oauth_sign_in_failed", "failure", null, { provider: provider.name, reason });
    return apiError("oauth_state_invalid");
  };
  if (!state || state.length > 512) throw await refuse("state_missing");
  const stateHash = await sha256Hex(state);
  const presented = req.cookie(bindingCookieName(stateHash, callback));
  // Apple's form_post arrives cross-site, without the Lax cookie: have the browser post it again from here.
  if (!presented && req.method === "POST" && params.get(RESUBMIT_MARKER) === null) return { kind: "resubmit" };
  // Used up by its first arrival from its own browser, whatever follows: a replayed callback finds nothing.
  const [row] = await deps.db
    .delete(oauthStates)
    .where(
      and(
        eq(oauthStates.stateHash, stateHash),
        eq(oauthStates.provider, provider.name),
        eq(oauthStates.bindingHash, await sha256Hex(presented ?? "")),
      ),
    )
    .returning();
  if (!row) {
    const [pending] = await deps.db
      .select({ redirectTo: oauthStates.redirectTo, expiresAt: oauthStates.expiresAt, fresh: UNCACHED })
      .from(oauthStates)
      .where(and(eq(oauthStates.stateHash, stateHash), eq(oauthStates.provider, provider.name)));
    if (!pending || pending.expiresAt <= deps.now()) throw await refuse(pending ? "state_expired" : "state_unknown");
    // Ours, but opened in a browser that did not start it (or lost its cookie): nothing changes.
    await audit(deps, meta, "oauth_sign_in_failed", "blocked", null, { provider: provider.name, reason: "browser_mismatch" });
    return { kind: "redirect", location: withParams(pending.redirectTo, { error: "oauth_browser_mismatch" }) };
  }
  const cleared = clearedBinding(stateHash, callback);
  if (row.expiresAt <= deps.now()) throw await refuse("state_expired");
  let pending: PendingAuthorization;
  try {
    pending = await unseal(deps.config, provider.name, state, row.sealed);
  } catch {
    throw await refuse("state_unsealable");
  }
  let identity: VerifiedIdentity;
  try {
    identity = await completeAuthorization(deps, provider, client, params, pending);
  } catch (err) {
    if (!isOAuthError(err)) throw err;
    if (err.kind === "provider_unavailable")
      deps.log("error", "sign-in provider unavailable", { provider: provider.name, ...describeError(err) });
    await audit(deps, meta, "oauth_sign_in_failed", "failure", null, { provider: provider.name, reason: err.kind });
    return { kind: "redirect", location: withParams(row.redirectTo, { error: KIND_CODES[err.kind] }), cookie: cleared };
  }
  const code = b64url(randomBytes(32));
  const now = deps.now();
  const fullName = provider.name === "apple" ? appleUserName(params) : undefined;
  await deps.db.insert(oauthExchangeCodes).values({
    codeHash: await sha256Hex(code),
    provider: provider.name,
    identity: { ...identity, ...(fullName ? { full_name: fullName } : {}) },
    clientChallenge: row.clientChallenge,
    intent: row.intent,
    sessionId: row.sessionId,
    createdAt: now,
    expiresAt: new Date(now.getTime() + EXCHANGE_TTL_S * 1000),
  });
  return { kind: "redirect", location: withParams(row.redirectTo, { code }), cookie: cleared };
}

// -- exchange ---------------------------------------------------------------------------------------

export interface ExchangeInput {
  code: string;
  /** The verifier of the code_challenge given at start. */
  codeVerifier: string;
}

/** Where an exchange code is presented: the sign-in exchange, or a link from a session. */
type Use = { intent: "sign_in" } | { intent: "link"; sessionId: string };

/**
 * Use an exchange code up and return the identity it carries. One statement, conditional on the
 * intent (and, for a link, the session) chosen at start: of concurrent exchanges exactly one gets
 * the row, and a code presented for the other use is refused (400 oauth_intent_mismatch) and left
 * as it was. Unknown, used, expired, or presented without the right PKCE verifier: 401, and the
 * code is gone.
 */
async function redeemExchangeCode(deps: Deps, meta: RequestMeta, input: ExchangeInput, use: Use) {
  const codeHash = await sha256Hex(input.code);
  const [row] = await deps.db
    .delete(oauthExchangeCodes)
    .where(
      and(
        eq(oauthExchangeCodes.codeHash, codeHash),
        eq(oauthExchangeCodes.intent, use.intent),
        use.intent === "link" ? eq(oauthExchangeCodes.sessionId, use.sessionId) : sql`true`,
      ),
    )
    .returning();
  const refuse = async (reason: string, provider: string | null, code: "oauth_exchange_code_invalid" | "oauth_intent_mismatch") => {
    await audit(deps, meta, "oauth_sign_in_failed", "failure", null, { provider, reason });
    return apiError(code);
  };
  if (!row) {
    const [other] = await deps.db
      .select({ provider: oauthExchangeCodes.provider, expiresAt: oauthExchangeCodes.expiresAt, fresh: UNCACHED })
      .from(oauthExchangeCodes)
      .where(eq(oauthExchangeCodes.codeHash, codeHash));
    if (!other || other.expiresAt <= deps.now())
      throw await refuse("exchange_code_unknown", other?.provider ?? null, "oauth_exchange_code_invalid");
    throw await refuse("exchange_intent_mismatch", other.provider, "oauth_intent_mismatch");
  }
  if (row.expiresAt <= deps.now()) throw await refuse("exchange_code_expired", row.provider, "oauth_exchange_code_invalid");
  const presented = await calculatePKCECodeChallenge(input.codeVerifier);
  if (!timingSafeEqual(utf8(presented), utf8(row.clientChallenge)))
    throw await refuse("exchange_verifier_mismatch", row.provider, "oauth_exchange_code_invalid");
  const { full_name, ...identity } = row.identity as VerifiedIdentity & { full_name?: string };
  return { identity, fullName: full_name };
}

/** POST /oauth/exchange: a sign-in's exchange code -> the normal sign-in answer (the account resolved now). */
export async function exchangeSignIn(deps: Deps, meta: RequestMeta, input: ExchangeInput): Promise<SignInResult> {
  const { identity, fullName } = await redeemExchangeCode(deps, meta, input, { intent: "sign_in" });
  configuredProvider(deps.config, identity.provider); // switched off since the code was issued: 404
  return signInWithIdentity(deps, meta, identity, fullName);
}

/**
 * POST /oauth/{provider}/link with an exchange code from a flow started with intent=link by this
 * session (web apps hold no ID token), after the owner's proof (ways-in.ts).
 */
export async function linkWithExchangeCode(
  deps: Deps,
  meta: RequestMeta,
  auth: Authenticated,
  providerName: string,
  input: ExchangeInput,
  proof: OwnerProof,
) {
  const provider = configuredProvider(deps.config, providerName);
  return linkIdentity(deps, meta, auth, proof, async () => {
    const { identity } = await redeemExchangeCode(deps, meta, input, { intent: "link", sessionId: auth.sessionId });
    if (identity.provider !== provider.name) throw apiError("oauth_exchange_code_invalid");
    return identity;
  });
}
