import { and, eq, isNull, lt, or } from "drizzle-orm";
import type { Db } from "../../db/client";
import { UNCACHED } from "../../db/client";
import { type MfaFactor, mfaFactors } from "../../db/schema";
import type { Deps } from "../../deps";

/** The stored second factors: one TOTP factor per user, `pending` until confirmed, then `active`. */
export type FactorStatus = "pending" | "active";

/** The user's TOTP factor in `status` (any when omitted), read fresh: it decides access. */
export async function findFactor(deps: Deps, userId: string, status?: FactorStatus): Promise<MfaFactor | undefined> {
  const [row] = await deps.db
    .select({ f: mfaFactors, fresh: UNCACHED })
    .from(mfaFactors)
    .where(and(eq(mfaFactors.userId, userId), eq(mfaFactors.kind, "totp"), status ? eq(mfaFactors.status, status) : undefined))
    .limit(1);
  return row?.f;
}

/**
 * Accept a TOTP step: one conditional UPDATE that only moves `last_used_step` forward, so a step
 * (and any step before it) is accepted at most once, however many requests carry the code at
 * the same moment: the row lock makes them take turns and each re-checks the condition. False
 * when this step or a later one was already used (or the factor changed meanwhile).
 */
export async function acceptStep(db: Db, factor: Pick<MfaFactor, "id" | "status" | "secret">, step: number): Promise<boolean> {
  const accepted = await db
    .update(mfaFactors)
    .set({ lastUsedStep: step })
    .where(
      and(
        eq(mfaFactors.id, factor.id),
        eq(mfaFactors.status, factor.status),
        // The secret the code was checked against: a re-enrollment meanwhile replaced it.
        eq(mfaFactors.secret, factor.secret),
        or(isNull(mfaFactors.lastUsedStep), lt(mfaFactors.lastUsedStep, step)),
      ),
    )
    .returning({ id: mfaFactors.id });
  return accepted.length > 0;
}
