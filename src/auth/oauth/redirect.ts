import { and, eq } from "drizzle-orm";
import { calculatePKCECodeChallenge } from "oauth4webapi";
import { authSecret, type Config } from "../../config";
import { oauthExchangeCodes, oauthStates } from "../../db/schema";
import type { Deps, RequestMeta } from "../../deps";
import { apiError, fieldError } from "../../errors";
import { b64url, fromB64url, hmac, randomBytes, sha256Hex, timingSafeEqual, utf8 } from "../../lib/encoding";
import { describeError } from "../../log";
import { audit } from "../audit";
import type { Authenticated } from "../sessions/sessions";
import type { SignInResult } from "../sign-in/complete";
import { appleUserName } from "./apple";
import { callbackUrl, configuredProvider, webClientOf } from "./configured";
import type { VerifiedIdentity } from "./id-token";
import { linkIdentity } from "./identities";
import { isOAuthError, KIND_CODES, oauthApiError } from "./oauth-error";
import type { ProviderName } from "./providers";
import { signInWithIdentity } from "./social-sign-in";
import { completeAuthorization, type PendingAuthorization, startAuthorization } from "./web-flow";

/**
 * The web redirect flow around web-flow.ts:
 *   GET  /oauth/{provider}/start?redirect_to=   a state row, then 302 to the provider
 *   GET|POST /oauth/{provider}/callback          the state row used up, the code exchanged, the ID
 *                                                token verified; 302 to redirect_to?code=<exchange code>
 *   POST /oauth/exchange {code}                  the exchange code used up -> the normal sign-in answer
 * Tokens never appear in a URL: the browser carries only the one-time exchange code, valid
 * EXCHANGE_TTL_S. An app may bind that code to itself with its own PKCE pair (code_challenge at
 * start, code_verifier at exchange), so a code that leaks from the address bar or a log is useless.
 */
const STATE_TTL_S = 600; // the user may take a while on the provider's pages
const EXCHANGE_TTL_S = 60; // the app exchanges at once

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
  /** The app's own S256 challenge for the exchange (optional). */
  codeChallenge?: string;
  /** The request's URL: the callback is on its origin unless OAUTH_CALLBACK_BASE_URL says otherwise. */
  requestUrl: string;
}

/** The provider's authorization URL, after storing what the callback needs. */
export async function startWebSignIn(deps: Deps, providerName: string, input: StartInput): Promise<string> {
  const provider = configuredProvider(deps.config, providerName);
  const client = webClientOf(deps.config, provider, callbackUrl(deps.config, input.requestUrl, provider.name));
  // Exactly one of the listed URLs: no prefix, pattern or normalisation that an attacker's URL could pass.
  if (!deps.config.OAUTH_REDIRECT_ALLOWLIST.includes(input.redirectTo)) throw fieldError("oauth_redirect_not_allowed", "redirect_to");
  let started: Awaited<ReturnType<typeof startAuthorization>>;
  try {
    started = await startAuthorization(deps, provider, client);
  } catch (err) {
    if (!isOAuthError(err)) throw err;
    deps.log("error", "sign-in provider unavailable", { provider: provider.name, ...describeError(err) });
    throw oauthApiError(err);
  }
  const now = deps.now();
  await deps.db.insert(oauthStates).values({
    stateHash: await sha256Hex(started.pending.state),
    provider: provider.name,
    redirectTo: input.redirectTo,
    sealed: await seal(deps.config, provider.name, started.pending),
    clientChallenge: input.codeChallenge ?? null,
    createdAt: now,
    expiresAt: new Date(now.getTime() + STATE_TTL_S * 1000),
  });
  return started.url.toString();
}

// -- callback ---------------------------------------------------------------------------------------

/** `url` with these query parameters added (an app's own scheme works too). */
function withParams(url: string, params: Record<string, string>): string {
  const u = new URL(url);
  for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
  return u.toString();
}

/**
 * The provider's callback (`params`: the query, or Apple's form_post body) -> where to send the
 * browser. An unknown, used or expired state is a 400 (there is no trusted place to redirect to);
 * once the state is ours, every refusal goes back to redirect_to as `error=<code>`.
 */
