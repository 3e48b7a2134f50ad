import { and, eq } from "drizzle-orm";
import { users } from "../../db/schema";
import { type Deps, type RequestMeta, withDb } from "../../deps";
import { AppError, apiError } from "../../errors";
import { DEFAULT_LOCALE } from "../../i18n/locales";
import { deletionDueAt, mailDeletionNotice, scheduleDeletion } from "../account/deletion";
import { revokeCodes } from "../codes/one-time-codes";
import { event as outboxEvent, recordEvent } from "../events/outbox";
import { byAdmin } from "../events/types";
import type { Authenticated } from "../sessions/sessions";
import { recordAdmin } from "./record";
import { adminUser, findUser } from "./users";

/**
 * An administrator starts an account's deletion on its owner's behalf (a request to support), or
 * cancels a pending one. Starting is the owner's own request (src/auth/account-deletion.ts) without
 * the owner's password: the same state, the same notice with its restore code, the same grace
 * period. Only an active account: a suspended one would come back active with the restore code.
 * Each change and its audit row commit together; locks are taken in the order of the code flows
 * (code rows, then the users row).
 */

async function refuse(
  deps: Deps,
  meta: RequestMeta,
  admin: Authenticated,
  event: "admin_deletion_started" | "admin_deletion_cancelled",
  id: string,
  reason: string,
) {
  await recordAdmin(deps, meta, admin, event, id, { reason }, "blocked");
}

export async function startUserDeletion(deps: Deps, meta: RequestMeta, admin: Authenticated, id: string) {
  const event = "admin_deletion_started";
  if (id === admin.user.id) {
    await refuse(deps, meta, admin, event, id, "self_change");
    throw apiError("admin_self_change");
  }
  await findUser(deps, id);
  const dueAt = deletionDueAt(deps);
  const scheduled = await deps.db.transaction(async (tx) => {
    const txDeps = withDb(deps, tx);
    const done = await scheduleDeletion(txDeps, id, dueAt, byAdmin(admin.user.id));
    if (done) await recordAdmin(txDeps, meta, admin, event, id, { due_at: dueAt.toISOString(), sessions_ended: done.ended });
    return done;
  });
  if (!scheduled) {
    // Not active (any more): say which state stopped it.
    const now = await findUser(deps, id);
    const beingDeleted = now.status === "deletion_pending" || now.status === "deleted";
    await refuse(deps, meta, admin, event, id, beingDeleted ? "being_deleted" : "not_active");
    throw apiError(beingDeleted ? "account_being_deleted" : "account_not_active");
  }
  // The account's language, else the default: the administrator's says nothing about the user's.
  mailDeletionNotice(deps, scheduled, dueAt, DEFAULT_LOCALE, async (mail) => {
    if (mail !== "sent") deps.log("warn", "deletion notice not mailed", { userId: id, reason: mail });
  });
  return adminUser(await findUser(deps, id));
}

/** Cancel a pending deletion: the account is active again (its sessions stay ended) and its restore code stops working. */
export async function cancelUserDeletion(deps: Deps, meta: RequestMeta, admin: Authenticated, id: string) {
  const event = "admin_deletion_cancelled";
  await findUser(deps, id);
  try {
    await deps.db.transaction(async (tx) => {
      await revokeCodes(tx, id);
      const [row] = await tx
        .update(users)
        .set({ status: "active", deletionDueAt: null })
        .where(and(eq(users.id, id), eq(users.status, "deletion_pending")))
        .returning({ id: users.id });
      // Not pending: roll back (its codes stay as they were).
      if (!row) throw apiError("account_not_being_deleted");
      await recordEvent(tx, outboxEvent("user.restored", { userId: id, actor: byAdmin(admin.user.id), at: deps.now(), data: {} }));
      await recordAdmin(withDb(deps, tx), meta, admin, event, id);
    });
  } catch (err) {
    if (err instanceof AppError && err.code === "account_not_being_deleted") await refuse(deps, meta, admin, event, id, "not_pending");
    throw err;
  }
  return adminUser(await findUser(deps, id));
}
