import { and, eq, gt, sql } from "drizzle-orm";
import { UNCACHED } from "../../db/client";
import { passkeyChallenges } from "../../db/schema";
import type { Deps } from "../../deps";
import { b64url, randomBytes, sha256Hex } from "../../lib/encoding";
import { CHALLENGE_TTL } from "./ceremonies";

/**
 * A ceremony's challenge, kept between its options and its verify (the library only compares
 * strings: single use, expiry and binding are here). Each is deleted by the one verify that uses
 * it, before the response is checked (`DELETE ... RETURNING`), so of any number of verifies of one
 * challenge at the same moment exactly one gets it, and a replay finds nothing; an expired one is
 * never returned (the purge removes it later).
 *
 * - `register` (add a passkey) and `mfa` (the second step of a sign-in) belong to an account: the
 *   verify finds theirs by the account and the challenge the response signed, so another
 *   account's challenge is never found;
 * - `login` and `signup` have no account yet: the options hand out a `challenge_token` (256 random
 *   bits, stored as SHA-256) that the verify must bring back.
 */
export type Purpose = "register" | "mfa" | "login" | "signup";

export interface StoredChallenge {
  challenge: string;
  userId: string | null;
  data: Record<string, string>;
}

/** Keep a challenge the options just handed out; with `token`, the challenge_token that finds it again. */
export async function keepChallenge(
  deps: Deps,
  purpose: Purpose,
  challenge: string,
  opts: { userId?: string; data?: Record<string, string>; token?: true } = {},
): Promise<{ token: string | null }> {
  const now = deps.now();
  const token = opts.token ? b64url(randomBytes(32)) : null;
  await deps.db.insert(passkeyChallenges).values({
    id: crypto.randomUUID(),
    purpose,
    userId: opts.userId ?? null,
    challenge,
    tokenHash: token ? await sha256Hex(token) : null,
    data: opts.data ?? null,
    createdAt: now,
    expiresAt: new Date(now.getTime() + CHALLENGE_TTL * 1000),
  });
  return { token };
}

const returned = { challenge: passkeyChallenges.challenge, userId: passkeyChallenges.userId, data: passkeyChallenges.data };
const stored = (row: { challenge: string; userId: string | null; data: unknown } | undefined): StoredChallenge | null =>
  row ? { ...row, data: (row.data ?? {}) as Record<string, string> } : null;

/** Use up the live challenge of a challenge_token (login, signup); null when unknown, used or expired. */
export async function useChallengeByToken(deps: Deps, purpose: Purpose, token: string): Promise<StoredChallenge | null> {
  const t = passkeyChallenges;
  const [row] = await deps.db
    .delete(t)
    .where(and(eq(t.tokenHash, await sha256Hex(token)), eq(t.purpose, purpose), gt(t.expiresAt, deps.now())))
    .returning(returned);
  return stored(row);
}

/**
 * Use up the account's live challenge that a response signed (register, mfa), with `data`
 * matching (an MFA step: its mfa_token's row); null when there is none.
 */
export async function useAccountChallenge(
  deps: Deps,
  purpose: Purpose,
  userId: string,
  challenge: string | null,
  data: Record<string, string> = {},
): Promise<StoredChallenge | null> {
  if (!challenge) return null;
  const t = passkeyChallenges;
  const [row] = await deps.db
    .delete(t)
    .where(
      and(
        eq(t.challenge, challenge),
        eq(t.purpose, purpose),
        eq(t.userId, userId),
        gt(t.expiresAt, deps.now()),
        sql`coalesce(${t.data}, '{}'::jsonb) @> ${JSON.stringify(data)}::jsonb`,
      ),
    )
    .returning(returned);
  return stored(row);
}

/** The data of a live challenge_token's challenge, without using it up (the sign-up reads its address before the code is checked). */
export async function peekChallengeByToken(deps: Deps, purpose: Purpose, token: string): Promise<Record<string, string> | null> {
  const t = passkeyChallenges;
  const [row] = await deps.db
    .select({ data: t.data, fresh: UNCACHED })
    .from(t)
    .where(and(eq(t.tokenHash, await sha256Hex(token)), eq(t.purpose, purpose), gt(t.expiresAt, deps.now())))
    .limit(1);
  return row ? ((row.data ?? {}) as Record<string, string>) : null;
}

/**
 * Use up a challenge_token's challenge only if `field` of its data is `value` (the keyed hash of the
 * code its sign-up mailed): one DELETE, so a wrong code leaves it usable and two right ones at once
 * get it once. Null when the token is unknown, used, expired or the value differs.
 */
export async function useChallengeByTokenIf(
  deps: Deps,
  purpose: Purpose,
  token: string,
  field: string,
  value: string,
): Promise<StoredChallenge | null> {
  const t = passkeyChallenges;
  const [row] = await deps.db
    .delete(t)
    .where(
      and(
        eq(t.tokenHash, await sha256Hex(token)),
        eq(t.purpose, purpose),
        gt(t.expiresAt, deps.now()),
        sql`${t.data}->>${field} = ${value}`,
      ),
    )
    .returning(returned);
  return stored(row);
}
