import { and, asc, eq, sql, TransactionRollbackError } from "drizzle-orm";
import type { Db } from "../../db/client";
import { UNCACHED } from "../../db/client";
import { type Identity, identities, type User, users } from "../../db/schema";
import { type Deps, type RequestMeta, withDb } from "../../deps";
import { apiError } from "../../errors";
import { assertMayAddWayIn, confirmOwner, type OwnerProof } from "../account/credential-change";
import { mailVerificationCode } from "../account/email-verification";
import { findUserByEmail, normalizeEmail } from "../account/users";
import { audit } from "../audit";
import { credentialsChanged, linkedIdentityEvent, recordEvent, userCreated } from "../events/outbox";
import { requireMfaCode } from "../mfa/step-up";
import { hasUsablePassword, unusablePassword } from "../password/formats";
import { type Authenticated, endIdentitySessions } from "../sessions/sessions";
import { holdsWayIn } from "../sign-in/ways-in";
import type { VerifiedIdentity } from "./id-token";
import { notifyIdentityLinked, notifyIdentityUnlinked } from "./notices";

/**
 * Which account a verified provider identity signs in to, and the linking rules:
 * - a known identity (provider, sub) signs in to its account, whatever its email says now;
 * - a new identity whose email no account has creates one (role student, email verified as the
 *   provider says, no usable password);
 * - a new identity whose email an account has is linked to it only if the provider says the
 *   email is verified AND the account's email is verified (else 409
 *   account_exists_unverified_link) AND the account's password, if it has one, was set after
 *   the address was verified (else 409 account_exists_reset_required). Someone who registered an
 *   address they do not own must never receive its real owner's provider identity, also not once
 *   the owner has entered the verification code the squatter's registration mailed them: the
 *   squatter's password predates that proof. An identity whose email nobody proved must never
 *   enter an existing account. The owner resets the password (which proves the mailbox and
 *   replaces the password) or logs in with it and links from there (linkIdentity).
 */

/** The provider's email as accounts store it (trimmed, lower-cased), or null when absent or too long for the column. */
const emailOf = (v: VerifiedIdentity) => {
  const email = v.email ? normalizeEmail(v.email) : "";
  return email && email.length <= 255 ? email : null;
};

/** The name of a new account: the provider's, else the one the app sent (Apple's first sign-in), else the email's local part. */
function nameFor(v: VerifiedIdentity, email: string, fullName?: string): string {
  const name = (v.name ?? fullName ?? "").trim() || email.split("@")[0] || "User";
  return [...name].slice(0, 100).join("");
}

/** A linked identity with its account, read fresh: it decides who signs in. */
async function findLinked(deps: Deps, v: Pick<VerifiedIdentity, "provider" | "sub">) {
  const [row] = await deps.db
    .select({ identity: identities, user: users, fresh: UNCACHED })
    .from(identities)
    .innerJoin(users, eq(users.id, identities.userId))
    .where(and(eq(identities.provider, v.provider), eq(identities.subject, v.sub)))
    .limit(1);
  return row;
}

/**
 * When the identity was last used. Its email and flag stay what the provider said when it was
 * linked: dropUnprovenIdentities relies on the flag meaning "the provider vouched for the address
 * the account was made or matched with", which a later change of the provider account must not move.
 */
async function touch(deps: Deps, id: string) {
  await deps.db.update(identities).set({ lastUsedAt: deps.now() }).where(eq(identities.id, id));
}

const identityRow = (deps: Deps, userId: string, v: VerifiedIdentity) => {
  const now = deps.now();
  return {
    id: crypto.randomUUID(),
    userId,
    provider: v.provider,
    subject: v.sub,
    email: emailOf(v),
    emailVerified: v.email_verified,
    createdAt: now,
    lastUsedAt: now,
  };
};

/** Thrown inside a transaction to roll it back: a concurrent sign-in linked the identity first. */
class LostRace extends Error {}

/**
 * A new account and its identity, in one transaction. Null when another request won a race (the
 * email was taken, or the identity linked, meanwhile): resolve again.
 */
