import { and, eq, sql } from "drizzle-orm";
import { mfaFactors, mfaRecoveryCodes, type User } from "../../db/schema";
import type { Deps, RequestMeta } from "../../deps";
import { apiError } from "../../errors";
import { audit } from "../audit";
import { findFactor } from "./factors";
import { notifyMfaDisabled, notifyMfaEnabled } from "./notices";
import { generateRecoveryCodes, remainingRecoveryCodes, replaceRecoveryCodes } from "./recovery-codes";
import { type Proof, withSecondFactor } from "./second-factor";
import { encryptSecret } from "./secrets";
import { newTotpSecret, secretForDisplay, totpUri } from "./totp";

/**
 * Turning two-factor sign-in on and off, and the recovery codes. The routes that call these
 * declare `recentLogin` where they weaken or re-key the account (src/auth/access.ts).
 */

export interface MfaStatus {
  totp: "off" | "pending" | "on";
  recovery_codes_remaining: number;
}

export async function mfaStatus(deps: Deps, userId: string): Promise<MfaStatus> {
  const factor = await findFactor(deps, userId);
  if (factor?.status !== "active") return { totp: factor ? "pending" : "off", recovery_codes_remaining: 0 };
  return { totp: "on", recovery_codes_remaining: await remainingRecoveryCodes(deps, userId) };
}

/**
 * Start (or restart) enrollment: a new secret for a pending factor, returned once for the app
 * (base32 and as an otpauth:// URI) and stored only encrypted. One statement: insert, or replace a
 * pending factor's secret; an active factor is left alone (409: turn it off first).
 */
export async function enrollTotp(deps: Deps, meta: RequestMeta, user: User): Promise<{ secret: string; otpauth_uri: string }> {
  const secret = newTotpSecret();
  const sealed = await encryptSecret(deps.config, user.id, secret);
  const now = deps.now();
  const rows = await deps.db
    .insert(mfaFactors)
    .values({ id: crypto.randomUUID(), userId: user.id, kind: "totp", status: "pending", secret: sealed, createdAt: now })
    .onConflictDoUpdate({
      target: [mfaFactors.userId, mfaFactors.kind],
      set: { secret: sealed, createdAt: now, lastUsedStep: null },
      setWhere: sql`${mfaFactors.status} = 'pending'`,
    })
    .returning({ id: mfaFactors.id });
  if (rows.length === 0) throw apiError("mfa_already_enabled");
  await audit(deps, meta, "mfa_enrollment_started", "success", user.id);
  return { secret: secretForDisplay(secret), otpauth_uri: totpUri(deps.config.APP_NAME, user.email, secret) };
}

/**
 * Confirm enrollment with a code from the app: the factor becomes active and 10 recovery codes are
 * returned, this once (only their keyed hashes are stored). The code's step counts as used.
 */
export async function confirmTotp(deps: Deps, meta: RequestMeta, user: User, code: string): Promise<string[]> {
  const pending = await findFactor(deps, user.id);
  if (!pending) throw apiError("mfa_enrollment_not_started");
  if (pending.status === "active") throw apiError("mfa_already_enabled");
  const codes = generateRecoveryCodes();
  await withSecondFactor(deps, meta, user, pending, { code }, "confirm", async (tx) => {
    const [activated] = await tx
      .update(mfaFactors)
      .set({ status: "active", confirmedAt: deps.now() })
      .where(and(eq(mfaFactors.id, pending.id), eq(mfaFactors.status, "pending")))
      .returning({ id: mfaFactors.id });
    if (!activated) throw apiError("mfa_already_enabled");
    await replaceRecoveryCodes(deps, tx, user.id, codes);
  });
  await audit(deps, meta, "mfa_enabled", "success", user.id, { method: "totp" });
  notifyMfaEnabled(deps, user.email);
  return codes;
}

async function activeFactorOf(deps: Deps, user: User) {
  const factor = await findFactor(deps, user.id, "active");
  if (!factor) throw apiError("mfa_not_enabled");
  return factor;
}

/** Turn two-factor sign-in off with a current code (TOTP or recovery): the factor and every recovery code go. */
export async function disableMfa(deps: Deps, meta: RequestMeta, user: User, proof: Proof): Promise<void> {
  const factor = await activeFactorOf(deps, user);
  await withSecondFactor(deps, meta, user, factor, proof, "disable", async (tx) => {
    await tx.delete(mfaFactors).where(eq(mfaFactors.id, factor.id));
    await tx.delete(mfaRecoveryCodes).where(eq(mfaRecoveryCodes.userId, user.id));
  });
  await audit(deps, meta, "mfa_disabled", "success", user.id, { method: "code" in proof ? "totp" : "recovery_code" });
  notifyMfaDisabled(deps, user.email);
}

/**
 * A new set of recovery codes (a current TOTP code required): the old set stops working in the
 * same transaction. The code's use locks the factor row, so two concurrent regenerations leave
 * exactly one set.
 */
export async function regenerateRecoveryCodes(deps: Deps, meta: RequestMeta, user: User, code: string): Promise<string[]> {
  const factor = await activeFactorOf(deps, user);
  const codes = generateRecoveryCodes();
  await withSecondFactor(deps, meta, user, factor, { code }, "regenerate", (tx) => replaceRecoveryCodes(deps, tx, user.id, codes));
  await audit(deps, meta, "recovery_codes_regenerated", "success", user.id);
  return codes;
}
