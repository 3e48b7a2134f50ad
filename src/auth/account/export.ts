import { desc, eq, sql } from "drizzle-orm";
import { UNCACHED } from "../../db/client";
import { auditEvents, mfaFactors, mfaRecoveryCodes, sessions, users } from "../../db/schema";
import type { Deps, RequestMeta } from "../../deps";
import { apiError } from "../../errors";
import { type AuditDetail, audit } from "../audit";
import type { Authenticated } from "../sessions/sessions";
import { exportPolicy, reserve, throttleKey } from "../throttle";
import { publicUser } from "./users";

/** An admin event's detail without the ids of administrators it names (a filter of the audit log, say). */
function withoutAdminIds(detail: unknown): AuditDetail | null {
  if (!detail) return null;
  const { actor_id: _actor, ...rest } = detail as AuditDetail;
  return rest;
}

/** Newest audit events in one export; older ones are left out (`audit_events_truncated`). */
export const EXPORT_MAX_EVENTS = 10_000;

/**
 * GET /auth/account/export: what this service holds about the caller, as JSON: the profile, every
 * session row still stored, the second factor's state (never its secret) and the account's own
 * audit events. Nothing about anyone else: events an administrator caused on the account keep
 * what happened but not the administrator's id, address or user agent, and events the caller
 * caused on other accounts (as an admin) are theirs, not the caller's. ACCOUNT_EXPORT_DAILY_LIMIT
 * exports per account in 24 hours (reserved before the work).
 */
export async function exportAccount(deps: Deps, meta: RequestMeta, auth: Authenticated) {
  const id = auth.user.id;
  const slot = await reserve(deps, await throttleKey(deps, "account-export", id), exportPolicy(deps.config));
  if (!slot.reserved)
    throw apiError("too_many_requests", {
      retryAfter: slot.retryAfter,
      message: `Your data can be exported ${deps.config.ACCOUNT_EXPORT_DAILY_LIMIT} times in 24 hours. Please try again later.`,
    });
  const e = auditEvents;
  const [[user], sessionRows, [factor], [codes], events] = await Promise.all([
    deps.db.select({ u: users, fresh: UNCACHED }).from(users).where(eq(users.id, id)),
    deps.db.select({ s: sessions, fresh: UNCACHED }).from(sessions).where(eq(sessions.userId, id)).orderBy(desc(sessions.createdAt)),
    deps.db
      .select({ status: mfaFactors.status, createdAt: mfaFactors.createdAt, confirmedAt: mfaFactors.confirmedAt })
      .from(mfaFactors)
      .where(eq(mfaFactors.userId, id)),
    deps.db
      .select({ left: sql<number>`count(*) filter (where ${mfaRecoveryCodes.usedAt} is null)`.mapWith(Number) })
      .from(mfaRecoveryCodes)
      .where(eq(mfaRecoveryCodes.userId, id)),
    deps.db
      .select()
      .from(e)
      .where(eq(e.userId, id))
      .orderBy(desc(e.at), desc(e.id))
      .limit(EXPORT_MAX_EVENTS + 1),
  ]);
  const u = user.u;
  await audit(deps, meta, "account_exported", "success", id, { events: Math.min(events.length, EXPORT_MAX_EVENTS) });
  return {
    exported_at: deps.now().toISOString(),
    profile: {
      ...publicUser(u),
      status: u.status,
      created_at: u.createdAt?.toISOString() ?? null,
      email_verified_at: u.emailVerifiedAt?.toISOString() ?? null,
      password_changed_at: u.passwordChangedAt?.toISOString() ?? null,
    },
    mfa: {
      totp: factor ? factor.status : "off",
      enrolled_at: factor?.createdAt.toISOString() ?? null,
      confirmed_at: factor?.confirmedAt?.toISOString() ?? null,
      recovery_codes_remaining: codes?.left ?? 0,
    },
    sessions: sessionRows.map(({ s }) => ({
      id: s.id,
      created_at: s.createdAt.toISOString(),
      last_used_at: s.lastUsedAt.toISOString(),
      expires_at: s.expiresAt.toISOString(),
      revoked_at: s.revokedAt?.toISOString() ?? null,
      user_agent: s.userAgent,
      ip: s.ip,
      amr: [...s.amr],
    })),
    audit_events: events.slice(0, EXPORT_MAX_EVENTS).map((ev) => {
      const byAdmin = ev.actorId !== null;
      return {
        at: ev.at.toISOString(),
        event: ev.event,
        outcome: ev.outcome,
        // The request came from an administrator: its address and device are theirs, not the caller's.
        ip: byAdmin ? null : ev.ip,
        user_agent: byAdmin ? null : ev.userAgent,
        by_administrator: byAdmin,
        detail: byAdmin ? withoutAdminIds(ev.detail) : ((ev.detail ?? null) as AuditDetail | null),
      };
    }),
    audit_events_truncated: events.length > EXPORT_MAX_EVENTS,
  };
}

export type AccountExport = Awaited<ReturnType<typeof exportAccount>>;
