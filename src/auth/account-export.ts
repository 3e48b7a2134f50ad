import { desc, eq, sql } from "drizzle-orm";
import { UNCACHED } from "../db/client";
import { auditEvents, mfaFactors, mfaRecoveryCodes, sessions, users } from "../db/schema";
import type { Deps, RequestMeta } from "../deps";
import { apiError } from "../errors";
import { type AuditDetail, type AuditEvent, audit } from "./audit";
import type { Authenticated } from "./sessions";
import { exportPolicy, reserve, throttleKey } from "./throttle";
import { publicUser } from "./users";

/** An admin event's detail without the ids of administrators it names (a filter of the audit log, say). */
function withoutAdminIds(detail: unknown): AuditDetail | null {
  if (!detail) return null;
  const { actor_id: _actor, ...rest } = detail as AuditDetail;
  return rest;
}

type OwnerView = { outcome: string; detail: AuditDetail | null };

/**
 * Audit rows whose stored detail would tell the account's owner whether another address has an
 * account, shown as the owner's answer was: the same for a free and a taken address. The stored
 * rows keep the truth for administrators (GET /admin/audit).
 *
 * - `email_change_requested` for the new address: a taken address is stored as a failure with
 *   `reason: address_taken` (nothing is mailed to it), a free one as the mail's outcome. Both
 *   answered 202: shown as `success` with only the purpose.
 * - `email_change_failed`: a right code for an address taken since it was mailed is stored as
 *   `address_taken`, and answered `invalid_otp` like a wrong code: shown as `wrong_code`, and every
 *   wrong code without its attempt number (which the other would lack).
 *
 * `email_change_revert_failed` with `address_taken` stays: that answer (409 email_revert_conflict)
 * says so itself, and only about the caller's own previous address.
 */
const OWNER_VIEW: Partial<Record<AuditEvent, (row: OwnerView) => OwnerView>> = {
  email_change_requested: (row) =>
    row.detail?.purpose === "email_change" ? { outcome: "success", detail: { purpose: "email_change" } } : row,
  email_change_failed: (row) =>
    row.detail?.reason === "address_taken" || row.detail?.reason === "wrong_code"
      ? { outcome: "failure", detail: { purpose: "email_change", reason: "wrong_code" } }
      : row,
};

/** Newest audit events in one export; older ones are left out (`audit_events_truncated`). */
export const EXPORT_MAX_EVENTS = 10_000;

/**
 * GET /auth/account/export: what this service holds about the caller, as JSON: the profile, every
 * session row still stored, the second factor's state (never its secret) and the account's own
 * audit events. Nothing about anyone else: events an administrator caused on the account keep
 * what happened but not the administrator's id, address or user agent, and events the caller
 * caused on other accounts (as an admin) are theirs, not the caller's; and no event tells whether
 * another address has an account (OWNER_VIEW). ACCOUNT_EXPORT_DAILY_LIMIT
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
      const stored = { outcome: ev.outcome, detail: byAdmin ? withoutAdminIds(ev.detail) : ((ev.detail ?? null) as AuditDetail | null) };
      const shown = OWNER_VIEW[ev.event as AuditEvent]?.(stored) ?? stored;
      return {
        at: ev.at.toISOString(),
        event: ev.event,
        outcome: shown.outcome,
        // The request came from an administrator: its address and device are theirs, not the caller's.
        ip: byAdmin ? null : ev.ip,
        user_agent: byAdmin ? null : ev.userAgent,
        by_administrator: byAdmin,
        detail: shown.detail,
      };
    }),
    audit_events_truncated: events.length > EXPORT_MAX_EVENTS,
  };
}

export type AccountExport = Awaited<ReturnType<typeof exportAccount>>;
