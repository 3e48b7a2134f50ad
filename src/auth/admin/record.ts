import type { Deps, RequestMeta } from "../../deps";
import type { AppError } from "../../errors";
import { type AuditDetail, type AuditEvent, writeAudit } from "../audit";
import type { Authenticated } from "../sessions/sessions";

/**
 * Every admin API call is on record: the acting admin (`actor_id`), the account acted on
 * (`user_id`, when there is one) and what was asked or changed (`detail`). Written with
 * writeAudit, so a call that cannot be recorded fails; inside a change's transaction, the row
 * commits or rolls back with the change.
 */
export const recordAdmin = (
  deps: Deps,
  meta: RequestMeta,
  admin: Authenticated,
  event: AuditEvent,
  target: string | null,
  detail: AuditDetail | null = null,
  outcome: "success" | "failure" | "blocked" = "success",
) => writeAudit(deps, meta, { event, outcome, userId: target, actorId: admin.user.id, detail });

/** Refusals already recorded under their action's own event (see recordRefusal). */
const recorded = new WeakSet<object>();

/**
 * A refused admin call recorded under its action's event (`admin_user_updated` blocked, say), with
 * the reason; returns the error to throw. Any refusal not recorded this way (an invalid request, an
 * unknown id the action did not record) is recorded by the admin routes' middleware as
 * `admin_request_refused` (src/middleware/auth.ts), so none goes unrecorded and none twice.
 */
export async function recordRefusal(
  deps: Deps,
  meta: RequestMeta,
  admin: Authenticated,
  event: AuditEvent,
  target: string | null,
  err: AppError,
  detail: AuditDetail & { reason: string },
  outcome: "failure" | "blocked" = "blocked",
): Promise<AppError> {
  await recordAdmin(deps, meta, admin, event, target, detail, outcome);
  recorded.add(err);
  return err;
}

/** Whether recordRefusal already put this error on record. */
export const isRecordedRefusal = (err: unknown) => typeof err === "object" && err !== null && recorded.has(err);
