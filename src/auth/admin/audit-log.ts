import { and, desc, eq, sql } from "drizzle-orm";
import type { Db } from "../../db/client";
import { auditEvents } from "../../db/schema";
import type { Deps, RequestMeta } from "../../deps";
import type { AuditEvent } from "../audit";
import type { Authenticated } from "../sessions";
import { decodeCursor, encodeCursor, isBigintId, pageSize } from "./cursor";
import { recordAdmin } from "./record";

/**
 * The audit log for administrators: newest first, keyset-paginated on (at, id), filtered by the
 * account an event is about (`user_id`), the admin who acted (`actor_id`) and the event type, each
 * served by an index of its own (auth_audit_events_*_idx).
 */
export interface AuditFilters {
  userId?: string;
  actorId?: string;
  type?: AuditEvent;
  cursor?: string;
  limit?: number;
}

export function auditListQuery(db: Db, f: AuditFilters, limit: number) {
  const after = f.cursor ? decodeCursor(f.cursor, isBigintId) : null;
  const e = auditEvents;
  return db
    .select({ e, position: sql<string>`${e.at}::text` })
    .from(e)
    .where(
      and(
        f.userId ? eq(e.userId, f.userId) : undefined,
        f.actorId ? eq(e.actorId, f.actorId) : undefined,
        f.type ? eq(e.event, f.type) : undefined,
        after ? sql`(${e.at}, ${e.id}) < (${after.at}::timestamptz, ${after.id}::bigint)` : undefined,
      ),
    )
    .orderBy(desc(e.at), desc(e.id))
    .limit(limit + 1);
}

export type AuditRow = typeof auditEvents.$inferSelect;

/** An audit row as the API answers it. */
export const auditEntry = (e: AuditRow) => ({
  id: e.id,
  at: e.at.toISOString(),
  event: e.event,
  outcome: e.outcome,
  user_id: e.userId,
  actor_id: e.actorId,
  ip: e.ip,
  user_agent: e.userAgent,
  request_id: e.requestId,
  detail: (e.detail ?? null) as Record<string, string | number | boolean | null> | null,
});

export async function listAudit(deps: Deps, meta: RequestMeta, admin: Authenticated, f: AuditFilters) {
  const limit = pageSize(f.limit);
  const rows = await auditListQuery(deps.db, f, limit);
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  await recordAdmin(deps, meta, admin, "admin_audit_viewed", f.userId ?? null, {
    actor_id: f.actorId ?? null,
    type: f.type ?? null,
    page: f.cursor ? "next" : "first",
    results: page.length,
  });
  return {
    events: page.map((r) => auditEntry(r.e)),
    nextCursor: rows.length > limit && last ? encodeCursor({ at: last.position, id: String(last.e.id) }) : null,
  };
}