async function createAccount(
  deps: Deps,
  v: VerifiedIdentity,
  email: string,
  fullName?: string,
): Promise<{ user: User; identityId: string } | null> {
  try {
    return await deps.db.transaction(async (tx) => {
      const now = deps.now();
      const [user] = await tx
        .insert(users)
        .values({
          id: crypto.randomUUID(),
          fullName: nameFor(v, email, fullName),
          email,
          password: unusablePassword(),
          role: "student",
          createdAt: now,
          emailVerifiedAt: v.email_verified ? now : null,
        })
        .onConflictDoNothing()
        .returning();
      if (!user) return null;
      const [linked] = await tx
        .insert(identities)
        .values(identityRow(deps, user.id, v))
        .onConflictDoNothing()
        .returning({ id: identities.id });
      if (!linked) throw new LostRace();
      await recordEvent(tx, userCreated(deps, user, v.provider));
      return { user, identityId: linked.id };
    });
  } catch (err) {
    if (err instanceof LostRace) return null;
    throw err;
  }
}

/** The account's password, if it has one, was set after its address was verified: it is the mailbox owner's. */
const passwordAfterProof = (u: Pick<User, "password" | "passwordChangedAt" | "emailVerifiedAt">) =>
  !hasUsablePassword(u.password) ||
  (u.passwordChangedAt !== null && u.emailVerifiedAt !== null && u.passwordChangedAt >= u.emailVerifiedAt);

/**
 * Link to an existing account by a verified email, in one statement that re-checks the rule on
 * the locked row: the account still has this email, it is still verified, and it still has the
 * password judged above, set after the verification (an email change, a revert or a password
 * change committing meanwhile is seen). The new identity's id, or null when the rule no longer
 * holds or the identity was linked concurrently: resolve again.
 */
async function linkByVerifiedEmail(deps: Deps, user: User, v: VerifiedIdentity, email: string): Promise<string | null> {
  const r = identityRow(deps, user.id, v);
  const at = sql`${r.createdAt.toISOString()}::timestamptz`;
  const usable = hasUsablePassword(user.password);
  const rows = await deps.db.execute(sql`
    with u as (
      select ${users.id} as id from ${users}
       where ${users.id} = ${user.id}::uuid and lower(${users.email}) = ${email} and ${users.emailVerifiedAt} is not null
         and ${users.password} = ${user.password}
         and (not ${usable}::boolean or ${users.passwordChangedAt} >= ${users.emailVerifiedAt})
       for share
    )
    , linked as (
      insert into ${identities} (id, user_id, provider, subject, email, email_verified, created_at, last_used_at)
      select ${r.id}::uuid, u.id, ${r.provider}, ${r.subject}, ${r.email}, true, ${at}, ${at} from u
      on conflict (provider, subject) do nothing
      returning id, user_id
    ), ev as (${linkedIdentityEvent(sql`linked`, r.provider, r.createdAt)})
    select id from linked`);
  return rows.length > 0 ? r.id : null;
}

/**
 * The account a verified identity signs in to, by the rules above (creating or linking as they
 * say). Races settle by the unique keys: of concurrent first sign-ins of one identity, one
 * creates the account and the others sign in to it.
 */
