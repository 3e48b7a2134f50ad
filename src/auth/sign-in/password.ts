import { and, eq } from "drizzle-orm";
import { users } from "../../db/schema";
import type { Deps, RequestMeta } from "../../deps";
import { audit } from "../audit";
import { checkPassword } from "../password/confirm";
import { hashPassword, scryptParams } from "../password/hash";
import { clearThrottle } from "../throttle";
import { completeSignIn, type SignInResult } from "./complete";

/**
 * Email + password login: the password check, a rehash of a legacy or outdated hash, then the
 * shared sign-in (status rules, session).
 */
export async function login(deps: Deps, meta: RequestMeta, input: { email: string; password: string }): Promise<SignInResult> {
  const { user, result, key } = await checkPassword(deps, meta, input.email, input.password);
  let current = user;
  if (result.needsRehash) {
    const fresh = await hashPassword(input.password, scryptParams(deps.config));
    // Conditioned on the old hash: of two concurrent logins, one rewrites and the other no-ops.
    const [updated] = await deps.db
      .update(users)
      .set({ password: fresh })
      .where(and(eq(users.id, user.id), eq(users.password, user.password)))
      .returning();
    if (updated) {
      current = updated;
      await audit(deps, meta, "password_rehashed", "success", user.id, { from: result.scheme });
    }
  }
  return completeSignIn(deps, meta, current, {
    method: "password",
    grounds: { passwordChangedAt: current.passwordChangedAt },
    alongside: clearThrottle(deps, key),
  });
}
