import { and, desc, eq, not, type SQL, sql } from "drizzle-orm";
import type { Db } from "../../db/client";
import { UNCACHED } from "../../db/client";
import { auditEvents, type User, users } from "../../db/schema";
import type { Deps, RequestMeta } from "../../deps";
import { AppError, apiError } from "../../errors";
import { publicUser } from "../account/users";
import { factorsOf } from "../mfa/factors";
import { remainingRecoveryCodes } from "../mfa/recovery-codes";
import { identitiesOf } from "../oauth/identities";
import { type Authenticated, listSessions } from "../sessions/sessions";
import { hasSecondFactor } from "../sign-in/ways-in";
import { decodeCursor, encodeCursor, isUuid, pageSize } from "./cursor";
import { recordAdmin, recordRefusal } from "./record";

/**
 * The admin API's reads of accounts: the list (search, filters, keyset pages) and one account
 * with its sessions. Every read decides what an administrator sees about live accounts, so it is
 * read past Hyperdrive's cache.
 */

/**
 * The list's order: newest account first. created_at may be null on rows another service wrote
 * (its default is now(), but nothing forbids null): those sort last, as the epoch. The same
 * expression is indexed (users_admin_*_idx in src/db/schema.ts), with the id breaking ties.
 */
const USER_ORDER = sql`coalesce(${users.createdAt}, 'epoch'::timestamptz)`;

export interface UserFilters {
  /** Email prefix, or (3+ characters) part of the name; case-insensitive. */
  q?: string;
  role?: string;
  status?: string;
  /** Accounts waiting for an admin to grant this role (INSTRUCTOR_APPROVAL=required). */
  requestedRole?: string;
  /** The address was proven (true) or not yet (false). */
  verified?: boolean;
  /** A second factor is on (true) or not (false). */
  mfa?: boolean;
  cursor?: string;
  limit?: number;
}

/** Names match by trigram (pg_trgm), which needs 3 characters to narrow anything down. */
export const NAME_MATCH_MIN = 3;

const escapeLike = (s: string) => s.replace(/[\\%_]/g, (c) => `\\${c}`);

/** The first string after every string with this prefix (its last code point plus one), or null past U+10FFFF. */
function prefixEnd(prefix: string): string | null {
  const points = [...prefix];
  let next = points.pop()!.codePointAt(0)! + 1;
  if (next >= 0xd800 && next <= 0xdfff) next = 0xe000; // no surrogates in UTF-8
  return next > 0x10ffff ? null : points.join("") + String.fromCodePoint(next);
}

/**
 * The search as index conditions: the email prefix as a range on lower(email) in text_pattern_ops
 * order (users_email_prefix_idx), which a generic (prepared, parameterised) plan can use as well as
 * a LIKE with a constant; the name by ILIKE on the trigram index (users_full_name_trgm_idx).
 */
function search(q: string): SQL {
  const email = q.toLowerCase();
  const end = prefixEnd(email);
  const emailMatch = sql`(lower(${users.email}) ~>=~ ${email}${end === null ? sql`` : sql` and lower(${users.email}) ~<~ ${end}`})`;
  if ([...q].length < NAME_MATCH_MIN) return emailMatch;
  return sql`(${emailMatch} or ${users.fullName} ilike ${`%${escapeLike(q)}%`})`;
}

/** The admin's view of an account in lists. */
export const adminUser = (u: User & { mfaEnabled: boolean }) => ({
  ...publicUser(u),
  status: u.status,
  mfa_enabled: u.mfaEnabled,
  created_at: u.createdAt?.toISOString() ?? null,
  deletion_due_at: u.deletionDueAt?.toISOString() ?? null,
});

