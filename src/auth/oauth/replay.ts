import { sql } from "drizzle-orm";
import { oauthUsedTokens } from "../../db/schema";
import type { Deps } from "../../deps";
import { sha256Hex } from "../../lib/encoding";
import { CLOCK_SKEW_S, type TokenUse } from "./id-token";
import { OAuthError } from "./oauth-error";
import type { ProviderName } from "./providers";

/**
 * A native ID token is accepted once. Its nonce (one per sign-in on the app's side), else its
 * `jti`, else the token itself, is recorded as SHA-256 until the token expires (plus the clock
 * skew it is accepted with); a second presentation within that time is refused as `replayed`. One
 * statement decides, so of any number of requests carrying the same token at once exactly one
 * passes. A row whose token has expired may be taken over (a later token with a reused nonce);
 * the hourly purge deletes the rest.
 */
export async function acceptOnce(deps: Deps, provider: ProviderName, idToken: string, use: TokenUse): Promise<void> {
  const what = use.nonce !== undefined ? `nonce:${use.nonce.toLowerCase()}` : use.jti !== undefined ? `jti:${use.jti}` : `token:${idToken}`;
  const key = await sha256Hex(`${provider}:${what}`);
  const expiresAt = new Date((use.exp + CLOCK_SKEW_S) * 1000);
  const now = deps.now();
  const rows = await deps.db
    .insert(oauthUsedTokens)
    .values({ key, expiresAt })
    .onConflictDoUpdate({
      target: oauthUsedTokens.key,
      set: { expiresAt },
      setWhere: sql`${oauthUsedTokens.expiresAt} <= ${now.toISOString()}::timestamptz`,
    })
    .returning({ key: oauthUsedTokens.key });
  if (rows.length === 0) throw new OAuthError("replayed", `this ${what.split(":")[0]} was already used`);
}
