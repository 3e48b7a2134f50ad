import { type SQL, sql } from "drizzle-orm";
import { auditEvents } from "../db/schema";
import type { Deps, RequestMeta } from "../deps";
import { describeError } from "../log";

/**
 * The audit event types: one list, so a reader of the audit table knows every value `event` can
 * hold. A new feature adds its events here, and a row for each in docs/abuse.md (a test checks).
 */
export const AUDIT_EVENTS = [
  "registered",
  "login_succeeded",
  "login_failed",
  "login_throttled",
  "login_refused",
  "refreshed",
  "refresh_reuse_detected",
  "logged_out",
  "logged_out_all",
  "session_ended",
  "reset_requested",
  "reset_completed",
  "reset_failed",
  "password_changed",
  "password_rehashed",
  "profile_updated",
  "email_verification_requested",
  "email_verification_failed",
  "email_verified",
  "email_change_requested",
  "email_change_failed",
  "email_changed",
  "email_change_revert_failed",
  "email_change_reverted",
  // Sign-in by emailed code (a success is login_succeeded with method email_code)
  "sign_in_code_requested",
  "sign_in_code_failed",
  // Bot defence (src/auth/bot-defence/): one row per challenge checked, never the token
  "captcha_passed",
  "captcha_refused",
  "captcha_unavailable",
  // Two-factor sign-in
  "mfa_enrollment_started",
  "mfa_enabled",
  "mfa_disabled",
  "mfa_challenge_issued",
  "mfa_verified",
  "mfa_failed",
  "recovery_code_used",
  "recovery_codes_regenerated",
  // Sign in with Google and Apple (a success is login_succeeded with the provider as method)
  "oauth_sign_in_failed",
  "identity_linked",
  "identity_link_refused",
  "identity_unlinked",
  // Passkeys (src/auth/passkeys/): a sign-in with one is login_succeeded (method passkey), a
  // second factor mfa_verified (method passkey), a passkey-first sign-up registered (method passkey)
  "passkey_registered",
  "passkey_registration_failed",
  "passkey_renamed",
  "passkey_removed",
  "passkey_sign_in_failed",
  // Account management (src/auth/admin/): `actor_id` is the admin, `user_id` the account acted on
  "admin_access_refused",
  "admin_request_refused",
  "admin_users_listed",
  "admin_user_viewed",
  "admin_user_updated",
  "admin_sessions_revoked",
  "admin_password_reset_sent",
  "admin_deletion_started",
  "admin_deletion_cancelled",
  "admin_audit_viewed",
  "admin_granted",
  "admin_setup_completed",
  "admin_setup_failed",
  // Self-service deletion and export (src/auth/account/deletion.ts, src/auth/account/export.ts)
  "account_deletion_requested",
  "deletion_code_requested",
  "deletion_code_failed",
  "account_restored",
  "account_restore_failed",
  "account_anonymised",
  "account_exported",
  // Service clients (src/auth/services/clients.ts) and token revocation (RFC 7009)
  "service_client_created",
  "service_client_secret_rotated",
  "service_client_revoked",
  "admin_service_clients_listed",
  "token_revoked",
  // Webhooks (src/auth/webhooks/): `actor_id` the admin; webhook_disabled after failures has none (the service did it)
  "webhook_created",
  "webhook_updated",
  "webhook_secret_rotated",
  "webhook_deleted",
  "webhook_disabled",
  "webhook_delivery_retried",
  "admin_webhooks_listed",
  "admin_deliveries_viewed",
] as const;

export type AuditEvent = (typeof AUDIT_EVENTS)[number];

export type AuditDetail = Record<string, string | number | boolean | null>;

/**
 * Detail keys that may hold a value identifying a person. Anything personal goes under one of these
 * names only, so that anonymising an account (src/auth/account/deletion.ts) can drop them from its
 * audit rows along with `ip` and `user_agent` while keeping the rest of its history.
 */
export const PERSONAL_DETAIL_KEYS = ["email", "name", "ip", "user_agent", "note"] as const;
export type AuditOutcome = "success" | "failure" | "blocked";

export interface AuditRecord {
  event: AuditEvent;
  outcome: AuditOutcome;
  /** The account the event is about. */
  userId?: string | null;
  detail?: AuditDetail | null;
  /** An administrator acting on `userId`'s account (the admin API). */
  actorId?: string | null;
}

/**
 * Write an audit row, failing when it cannot be written: for events that must not happen
 * unrecorded (every admin call). Inside a transaction (deps over its handle), the row commits or
 * rolls back with the change it records.
 */
export async function writeAudit(deps: Deps, meta: RequestMeta, r: AuditRecord): Promise<void> {
  await deps.db.insert(auditEvents).values(rowOf(deps, meta, r));
}

/** The audit row of a record, as both ways of writing it store it. */
const rowOf = (deps: Deps, meta: RequestMeta, r: AuditRecord) => ({
  at: deps.now(),
  event: r.event,
  outcome: r.outcome,
  userId: r.userId ?? null,
  actorId: r.actorId ?? null,
  ip: meta.ip,
  userAgent: meta.userAgent?.slice(0, 512) ?? null,
  requestId: meta.requestId,
  detail: r.detail ?? null,
});

/**
 * The insert of an audit row, one per row of `from` (a CTE of the statement that makes the change:
 * none when it changed nothing), to add to that statement. The row is written with the change or not
 * at all, in the same round trip.
 */
export function auditWith(deps: Deps, meta: RequestMeta, r: AuditRecord, from: SQL): SQL {
  const row = rowOf(deps, meta, r);
  return sql`insert into ${auditEvents} (at, event, outcome, user_id, actor_id, ip, user_agent, request_id, detail)
    select ${row.at.toISOString()}::timestamptz, ${row.event}::text, ${row.outcome}::text, ${row.userId}::uuid,
           ${row.actorId}::uuid, ${row.ip}::text, ${row.userAgent}::text, ${row.requestId}::text,
           ${row.detail ? JSON.stringify(row.detail) : null}::jsonb
      from ${from}`;
}

/**
 * Record an auth event. Never pass a password, code or token in `detail`. A failed write is
 * logged and does not fail the request.
 */
export async function audit(
  deps: Deps,
  meta: RequestMeta,
  event: AuditEvent,
  outcome: AuditOutcome,
  userId: string | null = null,
  detail: AuditDetail | null = null,
): Promise<void> {
  try {
    await writeAudit(deps, meta, { event, outcome, userId, detail });
  } catch (err) {
    deps.log("error", "audit write failed", { event, ...describeError(err) });
  }
}
