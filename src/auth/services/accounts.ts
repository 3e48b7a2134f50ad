import { eq } from "drizzle-orm";
import { UNCACHED } from "../../db/client";
import { users } from "../../db/schema";
import type { Deps } from "../../deps";
import { apiError } from "../../errors";
import { publicUser } from "../account/users";

/**
 * An account as a service client with `users:read` sees it (GET /auth/users/{id}): the public
 * fields every answer carries, its status, and when it was created. Read fresh: a service asks
 * after an event (user.updated, user.suspended) and must see the change. 404 user_not_found.
 */
export async function serviceUser(deps: Deps, id: string) {
  const [row] = await deps.db.select({ u: users, fresh: UNCACHED }).from(users).where(eq(users.id, id)).limit(1);
  if (!row) throw apiError("user_not_found");
  return { ...publicUser(row.u), status: row.u.status, created_at: row.u.createdAt?.toISOString() ?? null };
}