/** The list query itself (exported so a test can EXPLAIN exactly what the Worker runs). */
function userListQuery(db: Db, f: UserFilters, limit: number) {
  const q = f.q?.trim();
  const after = f.cursor ? decodeCursor(f.cursor, isUuid) : null;
  return db
    .select({
      u: users,
      mfaEnabled: sql<boolean>`${hasSecondFactor(users.id)}`,
      position: sql<string>`${USER_ORDER}::text`,
      fresh: UNCACHED,
    })
    .from(users)
    .where(
      and(
        q ? search(q) : undefined,
        f.role ? eq(users.role, f.role) : undefined,
        f.status ? eq(users.status, f.status) : undefined,
        f.requestedRole ? eq(users.requestedRole, f.requestedRole) : undefined,
        // The expression of users_admin_verified_idx, so either answer is read from it in order.
        f.verified === undefined ? undefined : sql`(${users.emailVerifiedAt} is not null) = ${f.verified}`,
        f.mfa === undefined ? undefined : f.mfa ? hasSecondFactor(users.id) : not(hasSecondFactor(users.id)),
        after ? sql`(${USER_ORDER}, ${users.id}) < (${after.at}::timestamptz, ${after.id}::uuid)` : undefined,
      ),
    )
    .orderBy(desc(USER_ORDER), desc(users.id))
    .limit(limit + 1);
}

/**
 * One page of accounts, newest first, and the cursor of the next page (null on the last). The
 * record leaves the search text out (it may be part of someone's address).
 */
export async function listUsers(deps: Deps, meta: RequestMeta, admin: Authenticated, f: UserFilters) {
  const limit = pageSize(f.limit);
  const rows = await deps.db.transaction(async (tx) => {
    // Planned for the values sent, every time. A prepared statement may otherwise switch to a
    // generic plan after a few runs, which cannot see how selective a search is and walks the
    // order index filtering every row: a full scan for a search that matches nothing.
    await tx.execute(sql`set local plan_cache_mode = force_custom_plan`);
    return userListQuery(tx, f, limit);
  });
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  await recordAdmin(deps, meta, admin, "admin_users_listed", null, {
    q: f.q !== undefined,
    role: f.role ?? null,
    status: f.status ?? null,
    requested_role: f.requestedRole ?? null,
    verified: f.verified ?? null,
    mfa: f.mfa ?? null,
    page: f.cursor ? "next" : "first",
    results: page.length,
  });
  return {
    users: page.map((r) => adminUser({ ...r.u, mfaEnabled: r.mfaEnabled })),
    nextCursor: rows.length > limit && last ? encodeCursor({ at: last.position, id: last.u.id }) : null,
  };
}

/** The account with this id, read fresh; 404 user_not_found. */
export async function findUser(deps: Deps, id: string): Promise<User & { mfaEnabled: boolean }> {
  const [row] = await deps.db
    .select({ u: users, mfaEnabled: sql<boolean>`${hasSecondFactor(users.id)}`, fresh: UNCACHED })
    .from(users)
    .where(eq(users.id, id))
    .limit(1);
  if (!row) throw apiError("user_not_found");
  return { ...row.u, mfaEnabled: row.mfaEnabled };
}

/**
 * One account for an admin: the user, its live sessions (device, IP, last use), its last login,
 * its linked Google/Apple identities and its second factors (state and dates, never a secret).
 */
export async function getUser(deps: Deps, meta: RequestMeta, admin: Authenticated, id: string) {
  const [user, sessions, [login], identities, factors, recoveryCodes] = await Promise.all([
    findUser(deps, id).catch(async (err) => {
      if (!(err instanceof AppError && err.code === "user_not_found")) throw err;
      throw await recordRefusal(deps, meta, admin, "admin_user_viewed", id, err, { reason: "not_found" }, "failure");
    }),
    listSessions(deps, id, ""),
    // Within AUDIT_RETENTION: older logins are no longer on record.
    deps.db
      .select({ at: auditEvents.at })
      .from(auditEvents)
      .where(and(eq(auditEvents.userId, id), eq(auditEvents.event, "login_succeeded")))
      .orderBy(desc(auditEvents.at))
      .limit(1),
    identitiesOf(deps, id),
    factorsOf(deps, id),
    remainingRecoveryCodes(deps, id),
  ]);
  await recordAdmin(deps, meta, admin, "admin_user_viewed", id);
  return {
    user: { ...adminUser(user), last_login_at: login?.at.toISOString() ?? null },
    sessions: sessions.map(({ current: _current, ...s }) => s),
    identities,
    factors,
    recovery_codes_remaining: recoveryCodes,
  };
}
