import { and, eq } from "drizzle-orm";
import type { User } from "../../db/schema";
import { users } from "../../db/schema";
import { type Deps, type RequestMeta, withDb } from "../../deps";
import { apiError } from "../../errors";
import { audit } from "../audit";
import { credentialsChanged, recordEvent } from "../events/outbox";
import { requireMfaCode } from "../mfa/step-up";
import { confirmCurrentPassword } from "../password/confirm";
import { type Authenticated, endAllSessions, startSession, type TokenPair } from "../sessions/sessions";
import { amrOf } from "../sign-in/ways-in";
import { hashPassword, scryptParams } from "./hash";
import { withHashAdmission } from "./hash-admission";
import { assertAcceptableNewPassword } from "./new-password";
import { notifyPasswordChanged } from "./reset";

/**
 * Change password while logged in. The current password goes through the same per-account
 * throttle as login (a stolen access token must not become a password oracle). The update is
 * conditional on the hash that was verified, so of two concurrent changes with the same current
 * password exactly one wins; the other is refused. Every session ends (the current one too) and
 * a fresh one starts; the address is told. On an account with two-factor sign-in, `mfaCode` (a
 * current TOTP or recovery code) is required too, checked after the password and the new
 * password's policy so a refused request does not use up a recovery code. Its two hashes (the
 * current password, the new one) are admitted to the hash queue together, before anything is
 * written: a full queue answers 503 server_busy with the throttle and the codes untouched.
 */
export function changePassword(
  deps: Deps,
  meta: RequestMeta,
  auth: Authenticated,
  currentPassword: string,
  newPassword: string,
  mfaCode?: string,
): Promise<{ user: User; tokens: TokenPair }> {
  return withHashAdmission(deps.config, 2, () => applyChange(deps, meta, auth, currentPassword, newPassword, mfaCode));
}

async function applyChange(
  deps: Deps,
  meta: RequestMeta,
  auth: Authenticated,
  currentPassword: string,
  newPassword: string,
  mfaCode?: string,
): Promise<{ user: User; tokens: TokenPair }> {
  const checked = await confirmCurrentPassword(deps, meta, auth, currentPassword, "password_changed");
  await assertAcceptableNewPassword(deps, newPassword, "new_password");
  const { verified } = await requireMfaCode(deps, meta, auth.user, mfaCode);
  const hash = await hashPassword(newPassword, scryptParams(deps.config));
  const user = await deps.db.transaction(async (tx) => {
    const [updated] = await tx
      .update(users)
      .set({ password: hash, passwordChangedAt: deps.now() })
      .where(and(eq(users.id, auth.user.id), eq(users.password, checked.user.password)))
      .returning();
    if (updated) {
      await recordEvent(tx, credentialsChanged(deps, updated.id, "password", "changed"));
      await endAllSessions(withDb(deps, tx), updated.id, "password_changed");
    }
    return updated;
  });
  if (!user) {
    await audit(deps, meta, "password_changed", "failure", auth.user.id, { reason: "concurrent_change" });
    throw apiError("password_change_conflict");
  }
  await audit(deps, meta, "password_changed", "success", user.id);
  notifyPasswordChanged(deps, meta, user, "change");
  // The new session proves what this request proved: the password, and the second factor when one was asked.
  const amr = [...amrOf("password"), ...(verified ? amrOf(verified) : [])];
  const started = await startSession(deps, meta, user, { passwordChangedAt: user.passwordChangedAt }, amr);
  if (started.kind !== "session") throw new Error("a session without the second-factor condition started none");
  return { user, tokens: started.tokens };
}
