import { eq } from "drizzle-orm";
import { UNCACHED } from "../../db/client";
import { type User, users } from "../../db/schema";
import { type Deps, type RequestMeta, withDb } from "../../deps";
import { AppError, apiError } from "../../errors";
import { DEFAULT_LOCALE } from "../../i18n/locales";
import type { AuditEvent } from "../audit";
import { event, type NewEvent, recordEvent } from "../events/outbox";
import { byAdmin, type UserField } from "../events/types";
import { issueResetMail, takeResetSendSlot } from "../password/reset";
import { type Authenticated, endAllSessions } from "../sessions/sessions";
import { recordAdmin, recordRefusal } from "./record";
import { adminUser, findUser } from "./users";

/**
 * The admin API's changes to an account. Each runs in one transaction with the target's row
 * locked, and its audit row (actor, target, what changed) is written in that transaction: a
 * change is never made unrecorded. No change can make an account admin (only the create-admin
 * command can), and no admin can change their own role or status.
 */

/** Roles an admin may give through the API; `admin` comes only from `npm run create-admin`. */
export const ASSIGNABLE_ROLES = ["student", "instructor"] as const;
type AssignableRole = (typeof ASSIGNABLE_ROLES)[number];
/** Statuses an admin may set; deletion has its own flow (src/auth/account/deletion.ts). */
export const ASSIGNABLE_STATUSES = ["active", "suspended"] as const;
type AssignableStatus = (typeof ASSIGNABLE_STATUSES)[number];

export interface UserChange {
  role?: AssignableRole;
  status?: AssignableStatus;
  /** Why, in the admin's words: kept in the audit row (`note`, dropped when the account is anonymised). */
  reason?: string;
}

/** What a role may do, in order; an unknown role (another service's) counts as above a student. */
const RANK: Record<string, number> = { student: 0, instructor: 1, admin: 2 };
const rank = (role: string) => RANK[role] ?? 1;

const BEING_DELETED = new Set(["deletion_pending", "deleted"]);

/** The target's row, locked until the transaction ends; 404 user_not_found. */
async function lockUser(deps: Deps, id: string): Promise<User> {
  const [row] = await deps.db.select({ u: users, fresh: UNCACHED }).from(users).where(eq(users.id, id)).for("update").limit(1);
  if (!row) throw apiError("user_not_found");
  return row.u;
}

/** The events of an admin's change to an account: its role, fields and status, as they changed. */
function changeEvents(
  deps: Deps,
  admin: Authenticated,
  before: User,
  after: { role: string; status: string; requestedRoleCleared: boolean },
): NewEvent[] {
  const common = { userId: before.id, actor: byAdmin(admin.user.id), at: deps.now() };
  const events: NewEvent[] = [];
  const fields: UserField[] = [
    ...(after.role !== before.role ? (["role"] as const) : []),
    ...(after.requestedRoleCleared ? (["requested_role"] as const) : []),
  ];
  if (fields.length) events.push(event("user.updated", { ...common, data: { fields } }));
  if (after.role !== before.role) events.push(event("role.changed", { ...common, data: { from: before.role, to: after.role } }));
  if (after.status !== before.status)
    events.push(
      after.status === "suspended" ? event("user.suspended", { ...common, data: {} }) : event("user.reactivated", { ...common, data: {} }),
    );
  return events;
}

/**
 * PATCH: a new role and/or status. Suspending ends every session at once (the same transaction);
 * so does lowering a role, so that no token keeps claiming the old one past its session. Setting a
 * role also settles a pending instructor request (granted or declined), clearing requested_role.
 */
