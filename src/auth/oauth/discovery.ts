import { loadDocument, type OidcDeps } from "./cache";
import type { OidcProvider } from "./providers";

/** The parts of an OpenID discovery document we use. */
export interface Discovery {
  issuer: string;
  jwks_uri: string;
  authorization_endpoint?: string;
  token_endpoint?: string;
  id_token_signing_alg_values_supported?: string[];
  [key: string]: unknown;
}

const isUrl = (v: unknown): v is string => typeof v === "string" && URL.canParse(v);

export function parseDiscovery(discoveryUrl: string, json: unknown): Discovery {
  if (!json || typeof json !== "object") throw new Error("discovery document is not an object");
  const doc = json as Record<string, unknown>;
  if (!isUrl(doc.issuer) || !isUrl(doc.jwks_uri)) throw new Error("discovery document lacks issuer or jwks_uri");
  // OpenID Connect Discovery 4.3: the issuer must be the URL the document was fetched under,
  // so a document served elsewhere cannot claim another provider's issuer.
  if (`${doc.issuer.replace(/\/+$/, "")}/.well-known/openid-configuration` !== discoveryUrl)
    throw new Error(`discovery issuer ${doc.issuer} does not match ${discoveryUrl}`);
  for (const k of ["authorization_endpoint", "token_endpoint"])
    if (doc[k] !== undefined && !isUrl(doc[k])) throw new Error(`discovery ${k} is not a URL`);
  return doc as Discovery;
}

/** The provider's discovery document, cached per isolate as long as its Cache-Control allows. */
export async function getDiscovery(deps: OidcDeps, provider: Pick<OidcProvider, "discoveryUrl">): Promise<Discovery> {
  const url = provider.discoveryUrl;
  return (await loadDocument(deps, "discovery", url, (json) => parseDiscovery(url, json))).value;
}
