import { and, desc, eq, gte, lt, sql } from "drizzle-orm";
import { alias } from "drizzle-orm/pg-core";
import type { Db } from "../../db/client";
import { auditEvents, users } from "../../db/schema";
import type { Deps, RequestMeta } from "../../deps";
import type { AuditEvent } from "../audit";
import type { Authenticated } from "../sessions/sessions";
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
  /** Events at or after this time. */
  since?: Date;
  /** Events before this time. */
  until?: Date;
  cursor?: string;
  limit?: number;
}

/** The accounts an event names, for their current addresses (by primary key, per row of the page). */
const subject = alias(users, "subject");
const actor = alias(users, "actor");

function auditListQuery(db: Db, f: AuditFilters, limit: number) {
  const after = f.cursor ? decodeCursor(f.cursor, isBigintId) : null;
  const e = auditEvents;
  return db
    .select({ e, position: sql<string>`${e.at}::text`, userEmail: subject.email, actorEmail: actor.email })
    .from(e)
    .leftJoin(subject, eq(subject.id, e.userId))
    .leftJoin(actor, eq(actor.id, e.actorId))
    .where(
      and(
        f.userId ? eq(e.userId, f.userId) : undefined,
        f.actorId ? eq(e.actorId, f.actorId) : undefined,
        f.type ? eq(e.event, f.type) : undefined,
        f.since ? gte(e.at, f.since) : undefined,
        f.until ? lt(e.at, f.until) : undefined,
        after ? sql`(${e.at}, ${e.id}) < (${after.at}::timestamptz, ${after.id}::bigint)` : undefined,
      ),
    )
    .orderBy(desc(e.at), desc(e.id))
    .limit(limit + 1);
}

export type AuditRow = typeof auditEvents.$inferSelect;

/** An audit row as the API answers it, with the current addresses of the accounts it names. */
const auditEntry = (e: AuditRow, emails: { userEmail: string | null; actorEmail: string | null }) => ({
  id: e.id,
  at: e.at.toISOString(),
  event: e.event,
  outcome: e.outcome,
  user_id: e.userId,
  user_email: emails.userEmail,
  actor_id: e.actorId,
  actor_email: emails.actorEmail,
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
    since: f.since?.toISOString() ?? null,
    until: f.until?.toISOString() ?? null,
    page: f.cursor ? "next" : "first",
    results: page.length,
  });
  return {
    events: page.map((r) => auditEntry(r.e, r)),
    nextCursor: rows.length > limit && last ? encodeCursor({ at: last.position, id: String(last.e.id) }) : null,
  };
}