export async function resolveAccount(
  deps: Deps,
  meta: RequestMeta,
  v: VerifiedIdentity,
  fullName?: string,
): Promise<{ user: User; created: boolean; identityId: string }> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const linked = await findLinked(deps, v);
    if (linked) {
      await touch(deps, linked.identity.id);
      return { user: linked.user, created: false, identityId: linked.identity.id };
    }
    const email = emailOf(v);
    if (!email) {
      await audit(deps, meta, "oauth_sign_in_failed", "failure", null, { provider: v.provider, reason: "email_missing" });
      throw apiError("oauth_email_missing");
    }
    const local = await findUserByEmail(deps, email);
    if (!local) {
      const created = await createAccount(deps, v, email, fullName);
      if (!created) continue;
      const { user } = created;
      await audit(deps, meta, "registered", "success", user.id, { method: v.provider, email_verified: v.email_verified });
      await audit(deps, meta, "identity_linked", "success", user.id, { provider: v.provider, how: "new_account" });
      // As for every new account: the address is proven by a mailed code unless the provider vouched for it.
      if (!v.email_verified) mailVerificationCode(deps, meta, user);
      return { user, created: true, identityId: created.identityId };
    }
    if (!v.email_verified || !local.emailVerifiedAt) {
      await audit(deps, meta, "identity_link_refused", "blocked", local.id, {
        provider: v.provider,
        reason: v.email_verified ? "account_email_unverified" : "provider_email_unverified",
      });
      throw apiError("account_exists_unverified_link");
    }
    if (!passwordAfterProof(local)) {
      await audit(deps, meta, "identity_link_refused", "blocked", local.id, {
        provider: v.provider,
        reason: "password_predates_verification",
      });
      throw apiError("account_exists_reset_required");
    }
    const identityId = await linkByVerifiedEmail(deps, local, v, email);
    if (identityId) {
      await audit(deps, meta, "identity_linked", "success", local.id, { provider: v.provider, how: "verified_email" });
      // A new way into an existing account: its owner is told, as for every other.
      notifyIdentityLinked(deps, meta, local, { provider: v.provider, email: emailOf(v) });
      return { user: local, created: false, identityId };
    }
  }
  throw new Error("social sign-in: the account did not settle after three attempts");
}

/**
 * POST /oauth/{provider}/link: the caller adds an identity it just proved to its own account,
 * whatever its email, after proving it is the owner (ways-in.ts): the current password (or, without
 * one, a recent sign-in), the second factor if on. The identity is verified first (a refused token
 * spends no recovery code), and an identity of another account is refused before the code is used.
 * Linking one already theirs changes nothing. The address is told of every new link.
 */
export async function linkIdentity(
  deps: Deps,
  meta: RequestMeta,
  auth: Authenticated,
  proof: OwnerProof,
  prove: () => Promise<VerifiedIdentity>,
): Promise<{ identity: Identity; created: boolean }> {
  assertMayAddWayIn(auth.user);
  await confirmOwner(deps, meta, auth, proof.currentPassword, "identity_link_refused");
  const v = await prove();
  const existing = await findLinked(deps, v);
  if (existing && existing.identity.userId === auth.user.id) {
    await touch(deps, existing.identity.id);
    return { identity: existing.identity, created: false };
  }
  if (existing) throw await linkedElsewhere(deps, meta, auth, v);
  await requireMfaCode(deps, meta, auth.user, proof.mfaCode);
  const [row] = await deps.db.transaction(async (tx) => {
    const rows = await tx
      .insert(identities)
      .values(identityRow(deps, auth.user.id, v))
      .onConflictDoNothing({ target: [identities.provider, identities.subject] })
      .returning();
    if (rows[0]) await recordEvent(tx, credentialsChanged(deps, auth.user.id, "identity", "linked", v.provider));
    return rows;
  });
  if (!row) {
    // Linked by a concurrent request: to this account (nothing to do) or to another.
    const now = await findLinked(deps, v);
    if (now?.identity.userId === auth.user.id) return { identity: now.identity, created: false };
    throw await linkedElsewhere(deps, meta, auth, v);
  }
  await audit(deps, meta, "identity_linked", "success", auth.user.id, { provider: v.provider, how: "explicit" });
  notifyIdentityLinked(deps, meta, auth.user, row);
  return { identity: row, created: true };
}

async function linkedElsewhere(deps: Deps, meta: RequestMeta, auth: Authenticated, v: VerifiedIdentity) {
  await audit(deps, meta, "identity_link_refused", "blocked", auth.user.id, { provider: v.provider, reason: "linked_to_another_account" });
  return apiError("identity_already_linked");
}

/** An account's identities, oldest first, read fresh. */
export async function identitiesOf(deps: Deps, userId: string): Promise<Identity[]> {
  const rows = await deps.db
    .select({ identity: identities, fresh: UNCACHED })
    .from(identities)
    .where(eq(identities.userId, userId))
    .orderBy(asc(identities.createdAt), asc(identities.id));
  return rows.map((r) => r.identity);
}

