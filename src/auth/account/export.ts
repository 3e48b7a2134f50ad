import { eq } from "drizzle-orm";
import { UNCACHED } from "../../db/client";
import { users } from "../../db/schema";
import type { Deps, RequestMeta } from "../../deps";
import { apiError } from "../../errors";
import { msg } from "../../i18n/messages";
import { audit } from "../audit";
import type { Authenticated } from "../sessions/sessions";
import { exportPolicy, reserve, throttleKey } from "../throttle";
import { exportOwnedData } from "./owned-data";
import { publicUser } from "./users";

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
      message: msg("error.too_many_requests.export", { limit: deps.config.ACCOUNT_EXPORT_DAILY_LIMIT }),
    });
  const [[row], owned] = await Promise.all([
    deps.db.select({ u: users, fresh: UNCACHED }).from(users).where(eq(users.id, id)),
    exportOwnedData(deps.db, id),
  ]);
  const u = row.u;
  const events = (owned.audit_events as unknown[] | undefined)?.length ?? 0;
  await audit(deps, meta, "account_exported", "success", id, { events });
  return {
    exported_at: deps.now().toISOString(),
    profile: {
      ...publicUser(u),
      status: u.status,
      created_at: u.createdAt?.toISOString() ?? null,
      email_verified_at: u.emailVerifiedAt?.toISOString() ?? null,
      password_changed_at: u.passwordChangedAt?.toISOString() ?? null,
    },
    ...(owned as unknown as ExportSections),
  };
}

/** The sections the owned-data registry fills (src/auth/account/owned-data.ts), as the export's type. */
interface ExportSections {
  mfa: { totp: string; enrolled_at: string | null; confirmed_at: string | null; recovery_codes_remaining: number };
  sessions: unknown[];
  identities: unknown[];
  audit_events: unknown[];
  audit_events_truncated: boolean;
}