export async function updateUser(deps: Deps, meta: RequestMeta, admin: Authenticated, id: string, change: UserChange) {
  if (id === admin.user.id)
    throw await recordRefusal(deps, meta, admin, "admin_user_updated", id, apiError("admin_self_change"), { reason: "self_change" });
  try {
    await deps.db.transaction(async (tx) => {
      const txDeps = withDb(deps, tx);
      const before = await lockUser(txDeps, id);
      if (BEING_DELETED.has(before.status)) throw apiError("account_being_deleted");
      const role = change.role ?? before.role;
      const status = change.status ?? before.status;
      await tx
        .update(users)
        .set({ role, status, ...(change.role ? { requestedRole: null } : {}) })
        .where(eq(users.id, id));
      const suspended = status === "suspended" && before.status !== "suspended";
      const demoted = rank(role) < rank(before.role);
      await recordEvent(
        tx,
        ...changeEvents(deps, admin, before, { role, status, requestedRoleCleared: Boolean(change.role && before.requestedRole) }),
      );
      const actor = byAdmin(admin.user.id);
      const ended = suspended || demoted ? await endAllSessions(txDeps, id, suspended ? "suspended" : "role_lowered", { actor }) : 0;
      await recordAdmin(txDeps, meta, admin, "admin_user_updated", id, {
        role_from: before.role,
        role_to: role,
        status_from: before.status,
        status_to: status,
        requested_role_cleared: Boolean(change.role && before.requestedRole),
        sessions_ended: ended,
        ...(change.reason ? { note: change.reason } : {}),
      });
    });
  } catch (err) {
    throw await refused(deps, meta, admin, "admin_user_updated", id, err);
  }
  return adminUser(await findUser(deps, id));
}

/**
 * A refusal of an action on an account, recorded under the action's event (after its transaction
 * rolled back): no such account (failure, `not_found`) or one being deleted (blocked). Any other
 * error is passed on as it is.
 */
async function refused(deps: Deps, meta: RequestMeta, admin: Authenticated, event: AuditEvent, id: string, err: unknown) {
  if (!(err instanceof AppError)) return err;
  if (err.code === "user_not_found") return recordRefusal(deps, meta, admin, event, id, err, { reason: "not_found" }, "failure");
  if (err.code === "account_being_deleted") return recordRefusal(deps, meta, admin, event, id, err, { reason: "being_deleted" });
  return err;
}

/** End every session of the account; its access and refresh tokens stop on their next use. */
export async function revokeUserSessions(deps: Deps, meta: RequestMeta, admin: Authenticated, id: string): Promise<number> {
  try {
    return await deps.db.transaction(async (tx) => {
      const txDeps = withDb(deps, tx);
      await lockUser(txDeps, id);
      const ended = await endAllSessions(txDeps, id, "revoked_by_admin", { actor: byAdmin(admin.user.id) });
      await recordAdmin(txDeps, meta, admin, "admin_sessions_revoked", id, { sessions_ended: ended });
      return ended;
    });
  } catch (err) {
    throw await refused(deps, meta, admin, "admin_sessions_revoked", id, err);
  }
}

/**
 * Mail the account a password-reset code, as forgot-password does (the same code, mail and send
 * throttle). The send slot and the audit row are written in one transaction, and the mail is
 * started only after it commits: a reset mail never goes out unrecorded, and a call that cannot
 * be recorded leaves the throttle as it was.
 */
export async function sendUserPasswordReset(deps: Deps, meta: RequestMeta, admin: Authenticated, id: string): Promise<void> {
  const event = "admin_password_reset_sent";
  let user: User;
  try {
    user = await findUser(deps, id);
    if (BEING_DELETED.has(user.status)) throw apiError("account_being_deleted");
    await deps.db.transaction(async (tx) => {
      const txDeps = withDb(deps, tx);
      await takeResetSendSlot(txDeps, user.email);
      await recordAdmin(txDeps, meta, admin, event, id);
    });
  } catch (err) {
    if (err instanceof AppError && err.code === "too_many_requests")
      throw await recordRefusal(deps, meta, admin, event, id, err, { reason: err.code });
    throw await refused(deps, meta, admin, event, id, err);
  }
  // The mail follows the account's language, else the default: the administrator's says nothing about the user's.
  issueResetMail(deps, { ...meta, locale: DEFAULT_LOCALE }, user);
}
