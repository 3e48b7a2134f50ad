import { and, eq, sql } from "drizzle-orm";
import { mfaFactors, mfaRecoveryCodes, type User } from "../../db/schema";
import { type Deps, type RequestMeta, withDb } from "../../deps";
import { apiError } from "../../errors";
import { assertMayAddWayIn, confirmOwner } from "../account/credential-change";
import { audit } from "../audit";
import { credentialsChanged, recordEvent } from "../events/outbox";
import { type Authenticated, endAllSessions } from "../sessions/sessions";
import { findFactor } from "./factors";
import { notifyMfaDisabled, notifyMfaEnabled, notifyRecoveryCodesRegenerated } from "./notices";
import { generateRecoveryCodes, remainingRecoveryCodes, replaceRecoveryCodes } from "./recovery-codes";
import { type Proof, withSecondFactor } from "./second-factor";
import { encryptSecret } from "./secrets";
import { newTotpSecret, secretForDisplay, totpUri } from "./totp";

/**
 * Turning two-factor sign-in on and off, and the recovery codes. Each change is a credential
 * change (src/auth/ways-in.ts): the routes declare `recentLogin` (src/auth/access.ts), the owner
 * proves itself again with the current password (or, without one, the recent sign-in), the
 * address is told and an audit row is written. A factor is added only to an account whose address
 * is verified.
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
  assertMayAddWayIn(user);
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
 * Confirm enrollment with a code from the app and the owner's proof: the factor becomes active and
 * 10 recovery codes are returned, this once (only their keyed hashes are stored). The code's step
 * counts as used. Every other session of the account ends in the same transaction (signed in
 * without this factor, they would otherwise go on as if it did not exist); the calling one
 * continues, its `amr` unchanged (it proved no second factor).
 */
export async function confirmTotp(
  deps: Deps,
  meta: RequestMeta,
  auth: Authenticated,
  code: string,
  currentPassword?: string,
): Promise<string[]> {
  const { user } = auth;
  assertMayAddWayIn(user);
  const pending = await findFactor(deps, user.id);
  if (!pending) throw apiError("mfa_enrollment_not_started");
  if (pending.status === "active") throw apiError("mfa_already_enabled");
  await confirmOwner(deps, meta, auth, currentPassword, "mfa_enabled");
  const codes = generateRecoveryCodes();
  const { result: sessionsEnded } = await withSecondFactor(deps, meta, user, pending, { code }, "confirm", async (tx) => {
    const [activated] = await tx
      .update(mfaFactors)
      .set({ status: "active", confirmedAt: deps.now() })
      .where(and(eq(mfaFactors.id, pending.id), eq(mfaFactors.status, "pending")))
      .returning({ id: mfaFactors.id });
    if (!activated) throw apiError("mfa_already_enabled");
    await replaceRecoveryCodes(deps, tx, user.id, codes);
    await recordEvent(tx, credentialsChanged(deps, user.id, "totp", "enabled"));
    return endAllSessions(withDb(deps, tx), user.id, "mfa_enabled", { keep: auth.sessionId });
  });
  await audit(deps, meta, "mfa_enabled", "success", user.id, { method: "totp", sessions_ended: sessionsEnded });
  notifyMfaEnabled(deps, meta, user);
  return codes;
}

async function activeFactorOf(deps: Deps, user: User) {
  const factor = await findFactor(deps, user.id, "active");
  if (!factor) throw apiError("mfa_not_enabled");
  return factor;
}

/**
 * Turn two-factor sign-in off with the owner's proof and a current code (TOTP or recovery): the
 * factor and every recovery code go.
 */
export async function disableMfa(
  deps: Deps,
  meta: RequestMeta,
  auth: Authenticated,
  proof: Proof,
  currentPassword?: string,
): Promise<void> {
  const { user } = auth;
  const factor = await activeFactorOf(deps, user);
  await confirmOwner(deps, meta, auth, currentPassword, "mfa_disabled");
  await withSecondFactor(deps, meta, user, factor, proof, "disable", async (tx) => {
    await tx.delete(mfaFactors).where(eq(mfaFactors.id, factor.id));
    await tx.delete(mfaRecoveryCodes).where(eq(mfaRecoveryCodes.userId, user.id));
    await recordEvent(tx, credentialsChanged(deps, user.id, "totp", "disabled"));
  });
  await audit(deps, meta, "mfa_disabled", "success", user.id, { method: "code" in proof ? "totp" : "recovery_code" });
  notifyMfaDisabled(deps, meta, user);
}

/**
 * A new set of recovery codes (the owner's proof and a current TOTP code required): the old set
 * stops working in the same transaction. The code's use locks the factor row, so two concurrent
 * regenerations leave exactly one set. The address is told.
 */
export async function regenerateRecoveryCodes(
  deps: Deps,
  meta: RequestMeta,
  auth: Authenticated,
  code: string,
  currentPassword?: string,
): Promise<string[]> {
  const { user } = auth;
  const factor = await activeFactorOf(deps, user);
  await confirmOwner(deps, meta, auth, currentPassword, "recovery_codes_regenerated");
  const codes = generateRecoveryCodes();
  await withSecondFactor(deps, meta, user, factor, { code }, "regenerate", async (tx) => {
    await replaceRecoveryCodes(deps, tx, user.id, codes);
    await recordEvent(tx, credentialsChanged(deps, user.id, "recovery_codes", "regenerated"));
  });
  await audit(deps, meta, "recovery_codes_regenerated", "success", user.id);
  notifyRecoveryCodesRegenerated(deps, meta, user);
  return codes;
}
