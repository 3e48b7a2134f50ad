import type { User } from "../../db/schema";
import type { Deps, RequestMeta } from "../../deps";
import { apiError } from "../../errors";
import { findFactor } from "./factors";
import { type ProofContext, type ProofKind, proofOf, withSecondFactor } from "./second-factor";

/**
 * Step-up for sensitive changes on an account with two-factor sign-in (change-password,
 * change-email): besides the current password, `mfa_code` must be a current TOTP code or an unused
 * recovery code. Without a factor nothing is asked. One line in a handler or domain function:
 *
 *   const { verified } = await requireMfaCode(deps, meta, auth.user, body.mfa_code);
 *
 * Missing: 403 mfa_code_required; wrong: 401 invalid_mfa_code (throttled per account like every
 * second-factor code, 429 when delayed). Returns which second factor was checked, if any (a new
 * session then records it).
 */
export async function requireMfaCode(
  deps: Deps,
  meta: RequestMeta,
  user: Pick<User, "id" | "email" | "locale">,
  mfaCode: string | undefined | null,
  context: ProofContext = "step_up",
): Promise<{ verified: ProofKind | null }> {
  const factor = await findFactor(deps, user.id, "active");
  if (!factor) return { verified: null };
  if (!mfaCode) throw apiError("mfa_code_required");
  const { kind } = await withSecondFactor(deps, meta, user, factor, proofOf(mfaCode), context, async () => {});
  return { verified: kind };
}
