import * as oauth from "oauth4webapi";
import { isSecureOrLoopback } from "../../lib/url";
import { type AppleSigningKey, appleClientSecret } from "./apple";
import type { OidcDeps } from "./cache";
import { type Discovery, getDiscovery } from "./discovery";
import { hashNonce, type VerifiedIdentity, verifyIdToken } from "./id-token";
import { OAuthError, type OAuthErrorKind } from "./oauth-error";
import { type OidcProvider, RULES } from "./providers";

/**
 * The web redirect flow (authorization code + PKCE S256 + state + nonce), as plain functions;
 * the protocol work is oauth4webapi's, ID-token checks are verifyIdToken's.
 */
export interface WebClient {
  clientId: string;
  /** Exactly as registered with the provider. */
  redirectUri: string;
  /** Google: the web client's secret. */
  clientSecret?: string;
  /** Apple: the developer key that signs the client secret. */
  appleKey?: AppleSigningKey;
}

/** What the start step must keep (server-side or in a signed, short-lived cookie) for the callback. */
export interface PendingAuthorization {
  state: string;
  codeVerifier: string;
  /** The raw nonce; the provider only ever sees its SHA-256. */
  nonce: string;
}

const TOKEN_TIMEOUT_MS = 10_000;

const asServer = (d: Discovery) => d as unknown as oauth.AuthorizationServer;

function requestOptions(deps: OidcDeps, url: string) {
  return {
    [oauth.customFetch]: deps.fetch,
    // Plain http only for a provider on this machine (the local stand-in); never elsewhere.
    [oauth.allowInsecureRequests]: url.startsWith("http:") && isSecureOrLoopback(url),
    signal: AbortSignal.timeout(TOKEN_TIMEOUT_MS),
  };
}

/** oauth4webapi's ID-token claim checks, in our error kinds (verifyIdToken would say the same). */
function claimKind(err: oauth.OperationProcessingError): OAuthErrorKind | null {
  const { claim, claims } = (err.cause ?? {}) as { claim?: string; claims?: { nonce?: unknown } };
  if (err.code === oauth.JWT_TIMESTAMP_CHECK) return claim === "nbf" ? "not_yet_valid" : "expired";
  if (err.code !== oauth.JWT_CLAIM_COMPARISON) return null;
  if (claim === "nonce") return claims?.nonce === undefined ? "nonce_missing" : "nonce_mismatch";
  if (claim === "iss") return "wrong_issuer";
  if (claim === "aud" || claim === "azp") return "wrong_audience";
  return null;
}

/** oauth4webapi's own ID-token claim checks run on our clock, not the machine's. */
function clientFor(deps: OidcDeps, clientId: string): oauth.Client {
  return { client_id: clientId, [oauth.clockSkew]: Math.round((deps.now().getTime() - Date.now()) / 1000) };
}

/** The provider's authorization URL and what to keep for the callback. */
export async function startAuthorization(
  deps: OidcDeps,
  provider: OidcProvider,
  client: Pick<WebClient, "clientId" | "redirectUri">,
  opts: { loginHint?: string } = {},
): Promise<{ url: URL; pending: PendingAuthorization }> {
  const discovery = await getDiscovery(deps, provider);
  if (!discovery.authorization_endpoint) throw new OAuthError("provider_unavailable", "no authorization_endpoint");
  const pending = {
    state: oauth.generateRandomState(),
    codeVerifier: oauth.generateRandomCodeVerifier(),
    nonce: oauth.generateRandomNonce(),
  };
  const rules = RULES[provider.name];
  const url = new URL(discovery.authorization_endpoint);
  const params = {
    response_type: "code",
    client_id: client.clientId,
    redirect_uri: client.redirectUri,
    scope: rules.scopes.join(" "),
    state: pending.state,
    nonce: await hashNonce(pending.nonce),
    code_challenge: await oauth.calculatePKCECodeChallenge(pending.codeVerifier),
    code_challenge_method: "S256",
    ...(rules.responseMode !== "query" ? { response_mode: rules.responseMode } : {}),
    ...(opts.loginHint ? { login_hint: opts.loginHint } : {}),
  };
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  return { url, pending };
}

async function clientAuth(deps: OidcDeps, discovery: Discovery, client: WebClient): Promise<oauth.ClientAuth> {
  if (client.appleKey)
    return oauth.ClientSecretPost(await appleClientSecret(client.appleKey, client.clientId, discovery.issuer, deps.now()));
  if (client.clientSecret) return oauth.ClientSecretPost(client.clientSecret);
  return oauth.None();
}

/**
 * The callback: check state (and any error the provider sent back), exchange the code with the
 * PKCE verifier, and verify the ID token with the raw nonce. `params` are the callback's query
 * parameters, or its form body for Apple's form_post.
 */
export async function completeAuthorization(
  deps: OidcDeps,
  provider: OidcProvider,
  client: WebClient,
  params: URLSearchParams,
  pending: PendingAuthorization,
): Promise<VerifiedIdentity> {
  const discovery = await getDiscovery(deps, provider);
  if (!discovery.token_endpoint) throw new OAuthError("provider_unavailable", "no token_endpoint");
  const as = asServer(discovery);
  const oc = clientFor(deps, client.clientId);
  let validated: URLSearchParams;
  try {
    validated = oauth.validateAuthResponse(as, oc, params, pending.state);
  } catch (err) {
    if (err instanceof oauth.AuthorizationResponseError) throw new OAuthError("provider_error", err.error, { cause: err });
    const message = err instanceof Error ? err.message : "bad callback";
    // RFC 9207: an `iss` parameter naming another provider is a mix-up attempt.
    throw new OAuthError(message.includes('"iss"') ? "wrong_issuer" : "state_mismatch", message, { cause: err });
  }
  let idToken: string;
  try {
    const response = await oauth.authorizationCodeGrantRequest(
      as,
      oc,
      await clientAuth(deps, discovery, client),
      validated,
      client.redirectUri,
      pending.codeVerifier,
      requestOptions(deps, discovery.token_endpoint),
    );
    const tokens = await oauth.processAuthorizationCodeResponse(as, oc, response, {
      expectedNonce: await hashNonce(pending.nonce),
      requireIdToken: true,
    });
    idToken = tokens.id_token as string;
  } catch (err) {
    if (err instanceof oauth.ResponseBodyError) throw new OAuthError("code_rejected", err.error, { cause: err });
    if (err instanceof OAuthError) throw err;
    const kind = err instanceof oauth.OperationProcessingError ? claimKind(err) : null;
    if (kind) throw new OAuthError(kind, err instanceof Error ? err.message : kind, { cause: err });
    throw new OAuthError("provider_unavailable", err instanceof Error ? err.message : "token request failed", { cause: err });
  }
  return verifyIdToken(deps, provider, idToken, { nonce: pending.nonce });
}
