/**
 * The two providers and what differs between them. Everything else (issuer, endpoints, keys)
 * comes from the discovery document, so a local stand-in or another deployment just changes
 * the discovery URL.
 */
export type ProviderName = "google" | "apple";

export interface OidcProvider {
  name: ProviderName;
  /** e.g. https://accounts.google.com/.well-known/openid-configuration */
  discoveryUrl: string;
  /** Every client id whose tokens we accept: web, iOS, Android (Google); Services ID and bundle id (Apple). */
  clientIds: readonly string[];
  /** Refuse tokens without a nonce even where the platform may omit it (default: Apple yes, Google no). */
  requireNonce?: boolean;
}

export interface ProviderRules {
  /** Other spellings of the discovery issuer that the provider puts in `iss`. */
  issuerAliases(issuer: string): string[];
  /** Whether a token with no nonce is refused when the client sent none either. */
  nonceRequired(payload: Record<string, unknown>): boolean;
  /** Web flow scopes, and how the callback arrives. */
  scopes: string[];
  responseMode: "query" | "form_post";
}

const truthy = (v: unknown) => v === true || v === "true";

export const RULES: Record<ProviderName, ProviderRules> = {
  google: {
    // Google documents both "https://accounts.google.com" and "accounts.google.com" as `iss`.
    issuerAliases: (iss) => (iss === "https://accounts.google.com" ? ["accounts.google.com"] : []),
    // Android (Credential Manager) and web (GIS) tokens carry a nonce only when the app set one;
    // iOS tokens always carry one (AppAuth adds its own), which the "token has a nonce" rule covers.
    nonceRequired: () => false,
    scopes: ["openid", "email", "profile"],
    responseMode: "query",
  },
  apple: {
    issuerAliases: () => [],
    // Apple: "if nonce_supported is true, treat the nonce as mandatory"; it is false only on
    // platforms that cannot carry one.
    nonceRequired: (payload) => payload.nonce_supported === undefined || truthy(payload.nonce_supported),
    // Apple requires form_post when name or email is requested.
    scopes: ["openid", "email", "name"],
    responseMode: "form_post",
  },
};

export const isTrue = truthy;
