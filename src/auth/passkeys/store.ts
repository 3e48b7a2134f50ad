import { and, asc, eq, sql, TransactionRollbackError } from "drizzle-orm";
import { type Db, UNCACHED } from "../../db/client";
import { type Passkey, passkeys, type User, users } from "../../db/schema";
import type { Deps } from "../../deps";
import { b64url, randomBytes } from "../../lib/encoding";
import { credentialsChanged, recordEvent } from "../events/outbox";
import { holdsWayIn } from "../sign-in/ways-in";
import type { NewCredential } from "./ceremonies";

/** The stored passkeys (auth_passkeys) and the account's user handle. Reads that decide access are fresh (UNCACHED). */

/** A new user handle: 32 random bytes (WebAuthn allows up to 64), base64url. Never derived from the account. */
export const newUserHandle = () => b64url(randomBytes(32));

/**
 * The account's user handle (`user.id` of its passkeys), made on first use in one statement: two
 * first registrations at once both get the one that was stored.
 */
export async function userHandleOf(deps: Deps, userId: string): Promise<string> {
  const [row] = await deps.db
    .update(users)
    .set({ webauthnUserId: sql`coalesce(${users.webauthnUserId}, ${newUserHandle()})` })
    .where(eq(users.id, userId))
    .returning({ handle: users.webauthnUserId });
  if (!row?.handle) throw new Error("the account has no row to hold a user handle");
  return row.handle;
}

/** The account's passkeys, oldest first. */
export async function passkeysOf(deps: Deps, userId: string): Promise<Passkey[]> {
  const rows = await deps.db
    .select({ p: passkeys, fresh: UNCACHED })
    .from(passkeys)
    .where(eq(passkeys.userId, userId))
    .orderBy(asc(passkeys.createdAt), asc(passkeys.id));
  return rows.map((r) => r.p);
}

/** The passkey of a credential id with its account, read fresh: it decides who signs in. */
export async function findByCredentialId(deps: Deps, credentialId: string): Promise<{ passkey: Passkey; user: User } | undefined> {
  const [row] = await deps.db
    .select({ passkey: passkeys, user: users, fresh: UNCACHED })
    .from(passkeys)
    .innerJoin(users, eq(users.id, passkeys.userId))
    .where(eq(passkeys.credentialId, credentialId))
    .limit(1);
  return row;
}

/** The name a passkey gets when the client gives none. */
export const DEFAULT_PASSKEY_NAME = "Passkey";

/** The row of a new passkey. */
export const passkeyRow = (deps: Deps, userId: string, c: NewCredential, name: string) => ({
  id: crypto.randomUUID(),
  userId,
  credentialId: c.credentialId,
  publicKey: c.publicKey,
  signCount: c.signCount,
  transports: c.transports,
  aaguid: c.aaguid,
  deviceType: c.deviceType,
  backedUp: c.backedUp,
  name,
  createdAt: deps.now(),
  lastUsedAt: null,
});

/** Store a new passkey on `db`; null when its credential id is already registered (to any account). */
export async function insertPasskey(db: Db, row: ReturnType<typeof passkeyRow>): Promise<Passkey | null> {
  const [inserted] = await db.insert(passkeys).values(row).onConflictDoNothing({ target: passkeys.credentialId }).returning();
  return inserted ?? null;
}

/**
 * Record a verified assertion: the sign counter moves forward, in one statement that only matches
 * a higher counter (or 0 again on a passkey that has never counted: synced passkeys send 0). False
 * when the counter did not move forward: a regression on an authenticator that counts, a sign the
 * key was copied (or of a race of two assertions of one key, which a real authenticator never
 * produces). The row lock makes concurrent assertions of one passkey take turns.
 */
export async function advanceCounter(db: Db, id: string, signCount: number, backedUp: boolean, now: Date): Promise<boolean> {
  const rows = await db
    .update(passkeys)
    .set({ signCount, backedUp, lastUsedAt: now })
    .where(
      and(
        eq(passkeys.id, id),
        sql`((${signCount}::bigint = 0 and ${passkeys.signCount} = 0) or ${signCount}::bigint > ${passkeys.signCount})`,
      ),
    )
    .returning({ id: passkeys.id });
  return rows.length > 0;
}

export async function renamePasskey(deps: Deps, userId: string, id: string, name: string): Promise<Passkey | null> {
  const [row] = await deps.db
    .update(passkeys)
    .set({ name })
    .where(and(eq(passkeys.id, id), eq(passkeys.userId, userId)))
    .returning();
  return row ?? null;
}

export type Removal = Passkey | "not_found" | "last";

/**
 * Remove a passkey in a transaction with the account row locked, then check by the ways-in
 * registry that the account still holds a way to sign in; if not, roll back ("last"). With
 * `commit` false it is only a trial, always rolled back. Its `credentials.changed` event (at `at`) is written with it. Two removals racing for the last two
 * ways in take turns on the lock, and the second sees what the first left.
 */
export async function removePasskey(db: Db, userId: string, id: string, commit: boolean, at: Date): Promise<Removal> {
  let outcome: Removal = "not_found";
  try {
    await db.transaction(async (tx) => {
      const [account] = await tx.select({ id: users.id, fresh: UNCACHED }).from(users).where(eq(users.id, userId)).for("update");
      const [target] = account
        ? await tx
            .delete(passkeys)
            .where(and(eq(passkeys.id, id), eq(passkeys.userId, userId)))
            .returning()
        : [];
      if (!target) return;
      outcome = (await holdsWayIn(tx as unknown as Db, userId)) ? target : "last";
      if (outcome === "last" || !commit) tx.rollback();
      await recordEvent(tx, credentialsChanged({ now: () => at }, userId, "passkey", "removed"));
    });
  } catch (err) {
    if (!(err instanceof TransactionRollbackError)) throw err;
  }
  return outcome;
}

/** A passkey as the API shows it: never its public key. */
export const publicPasskey = (p: Passkey) => ({
  id: p.id,
  name: p.name,
  created_at: p.createdAt.toISOString(),
  last_used_at: p.lastUsedAt?.toISOString() ?? null,
  device_type: p.deviceType === "multiDevice" ? ("multi_device" as const) : ("single_device" as const),
  backed_up: p.backedUp,
  transports: [...p.transports],
  aaguid: p.aaguid,
});
