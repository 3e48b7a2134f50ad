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
] as const;

export type AuditEvent = (typeof AUDIT_EVENTS)[number];

/**
 * Record an auth event. Never pass a password, code or token in `detail`. A failed write is
 * logged and does not fail the request.
 */
export async function audit(
  deps: Deps,
  meta: RequestMeta,
  event: AuditEvent,
  outcome: "success" | "failure" | "blocked",
  userId: string | null = null,
  detail: Record<string, string | number | boolean | null> | null = null,
): Promise<void> {
  try {
    await deps.db.insert(auditEvents).values({
      at: deps.now(),
      event,
      outcome,
      userId,
      ip: meta.ip,
      userAgent: meta.userAgent?.slice(0, 512) ?? null,
      requestId: meta.requestId,
      detail,
    });
  } catch (err) {
    deps.log("error", "audit write failed", { event, ...describeError(err) });
  }
}
