import { and, asc, desc, eq, isNotNull, lt, or, type SQL, sql } from "drizzle-orm";
import type { PgTable } from "drizzle-orm/pg-core";
import type { Db } from "../../db/client";
import { UNCACHED } from "../../db/client";
import {
  auditEvents,
  authEvents,
  identities,
  mfaChallenges,
  mfaFactors,
  mfaRecoveryCodes,
  oneTimeCodes,
  passkeyChallenges,
  passkeys,
  sessions,
  webhookDeliveries,
} from "../../db/schema";
import type { Deps } from "../../deps";
import { type AuditDetail, type AuditEvent, PERSONAL_DETAIL_KEYS } from "../audit";
import { purgeOldEvents } from "../events/outbox";

/**
 * What an account owns, declared once per table that holds its rows (a `user_id` column): what
 * the data export includes (never a secret), what anonymising a deleted account does to the rows,
 * and which of them the hourly purge removes once they are dead. The export
 * (src/auth/account/export.ts), the anonymisation (src/auth/account/deletion.ts) and the purge
 * (src/auth/purge.ts) read this list; a test fails when a table with a `user_id` is missing here.
 * The users row itself (the profile) is the account, handled by those modules directly.
 */
export interface OwnedData {
  table: PgTable;
  /**
   * Export: the top-level keys this table contributes (merged one level deep, so two tables can
   * fill one section), or why it is left out.
   */
  export: ((db: Db, userId: string) => Promise<Record<string, unknown>>) | { omit: string };
  /**
   * Anonymisation: `delete` its rows (`before_lock`: before the users row is locked, the order every
   * flow that touches them locks in), or `scrub` them (keep the rows, drop what identifies a person;
   * in batches of at most `max`, returning how many were scrubbed), or `keep` them as they are (why).
   */
  anonymise:
    | { delete: "after_lock" | "before_lock" }
    | { scrub: (db: Db, userId: string, max: number) => Promise<number> }
    | { keep: string };
  /**
   * In-flight state of a sign-in or ceremony (an mfa_token, a passkey challenge): a change of owner
   * (src/auth/account/owner.ts) deletes it, as it ends every session.
   */
  pending?: true;
  /** Housekeeping: delete the rows that are dead at `now` (returns how many), when anything dies. */
  purge?: (deps: Deps, now: Date) => Promise<number>;
}

const iso = (d: Date | null | undefined) => d?.toISOString() ?? null;
const count = (rows: unknown[]) => rows.length;
const day = 24 * 3600 * 1000;

/** Newest audit events in one export; older ones are left out (`audit_events_truncated`). */
export const EXPORT_MAX_EVENTS = 10_000;

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

const PERSONAL_KEYS = sql.raw(`array[${PERSONAL_DETAIL_KEYS.map((k) => `'${k}'`).join(",")}]::text[]`);

/** One batch of a user's audit rows that still hold personal fields: those fields dropped. Returns how many. */
async function scrubAudit(db: Db, userId: string, max: number): Promise<number> {
  const e = auditEvents;
  const rows = await db.execute<{ id: number }>(sql`
    update ${e} set ip = null, user_agent = null, detail = ${e.detail} - ${PERSONAL_KEYS}
     where ${e.id} in (
       select id from ${e}
        where ${e.userId} = ${userId}::uuid
          and (ip is not null or user_agent is not null or jsonb_exists_any(coalesce(detail, '{}'::jsonb), ${PERSONAL_KEYS}))
        limit ${max})
    returning ${e.id}`);
  return rows.length;
}

/**
 * AUDIT_RETENTION: audit rows older than it are deleted in batches of AUDIT_PURGE_BATCH, each its
 * own short statement (row locks only, nothing waits on it for long), at most AUDIT_PURGE_BATCHES
 * per run; a backlog (the first run after a deploy, say) shrinks by that much per run. 500,000
 * rows an hour keeps up with several million audit rows a day.
 */
const AUDIT_PURGE_BATCH = 5000;
const AUDIT_PURGE_BATCHES = 100;