/** The caller's identities, oldest first, and whether the account also has a usable password. */
export async function listIdentities(deps: Deps, auth: Authenticated): Promise<{ identities: Identity[]; hasPassword: boolean }> {
  return { identities: await identitiesOf(deps, auth.user.id), hasPassword: hasUsablePassword(auth.user.password) };
}

type Unlinked = Identity | "not_found" | "last";

/**
 * Remove the identity in a transaction with the account row locked, then check by the ways-in
 * registry that the account still holds a way to sign in (a usable password, another identity, a
 * passkey...): if not, roll back ("last"). With `commit` false it is only a trial, always rolled
 * back: the answer without any change. Two unlinks racing for the last two ways in take turns on
 * the lock, and the second sees what the first left.
 */
async function unlink(deps: Deps, userId: string, id: string, commit: boolean): Promise<Unlinked> {
  let outcome: Unlinked = "not_found";
  try {
    await deps.db.transaction(async (tx) => {
      const [account] = await tx.select({ id: users.id, fresh: UNCACHED }).from(users).where(eq(users.id, userId)).for("update");
      if (!account) return;
      // The sessions resting on the identity end with it (deleted by the cascade below): their events first.
      await endIdentitySessions(withDb(deps, tx as unknown as Db), userId, id, "identity_unlinked");
      const [target] = await tx
        .delete(identities)
        .where(and(eq(identities.id, id), eq(identities.userId, userId)))
        .returning();
      if (!target) return;
      outcome = (await holdsWayIn(tx as unknown as Db, userId)) ? target : "last";
      if (outcome !== "last") await recordEvent(tx, credentialsChanged(deps, userId, "identity", "unlinked", target.provider));
      if (outcome === "last" || !commit) tx.rollback();
    });
  } catch (err) {
    if (!(err instanceof TransactionRollbackError)) throw err;
  }
  return outcome;
}

/**
 * DELETE /identities/{id}: a credential change (the owner's proof as for linking, src/auth/account/credential-change.ts),
 * and never the account's last way to sign in. Sessions signed in with the identity end with it
 * (auth_sessions.identity_id ON DELETE CASCADE); the address is told.
 */
export async function unlinkIdentity(deps: Deps, meta: RequestMeta, auth: Authenticated, id: string, proof: OwnerProof): Promise<Identity> {
  const refuse = async (refusal: "not_found" | "last") => {
    if (refusal === "not_found") return apiError("identity_not_found");
    await audit(deps, meta, "identity_unlinked", "blocked", auth.user.id, { reason: "last_sign_in_method" });
    return apiError("last_sign_in_method");
  };
  // Tried before any proof is asked for (and decided again under the lock): a refused unlink spends no code.
  const trial = await unlink(deps, auth.user.id, id, false);
  if (typeof trial === "string") throw await refuse(trial);
  await confirmOwner(deps, meta, auth, proof.currentPassword, "identity_unlinked");
  await requireMfaCode(deps, meta, auth.user, proof.mfaCode);
  const outcome = await unlink(deps, auth.user.id, id, true);
  if (typeof outcome === "string") throw await refuse(outcome);
  await audit(deps, meta, "identity_unlinked", "success", auth.user.id, { provider: outcome.provider });
  notifyIdentityUnlinked(deps, meta, auth.user, outcome);
  return outcome;
}

/**
 * A password reset proves the mailbox and sets a password: identities whose provider never vouched
 * for their email go (on the reset's transaction). Otherwise whoever signed in with a provider
 * account claiming someone else's address, creating the account, would keep a way in after its
 * real owner took it back by reset.
 */
export async function dropUnprovenIdentities(db: Db, userId: string, at: Date): Promise<number> {
  const gone = await db
    .delete(identities)
    .where(and(eq(identities.userId, userId), eq(identities.emailVerified, false)))
    .returning({ id: identities.id, provider: identities.provider });
  await recordEvent(db, ...gone.map((i) => credentialsChanged({ now: () => at }, userId, "identity", "removed", i.provider)));
  return gone.length;
}
