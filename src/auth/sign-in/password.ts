import { and, eq } from "drizzle-orm";
import { users } from "../../db/schema";
import type { Deps, RequestMeta } from "../../deps";
import { AppError } from "../../errors";
import { audit } from "../audit";
import { checkPassword } from "../password/confirm";
import { hashPassword, scryptParams } from "../password/hash";
import { withHashAdmission } from "../password/hash-admission";
import { clearThrottleWith } from "../throttle";
import { completeSignIn, type SignInResult } from "./complete";

/** The password hashed with the current parameters, or null when the isolate's hash queue is full. */
async function rehash(deps: Deps, password: string): Promise<string | null> {
  try {
    return await withHashAdmission(deps.config, 1, () => hashPassword(password, scryptParams(deps.config)));
  } catch (err) {
    if (err instanceof AppError && err.code === "server_busy") return null;
    throw err;
  }
}

/**
 * Email + password login: the password check, a rehash of a legacy or outdated hash, then the
 * shared sign-in (status rules, session).
 */
export async function login(deps: Deps, meta: RequestMeta, input: { email: string; password: string }): Promise<SignInResult> {
  const { user, result, key } = await checkPassword(deps, meta, input.email, input.password);
  let current = user;
  // Optional work: when the hash queue is full the old hash stays until a later login.
  const fresh = result.needsRehash ? await rehash(deps, input.password) : null;
  if (fresh) {
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
    alongside: clearThrottleWith(key),
  });
}
