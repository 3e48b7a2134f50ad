import { eq, type SQL, sql } from "drizzle-orm";
import type { Db } from "../../db/client";
import { UNCACHED } from "../../db/client";
import { type User, users } from "../../db/schema";
import { type Deps, withDb } from "../../deps";
import type { AuditDetail } from "../audit";
import { credentialsChanged, emailVerified, type NewEvent, newlyVerified, recordEvent } from "../events/outbox";
import type { RevokeReason } from "../events/types";
import { endAllSessions } from "../sessions/sessions";
import { CREDENTIAL_TABLES } from "../sign-in/ways-in";
import { OWNED_DATA } from "./owned-data";

/**
 * A change of owner (docs/email-verification.md#a-change-of-owner). Until an account's address is
 * proven, whoever registered it may not be the mailbox's owner, and anything they added must not
 * outlive the owner's recovery. So the FIRST proof of the mailbox on an unverified account (a
 * verification code, a password reset, a sign-in by code), and an operator's setup of an admin
 * account made by `npm run create-admin`, hand the account to whoever made that proof, in the
 * transaction of the proof:
 *
 * - every session ends, and every pending sign-in step (mfa_tokens, passkey challenges: the
 *   owned-data registry's `pending` tables) is deleted;
 * - every way in stored in a table of its own (the ways-in registry's credential tables: linked
 *   identities, the TOTP factor, recovery codes, passkeys...) added before the proof is removed.
 *
 * Undoing an address change (the revert code) is a change of owner the other way: the ways in
 * added since the change go, and every session ends.
 *
 * A verified account's password reset keeps its factors: a second factor still protects an account
 * whose mailbox was stolen; the owner who lost it recovers with a recovery code (docs/mfa.md).
 */
export interface Handover {
  sessionsEnded: number;
  waysInRemoved: number;
  pendingRemoved: number;
}

const PENDING = OWNED_DATA.filter((d) => d.pending).map((d) => d.table);

const iso = (d: Date) => sql`${d.toISOString()}::timestamptz`;

/**
 * Hand the account to whoever just proved control of it, on `tx` (a transaction that holds the
 * users row locked or is about to write it): end its sessions, drop pending sign-in steps, remove
 * the ways in added before `now` (or, with `since`, those added since then).
 */
export async function handOver(deps: Deps, tx: Db, userId: string, reason: RevokeReason, since?: Date): Promise<Handover> {
  // Everything stored until now (the app's clock, which wrote created_at), or since the given moment.
  const when: SQL = since ? sql`created_at >= ${iso(since)}` : sql`created_at <= ${iso(deps.now())}`;
  // Sessions first (every flow that ends sessions locks them in this order), then the rest.
  const sessionsEnded = await endAllSessions(withDb(deps, tx), userId, reason);
  // The rest in one statement: each table's delete is a CTE whose count the select reads, in
  // this order (the ways in, then the pending steps), as one statement per table did.
  const deletes = [
    ...CREDENTIAL_TABLES.map(({ table }) => sql`delete from ${table} where user_id = ${userId}::uuid and ${when} returning 1`),
    ...PENDING.map((table) => sql`delete from ${table} where user_id = ${userId}::uuid returning 1`),
  ];
  const name = (i: number) => sql.raw(`d${i}`);
  const [row] = await tx.execute<Record<string, number>>(sql`
    with ${sql.join(
      deletes.map((d, i) => sql`${name(i)} as (${d})`),
      sql`, `,
    )}
    select ${sql.join(
      deletes.map((_, i) => sql`(select count(*) from ${name(i)})::int as ${name(i)}`),
      sql`, `,
    )}`);
  const count = (i: number) => Number(row[`d${i}`]);
  let waysInRemoved = 0;
  const removed: NewEvent[] = [];
  CREDENTIAL_TABLES.forEach(({ event }, i) => {
    if (count(i) > 0) removed.push(credentialsChanged(deps, userId, event, "removed"));
    waysInRemoved += count(i);
  });
  // Other services hear of it in this transaction (src/auth/events/outbox.ts).
  await recordEvent(tx, ...removed);
  const pendingRemoved = PENDING.reduce((n, _, i) => n + count(CREDENTIAL_TABLES.length + i), 0);
  return { sessionsEnded, waysInRemoved, pendingRemoved };
}

/**
 * The mailbox of `userId` was just proven (a code mailed to it was redeemed on `tx`): the address
 * counts as verified from now on, and when this is its first proof, the account changes owner
 * (handOver). The users row is locked first (FOR UPDATE), so a concurrent verification or sign-in
 * sees the result. `now` is the moment of the proof (the caller's, when it writes other times
 * with it, e.g. a reset's password_changed_at). Returns the account as it is now.
 */
export async function proveMailbox(
  deps: Deps,
  tx: Db,
  userId: string,
  reason: RevokeReason,
  now = deps.now(),
): Promise<{ user: User; handover: Handover | null }> {
  const [before] = await tx.select({ user: users, fresh: UNCACHED }).from(users).where(eq(users.id, userId)).for("update");
  // Already verified: nothing to write (the address stays verified since its first proof), the row stays locked.
  if (before?.user.emailVerifiedAt) return { user: before.user, handover: null };
  const handover = before ? await handOver(deps, tx, userId, reason) : null;
  const [user] = await tx
    .update(users)
    .set({ emailVerifiedAt: sql`coalesce(${users.emailVerifiedAt}, ${iso(now)})` })
    .where(eq(users.id, userId))
    .returning();
  if (newlyVerified(user?.emailVerifiedAt, now)) await recordEvent(tx, emailVerified(userId, now));
  return { user, handover };
}

/** A handover's counts for an audit row's detail (empty when there was none). */
export const handoverDetail = (h: Handover | null): AuditDetail =>
  h ? { change_of_owner: true, sessions_ended: h.sessionsEnded, ways_in_removed: h.waysInRemoved, pending_removed: h.pendingRemoved } : {};
