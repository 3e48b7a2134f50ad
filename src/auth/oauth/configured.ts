import type { Config } from "../../config";
import { apiError } from "../../errors";
import type { OidcProvider, ProviderName } from "./providers";
import type { WebClient } from "./web-flow";

/** The providers this API knows; a path naming another one answers 404. */
export const PROVIDER_NAMES = ["google", "apple"] as const satisfies readonly ProviderName[];

/** How a provider is named to people (messages, mails). */
export const providerLabel = (name: string): string => ({ google: "Google", apple: "Apple" })[name] ?? name;

const isProviderName = (name: string): name is ProviderName => (PROVIDER_NAMES as readonly string[]).includes(name);

/**
 * A provider as the settings configure it (its nonce rule from OAUTH_REQUIRE_NONCE), or a 404 when it is off (no client ids) or unknown:
 * a client cannot tell an unconfigured provider from a path that does not exist.
 */
export function configuredProvider(config: Config, name: string): OidcProvider {
  if (!isProviderName(name)) throw apiError("not_found");
  const clientIds = name === "google" ? config.GOOGLE_CLIENT_IDS : config.APPLE_CLIENT_IDS;
  if (clientIds.length === 0) throw apiError("not_found");
  return {
    name,
    clientIds,
    discoveryUrl: name === "google" ? config.GOOGLE_DISCOVERY_URL : config.APPLE_DISCOVERY_URL,
    // OAUTH_REQUIRE_NONCE: every token needs one; off, the provider's own rules decide (providers.ts).
    ...(config.OAUTH_REQUIRE_NONCE ? { requireNonce: true } : {}),
  };
}

/**
 * The provider's web client for the redirect flow, or a 404 when that flow is off: no
 * OAUTH_REDIRECT_ALLOWLIST, or the provider's web settings are missing (Google: the client
 * secret; Apple: the Services ID and the signing key).
 */
export function webClientOf(config: Config, provider: OidcProvider, redirectUri: string): WebClient {
  if (config.OAUTH_REDIRECT_ALLOWLIST.length === 0) throw apiError("not_found");
  if (provider.name === "google") {
    if (!config.GOOGLE_CLIENT_SECRET) throw apiError("not_found");
    return { clientId: config.GOOGLE_WEB_CLIENT_ID ?? provider.clientIds[0], clientSecret: config.GOOGLE_CLIENT_SECRET, redirectUri };
  }
  const { APPLE_SERVICES_ID, APPLE_TEAM_ID, APPLE_KEY_ID, APPLE_PRIVATE_KEY } = config;
  if (!APPLE_SERVICES_ID || !APPLE_TEAM_ID || !APPLE_KEY_ID || !APPLE_PRIVATE_KEY) throw apiError("not_found");
  return {
    clientId: APPLE_SERVICES_ID,
    redirectUri,
    appleKey: { teamId: APPLE_TEAM_ID, keyId: APPLE_KEY_ID, privateKeyPem: APPLE_PRIVATE_KEY },
  };
}

/** Where the provider sends the browser back: registered with it exactly as this. */
export function callbackUrl(config: Config, requestUrl: string, provider: ProviderName): string {
  const origin = (config.OAUTH_CALLBACK_BASE_URL ?? new URL(requestUrl).origin).replace(/\/+$/, "");
  return `${origin}${config.BASE_PATH === "/" ? "" : config.BASE_PATH}/oauth/${provider}/callback`;
}
