/** Types for oidc-provider.mjs (the local stand-in for Google's and Apple's OpenID providers). */
export type ProviderName = "google" | "apple";

export interface LocalUser {
  sub: string;
  email?: string;
  email_verified?: boolean | string;
  name?: string;
  is_private_email?: boolean;
}

export interface ClientRegistration {
  provider: ProviderName;
  client_id: string;
  redirect_uris?: string[];
  /** Google-like: a shared secret (client_secret_basic or _post). */
  client_secret?: string;
  /** Apple-like: the client secret is an ES256 JWT signed with this developer key. */
  apple_key?: { team_id: string; key_id: string; public_jwk: Record<string, unknown> };
}

export interface MintOptions {
  provider: ProviderName;
  /** Merged over the defaults (iss, aud, sub, iat, exp, email, ...); null removes a claim. */
  claims?: Record<string, unknown>;
  header?: Record<string, unknown>;
  /** current: the published key; foreign: another key under the published kid; unlisted: a kid not in the JWKS; hs256: HMAC with the public key. */
  key?: "current" | "foreign" | "unlisted" | "hs256";
}

export interface ProviderStats {
  discoveryFetches: number;
  jwksFetches: number;
  authorizeRequests: number;
  tokenRequests: number;
  kid: string;
  issuer: string;
}

export interface OidcProvider {
  url: string;
  port: number;
  google: { issuer: string; discoveryUrl: string };
  apple: { issuer: string; discoveryUrl: string };
  mint(opts: MintOptions): Promise<{ id_token: string; kid: string }>;
  rotate(provider: ProviderName): Promise<{ kid: string; previousKid: string }>;
  addClient(client: ClientRegistration): void;
  nextLogin(provider: ProviderName, user: LocalUser): void;
  stats(): Record<ProviderName, ProviderStats>;
  stop(): Promise<void>;
}

export function startOidcProvider(options?: {
  port?: number;
  host?: string;
  clients?: ClientRegistration[];
  /** Accept unregistered clients with any loopback redirect URI and any secret (the dev stack). */
  open?: boolean;
  jwksMaxAge?: number;
  discoveryMaxAge?: number;
}): Promise<OidcProvider>;
