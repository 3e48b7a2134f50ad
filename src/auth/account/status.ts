import type { User } from "../../db/schema";
import type { Deps, RequestMeta } from "../../deps";
import { apiError, type ErrorCode } from "../../errors";
import { audit } from "../audit";
import { refuseUnverified } from "./email-verification";

/**
 * Account states that refuse sign-in. `users.status` is `active` for every account that may
 * sign in; any other value ends its sessions' access at once (authenticate() and refresh() only
 * accept active accounts) and refuses new ones here, after the credentials were checked, so the
 * answer never confirms an account to someone without them.
 */
export const ACCOUNT_STATUSES = {
  active: null,
  /** By an admin (PATCH /auth/admin/users/{id}); every session ended with it. */
  suspended: "account_suspended",
  /** DELETE /auth/account: restorable with the mailed code until `deletion_due_at` (src/auth/account/deletion.ts). */
  deletion_pending: "account_deletion_pending",
  /** Anonymised by the purge after the grace period; the row stays for other services' foreign keys. */
  deleted: "account_deleted",
} as const satisfies Record<string, ErrorCode | null>;

type AccountStatus = keyof typeof ACCOUNT_STATUSES;

/** The codes a sign-in route can answer for an account that is not active (for its `errors` list). */
export const STATUS_REFUSALS = Object.values(ACCOUNT_STATUSES).filter((c): c is NonNullable<typeof c> => c !== null);

/** The sign-in rules of an account whose credentials were checked: its status, then REQUIRE_VERIFIED_EMAIL. */
export async function assertMaySignIn(deps: Deps, meta: RequestMeta, user: User): Promise<void> {
  if (user.status !== "active") {
    // An unknown value (written by another service) refuses like a suspension.
    const refusal = ACCOUNT_STATUSES[user.status as AccountStatus] ?? "account_suspended";
    await audit(deps, meta, "login_refused", "blocked", user.id, { status: user.status });
    throw apiError(refusal);
  }
  await refuseUnverified(deps, meta, user);
}
