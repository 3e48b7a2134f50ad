import { and, eq, gt, isNull, sql } from "drizzle-orm";
import type { Db } from "../../db/client";
import { UNCACHED } from "../../db/client";
import { identities, type MfaFactor, mfaChallenges, mfaFactors, type User, users } from "../../db/schema";
import type { Deps } from "../../deps";
import { b64url, randomBytes, sha256Hex } from "../../lib/encoding";
import type { SessionGrounds } from "../sessions/sessions";
import {
  amrOf,
  completingFactors,
  type FirstFactor,
  isWayIn,
  type Proof,
  type SecondFactor,
  secondFactorsHeld,
  WAYS_IN,
} from "../sign-in/ways-in";

/**
 * The mfa_token: the step between a right first factor (the password, or Google or Apple) and the
 * session, for an account with an active factor. It is 256 random bits, stored only as SHA-256 in a
 * row that holds the user, the first factor's method and the grounds the session will rest on
 * (`password_changed_at` of the row the first factor was checked against; for Google and Apple also
 * the identity), valid MFA_TOKEN_TTL and used at most once; a password reset deletes it. A random token with a row (rather than a signed token) because single use needs a
 * row anyway, and a row can be consumed in the same transaction as the code, so of two verifies
 * racing with one token exactly one passes and the other leaves its code unused.
 */
export interface FirstProof extends Proof<FirstFactor> {
  grounds: SessionGrounds;
}

/** Grounds as stored (JSON): only what is set, dates as ISO strings. */
const storeGrounds = (g: SessionGrounds) => ({
  ...(g.passwordChangedAt === undefined ? {} : { password_changed_at: g.passwordChangedAt?.toISOString() ?? null }),
  ...(g.identityId ? { identity_id: g.identityId } : {}),
});

const loadGrounds = (json: unknown): SessionGrounds => {
  const g = (json ?? {}) as { password_changed_at?: string | null; identity_id?: string };
  return {
    ...("password_changed_at" in g ? { passwordChangedAt: g.password_changed_at ? new Date(g.password_changed_at) : null } : {}),
    ...(g.identity_id ? { identityId: g.identity_id } : {}),
  };
};

/**
 * The first proof as a challenge row keeps it: `method` holds its way in (rows written before the
 * ways-in registry hold the amr value "pwd"), `grounds` its grounds and the amr it recorded.
 */
const storeProof = (p: FirstProof) => ({
  method: p.method,
  grounds: { ...storeGrounds(p.grounds), ...(p.amr ? { amr: [...p.amr] } : {}) },
});

function loadProof(method: string, json: unknown): FirstProof | null {
  const name = method === "pwd" ? "password" : method;
  if (!isWayIn(name) || WAYS_IN[name].use === "second") return null;
  const amr = (json as { amr?: unknown } | null)?.amr;
  return { method: name as FirstFactor, grounds: loadGrounds(json), ...(Array.isArray(amr) ? { amr: amr.map(String) } : {}) };
}

export async function issueChallenge(deps: Deps, user: User, first: FirstProof): Promise<{ token: string; expiresIn: number }> {
  const token = b64url(randomBytes(32));
  const now = deps.now();
  const expiresIn = deps.config.MFA_TOKEN_TTL;
  await deps.db.insert(mfaChallenges).values({
    id: crypto.randomUUID(),
    userId: user.id,
    tokenHash: await sha256Hex(token),
    ...storeProof(first),
    createdAt: now,
    expiresAt: new Date(now.getTime() + expiresIn * 1000),
  });
  return { token, expiresIn };
}

export interface OpenChallenge {
  id: string;
  user: User;
  /** The user's active TOTP factor; null when it has none (turned off since, or the account holds another second factor). */
  factor: MfaFactor | null;
  /** The second factors the account holds now that complete this sign-in (ways-in registry): what this token accepts. */
  methods: SecondFactor[];
  first: FirstProof;
}

/** A live (unused, unexpired) challenge of a presented token, with its user, TOTP factor and the second factors held, read fresh. */
export async function openChallenge(deps: Deps, token: string): Promise<OpenChallenge | undefined> {
  const [row] = await deps.db
    .select({
      c: mfaChallenges,
      u: users,
      f: mfaFactors,
      methods: sql<SecondFactor[]>`array_to_json(${secondFactorsHeld(users.id)})`,
      fresh: UNCACHED,
    })
    .from(mfaChallenges)
    .innerJoin(users, eq(users.id, mfaChallenges.userId))
    .leftJoin(mfaFactors, and(eq(mfaFactors.userId, mfaChallenges.userId), eq(mfaFactors.status, "active")))
    .where(
      and(eq(mfaChallenges.tokenHash, await sha256Hex(token)), isNull(mfaChallenges.consumedAt), gt(mfaChallenges.expiresAt, deps.now())),
    )
    .limit(1);
  const first = row ? loadProof(row.c.method, row.c.grounds) : null;
  if (!row || !first) return undefined;
  const methods = completingFactors(first.amr ?? amrOf(first.method), row.methods ?? []);
  return { id: row.c.id, user: row.u, factor: row.f, methods, first };
}

/**
 * Use the challenge up: one conditional UPDATE on the code's transaction, so a refusal leaves the
 * code unused. False when it was used or expired meanwhile, or its grounds no longer hold (the
 * password changed since it was checked, or the identity it was proven with is gone; the session
 * insert checks again under a row lock).
 */
export async function consumeChallenge(db: Db, id: string, now: Date): Promise<boolean> {
  const at = sql`${now.toISOString()}::timestamptz`;
  const done = await db.execute(sql`
    update ${mfaChallenges} as c set consumed_at = ${at}
      from ${users} as u
     where c.id = ${id}::uuid and c.consumed_at is null and c.expires_at > ${at} and u.id = c.user_id
       and (not (c.grounds ? 'password_changed_at')
            or date_trunc('milliseconds', u.password_changed_at) is not distinct from (c.grounds->>'password_changed_at')::timestamptz)
       and (not (c.grounds ? 'identity_id')
            or exists (select 1 from ${identities} as i where i.id = (c.grounds->>'identity_id')::uuid and i.user_id = c.user_id))
    returning c.id`);
  return done.length > 0;
}

/** Every pending mfa_token of the account dies (a password reset, on its transaction): log in again. */
export async function revokeChallenges(db: Db, userId: string): Promise<number> {
  const gone = await db.delete(mfaChallenges).where(eq(mfaChallenges.userId, userId)).returning({ id: mfaChallenges.id });
  return gone.length;
}