export async function finishWebSignIn(
  deps: Deps,
  meta: RequestMeta,
  providerName: string,
  params: URLSearchParams,
  requestUrl: string,
): Promise<string> {
  const provider = configuredProvider(deps.config, providerName);
  const client = webClientOf(deps.config, provider, callbackUrl(deps.config, requestUrl, provider.name));
  const state = params.get("state");
  const refuse = async (reason: string) => {
    await audit(deps, meta, "oauth_sign_in_failed", "failure", null, { provider: provider.name, reason });
    return apiError("oauth_state_invalid");
  };
  if (!state || state.length > 512) throw await refuse("state_missing");
  // Used up by its first arrival, whatever follows: a replayed callback finds nothing.
  const [row] = await deps.db
    .delete(oauthStates)
    .where(and(eq(oauthStates.stateHash, await sha256Hex(state)), eq(oauthStates.provider, provider.name)))
    .returning();
  if (!row || row.expiresAt <= deps.now()) throw await refuse(row ? "state_expired" : "state_unknown");
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
    return withParams(row.redirectTo, { error: KIND_CODES[err.kind] });
  }
  const code = b64url(randomBytes(32));
  const now = deps.now();
  const fullName = provider.name === "apple" ? appleUserName(params) : undefined;
  await deps.db.insert(oauthExchangeCodes).values({
    codeHash: await sha256Hex(code),
    provider: provider.name,
    identity: { ...identity, ...(fullName ? { full_name: fullName } : {}) },
    clientChallenge: row.clientChallenge,
    createdAt: now,
    expiresAt: new Date(now.getTime() + EXCHANGE_TTL_S * 1000),
  });
  return withParams(row.redirectTo, { code });
}

// -- exchange ---------------------------------------------------------------------------------------

export interface ExchangeInput {
  code: string;
  /** Required when start was given a code_challenge. */
  codeVerifier?: string;
}

/**
 * Use an exchange code up (one statement: of concurrent exchanges exactly one gets the row) and
 * return the identity it carries. Unknown, used, expired or (with the app's PKCE pair) presented
 * without the right verifier: 401, and the code is gone either way.
 */
async function redeemExchangeCode(deps: Deps, meta: RequestMeta, input: ExchangeInput) {
  const [row] = await deps.db
    .delete(oauthExchangeCodes)
    .where(eq(oauthExchangeCodes.codeHash, await sha256Hex(input.code)))
    .returning();
  const refuse = async (reason: string) => {
    await audit(deps, meta, "oauth_sign_in_failed", "failure", null, { provider: row?.provider ?? null, reason });
    return apiError("oauth_exchange_code_invalid");
  };
  if (!row || row.expiresAt <= deps.now()) throw await refuse(row ? "exchange_code_expired" : "exchange_code_unknown");
  if (row.clientChallenge) {
    const presented = input.codeVerifier ? await calculatePKCECodeChallenge(input.codeVerifier) : "";
    if (!timingSafeEqual(utf8(presented), utf8(row.clientChallenge))) throw await refuse("exchange_verifier_mismatch");
  }
  const { full_name, ...identity } = row.identity as VerifiedIdentity & { full_name?: string };
  return { identity, fullName: full_name };
}

/** POST /oauth/exchange: the exchange code -> the normal sign-in answer (the account resolved now). */
export async function exchangeSignIn(deps: Deps, meta: RequestMeta, input: ExchangeInput): Promise<SignInResult> {
  const { identity, fullName } = await redeemExchangeCode(deps, meta, input);
  configuredProvider(deps.config, identity.provider); // switched off since the code was issued: 404
  return signInWithIdentity(deps, meta, identity, fullName);
}

/** POST /oauth/{provider}/link with an exchange code from the redirect flow (for web apps, which hold no ID token). */
export async function linkWithExchangeCode(deps: Deps, meta: RequestMeta, auth: Authenticated, providerName: string, input: ExchangeInput) {
  const provider = configuredProvider(deps.config, providerName);
  const { identity } = await redeemExchangeCode(deps, meta, input);
  if (identity.provider !== provider.name) throw apiError("oauth_exchange_code_invalid");
  return linkIdentity(deps, meta, auth, identity);
}
