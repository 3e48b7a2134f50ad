import { createLocalJWKSet, errors, type JSONWebKeySet, type JWSHeaderParameters } from "jose";
import { type CacheEntry, loadDocument, type OidcDeps } from "./cache";
import { OAuthError } from "./oauth-error";

type KeyResolver = ReturnType<typeof createLocalJWKSet>;

interface KeySet {
  keys: JSONWebKeySet;
  resolve: KeyResolver;
}

/**
 * An unknown kid refetches the JWKS (the provider may have rotated), but no more often than
 * this per isolate and provider: random kids in forged tokens must not hammer the provider.
 */
export const UNKNOWN_KID_REFETCH_MS = 30_000;

function parseJwks(json: unknown): KeySet {
  const keys = json as JSONWebKeySet;
  // createLocalJWKSet validates the set's shape (and throws on nonsense).
  return { keys, resolve: createLocalJWKSet(keys) };
}

const loadKeys = (deps: OidcDeps, jwksUri: string, refreshIfCheckedBefore?: number): Promise<CacheEntry<KeySet>> =>
  loadDocument(deps, "jwks", jwksUri, parseJwks, { refreshIfCheckedBefore });

const noMatch = (err: unknown) => err instanceof errors.JWKSNoMatchingKey;

/**
 * A key resolver for jose's jwtVerify: the cached JWKS first; on a kid it does not know, one
 * rate-limited refetch (shared by concurrent callers), then `unknown_key`.
 */
export function keyResolver(deps: OidcDeps, jwksUri: string) {
  return async (header: JWSHeaderParameters) => {
    if (typeof header.kid !== "string" || !header.kid) throw new OAuthError("malformed", "the token has no kid");
    let entry = await loadKeys(deps, jwksUri);
    try {
      return await entry.value.resolve(header);
    } catch (err) {
      if (!noMatch(err)) throw err;
    }
    if (deps.now().getTime() - entry.checkedAt >= UNKNOWN_KID_REFETCH_MS) {
      entry = await loadKeys(deps, jwksUri, entry.checkedAt);
      try {
        return await entry.value.resolve(header);
      } catch (err) {
        if (!noMatch(err)) throw err;
      }
    }
    throw new OAuthError("unknown_key", `no published key has kid ${header.kid.slice(0, 64)}`);
  };
}