async function purgeOldAudit(deps: Deps, now: Date): Promise<number> {
  const cutoff = new Date(now.getTime() - deps.config.AUDIT_RETENTION * 1000);
  const e = auditEvents;
  let deleted = 0;
  for (let batch = 1; ; batch++) {
    const rows = await deps.db.execute<{ id: number }>(sql`
      delete from ${e} where ${e.id} in (select id from ${e} where ${e.at} < ${cutoff.toISOString()}::timestamptz limit ${AUDIT_PURGE_BATCH})
      returning ${e.id}`);
    deleted += rows.length;
    if (rows.length < AUDIT_PURGE_BATCH) break;
    if (batch >= AUDIT_PURGE_BATCHES) {
      deps.log("warn", "audit retention stopped after its batch budget; the rest waits for the next run", { deleted });
      break;
    }
  }
  return deleted;
}

const deleteWhere = async (deps: Deps, table: PgTable, where: SQL | undefined) =>
  count(await deps.db.delete(table).where(where).returning({ one: sql`1` }));

export const OWNED_DATA: readonly OwnedData[] = [
  {
    table: sessions,
    export: async (db, userId) => {
      const rows = await db
        .select({ s: sessions, fresh: UNCACHED })
        .from(sessions)
        .where(eq(sessions.userId, userId))
        .orderBy(desc(sessions.createdAt));
      return {
        sessions: rows.map(({ s }) => ({
          id: s.id,
          created_at: s.createdAt.toISOString(),
          last_used_at: s.lastUsedAt.toISOString(),
          expires_at: s.expiresAt.toISOString(),
          revoked_at: iso(s.revokedAt),
          user_agent: s.userAgent,
          ip: s.ip,
          amr: [...s.amr],
        })),
      };
    },
    // Their refresh tokens go with them (ON DELETE CASCADE).
    anonymise: { delete: "after_lock" },
    // Ended: revoked, or past the absolute or idle expiry.
    purge: (deps, now) =>
      deleteWhere(deps, sessions, or(isNotNull(sessions.revokedAt), lt(sessions.expiresAt, now), lt(sessions.idleExpiresAt, now))),
  },
  {
    table: oneTimeCodes,
    export: { omit: "short-lived codes, stored only as keyed hashes: nothing to show" },
    anonymise: { delete: "before_lock" },
    // Every purpose: a code is dead once used or expired.
    purge: (deps, now) => deleteWhere(deps, oneTimeCodes, or(isNotNull(oneTimeCodes.consumedAt), lt(oneTimeCodes.expiresAt, now))),
  },
  {
    table: mfaFactors,
    export: async (db, userId) => {
      const [f] = await db
        .select({ status: mfaFactors.status, createdAt: mfaFactors.createdAt, confirmedAt: mfaFactors.confirmedAt, fresh: UNCACHED })
        .from(mfaFactors)
        .where(eq(mfaFactors.userId, userId));
      return { mfa: { totp: f ? f.status : "off", enrolled_at: iso(f?.createdAt), confirmed_at: iso(f?.confirmedAt) } };
    },
    anonymise: { delete: "after_lock" },
    // Enrollments never confirmed within a day.
    purge: (deps, now) =>
      deleteWhere(deps, mfaFactors, and(eq(mfaFactors.status, "pending"), lt(mfaFactors.createdAt, new Date(now.getTime() - day)))),
  },
  {
    table: mfaRecoveryCodes,
    export: async (db, userId) => {
      const [c] = await db
        .select({ left: sql<number>`count(*) filter (where ${mfaRecoveryCodes.usedAt} is null)`.mapWith(Number), fresh: UNCACHED })
        .from(mfaRecoveryCodes)
        .where(eq(mfaRecoveryCodes.userId, userId));
      return { mfa: { recovery_codes_remaining: c?.left ?? 0 } };
    },
    anonymise: { delete: "after_lock" },
  },
  {
    table: mfaChallenges,
    export: { omit: "the step between a first factor and the second, minutes long: nothing to show" },
    pending: true,
    anonymise: { delete: "after_lock" },
    purge: (deps, now) => deleteWhere(deps, mfaChallenges, or(isNotNull(mfaChallenges.consumedAt), lt(mfaChallenges.expiresAt, now))),
  },
  {
    table: identities,
    export: async (db, userId) => {
      const rows = await db
        .select({ i: identities, fresh: UNCACHED })
        .from(identities)
        .where(eq(identities.userId, userId))
        .orderBy(asc(identities.createdAt), asc(identities.id));
      return {
        identities: rows.map(({ i }) => ({
          id: i.id,
          provider: i.provider,
          email: i.email,
          email_verified: i.emailVerified,
          linked_at: i.createdAt.toISOString(),
          last_used_at: iso(i.lastUsedAt),
        })),
      };
    },
    // A social identity would be a way back into the anonymised account.
    anonymise: { delete: "after_lock" },
  },
  {
    table: passkeys,
    export: async (db, userId) => {
      const rows = await db
        .select({ p: passkeys, fresh: UNCACHED })
        .from(passkeys)
        .where(eq(passkeys.userId, userId))
        .orderBy(asc(passkeys.createdAt), asc(passkeys.id));
      return {
        // Never the public key or the credential id: what the account's list shows.
        passkeys: rows.map(({ p }) => ({
          id: p.id,
          name: p.name,
          created_at: p.createdAt.toISOString(),
          last_used_at: iso(p.lastUsedAt),
          device_type: p.deviceType === "multiDevice" ? "multi_device" : "single_device",
          backed_up: p.backedUp,
          transports: [...p.transports],
          aaguid: p.aaguid,
        })),
      };
    },
    // A passkey would be a way back into the anonymised account.
    anonymise: { delete: "after_lock" },
  },
  {
    table: passkeyChallenges,
    export: { omit: "the challenge of a passkey ceremony, minutes long: nothing to show" },
    pending: true,
    anonymise: { delete: "after_lock" },
    // Used ones are deleted by their verify; expired ones here (also those of no account: sign-in, sign-up).
    purge: (deps, now) => deleteWhere(deps, passkeyChallenges, lt(passkeyChallenges.expiresAt, now)),
  },
  {
    table: auditEvents,
    export: async (db, userId) => {
      const e = auditEvents;
      const events = await db
        .select()
        .from(e)
        .where(eq(e.userId, userId))
        .orderBy(desc(e.at), desc(e.id))
        .limit(EXPORT_MAX_EVENTS + 1);
      return {
        audit_events: events.slice(0, EXPORT_MAX_EVENTS).map((ev) => {
          const byAdmin = ev.actorId !== null;
          const stored = {
            outcome: ev.outcome,
            detail: byAdmin ? withoutAdminIds(ev.detail) : ((ev.detail ?? null) as AuditDetail | null),
          };
          // No event tells the owner whether another address has an account (OWNER_VIEW).
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
    },
    // The history stays (with the id other services know), without ip, user agent and personal detail.
    anonymise: { scrub: scrubAudit },
    purge: purgeOldAudit,
  },
  {
    table: authEvents,
    export: { omit: "the changes audit_events already shows, in the form other services receive them (ids and field names only)" },
    // Ids and field names only, nothing that identifies a person; other services must still receive
    // the account's last events (user.deleted among them).
    anonymise: { keep: "ids and field names only" },
    purge: purgeOldEvents,
  },
  {
    table: webhookDeliveries,
    export: { omit: "the deliveries of the account's events to other services (ids and attempt times only)" },
    // The account's last events (user.deleted among them) must still reach the endpoints.
    anonymise: { keep: "ids and attempt times only" },
    // No purge of their own: they go with their event (EVENT_RETENTION_DAYS) or their endpoint (ON DELETE CASCADE).
  },
];

/** The export of every owned table, merged one level deep (so two tables can fill one section), in registry order. */
export async function exportOwnedData(db: Db, userId: string): Promise<Record<string, unknown>> {
  const parts = await Promise.all(OWNED_DATA.map((d) => (typeof d.export === "function" ? d.export(db, userId) : {})));
  const out: Record<string, unknown> = {};
  for (const part of parts)
    for (const [k, v] of Object.entries(part)) {
      const prev = out[k];
      out[k] = prev && typeof prev === "object" && !Array.isArray(prev) ? { ...prev, ...(v as object) } : v;
    }
  return out;
}
