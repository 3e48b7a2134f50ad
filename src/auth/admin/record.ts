import type { Deps, RequestMeta } from "../../deps";
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
