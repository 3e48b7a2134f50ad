import { eq } from "drizzle-orm";
import { type User, users } from "../db/schema";
import type { Deps, RequestMeta } from "../deps";
import { AppError } from "../errors";
import { audit } from "./audit";
import { assertAcceptableNewPassword } from "./new-password";
import { hashPassword, verifyPassword } from "./password";
import { type Authenticated, endAllSessions, startSession, type TokenPair } from "./sessions";

/**
 * Change password while logged in: needs the current password; ends every session (the
 * current one included) and starts a fresh one, whose pair is returned.
 */
export async function changePassword(
  deps: Deps,
  meta: RequestMeta,
  auth: Authenticated,
  currentPassword: string,
  newPassword: string,
): Promise<{ user: User; tokens: TokenPair }> {
  const check = await verifyPassword(currentPassword, auth.user.password, deps.config.scrypt);
  if (!check.ok) {
    await audit(deps, meta, "password_changed", "failure", auth.user.id, { reason: "wrong_current_password" });
    throw new AppError(401, "invalid_current_password", "Your current password is incorrect.");
  }
  await assertAcceptableNewPassword(deps, newPassword, "new_password");
  const hash = await hashPassword(newPassword, deps.config.scrypt);
  const [user] = await deps.db
    .update(users)
    .set({ password: hash, passwordChangedAt: deps.now() })
    .where(eq(users.id, auth.user.id))
    .returning();
  await endAllSessions(deps, user.id, "password_changed");
  await audit(deps, meta, "password_changed", "success", user.id);
  return { user, tokens: await startSession(deps, meta, user) };
}
