import type { User } from "../../db/schema";
import type { Deps, RequestMeta } from "../../deps";
import { apiError, fieldError } from "../../errors";
import { msg } from "../../i18n/messages";
import { isRecentLogin } from "../access";
import type { AuditEvent } from "../audit";
import { confirmCurrentPassword } from "../password/confirm";
import { hasUsablePassword } from "../password/formats";
import type { Authenticated } from "../sessions/sessions";

/**
 * A change to the ways into an account (linking or unlinking a Google or Apple identity, turning
 * two-factor sign-in on or off, new recovery codes) is a credential change, held to the rules of
 * change-password and change-email, so that a stolen session cannot make itself permanent:
 *
 * - the owner proves it again: the current password (through the login throttle, like
 *   change-password); an account without a usable password (social sign-in only, or made by
 *   create-admin) instead needs a sign-in within RECENT_AUTH_MAX_AGE;
 * - with a second factor on, a current code too (requireMfaCode, src/auth/mfa/step-up.ts; the
 *   routes that turn MFA off or replace the recovery codes take that code themselves);
 * - the address is told (a notice per change) and an audit row is written.
 *
 * A way in is added only to an account whose address is verified, whatever
 * REQUIRE_VERIFIED_EMAIL says: until the mailbox's owner has proven it, whoever registered the
 * address may not be its owner, and must not plant a way in that outlives the owner's recovery.
 */
export interface OwnerProof {
  currentPassword?: string;
  mfaCode?: string;
}

/**
 * The caller is the owner, again: its current password (a wrong one audited as `event`, answered
 * 401 invalid_current_password), or without a usable password a recent sign-in.
 */
export async function confirmOwner(
  deps: Deps,
  meta: RequestMeta,
  auth: Authenticated,
  currentPassword: string | undefined,
  event: AuditEvent,
): Promise<void> {
  if (hasUsablePassword(auth.user.password)) {
    if (!currentPassword) throw fieldError("validation_failed", "current_password", msg("validation.current_password_required"));
    await confirmCurrentPassword(deps, meta, auth, currentPassword, event);
    return;
  }
  // Every route that gets here also declares recentLogin; the rule holds here by itself all the same.
  if (!isRecentLogin(deps, auth)) throw apiError("recent_login_required");
}

const UNVERIFIED = msg("error.email_unverified.add_way_in");

/** 403 email_unverified unless the account's address is verified (read fresh by authenticate()). */
export function assertMayAddWayIn(user: Pick<User, "emailVerifiedAt">): void {
  if (!user.emailVerifiedAt) throw apiError("email_unverified", { message: UNVERIFIED });
}
