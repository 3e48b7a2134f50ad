import { and, asc, eq, isNull, lt, or } from "drizzle-orm";
import type { Db } from "../../db/client";
import { UNCACHED } from "../../db/client";
import { type MfaFactor, mfaFactors } from "../../db/schema";
import type { Deps } from "../../deps";
import { TOTP_PERIOD } from "./totp";

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

/** An account's second factors as an administrator sees them: kind, state and dates, never the secret. */
export async function factorsOf(deps: Deps, userId: string) {
  const rows = await deps.db
    .select({ f: mfaFactors, fresh: UNCACHED })
    .from(mfaFactors)
    .where(eq(mfaFactors.userId, userId))
    .orderBy(asc(mfaFactors.createdAt));
  return rows.map(({ f }) => ({
    kind: f.kind as "totp",
    status: f.status as FactorStatus,
    created_at: f.createdAt.toISOString(),
    confirmed_at: f.confirmedAt?.toISOString() ?? null,
    // The start of the newest accepted step: when a code was last used, to the step.
    last_used_at: f.lastUsedStep === null ? null : new Date(f.lastUsedStep * TOTP_PERIOD * 1000).toISOString(),
  }));
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
