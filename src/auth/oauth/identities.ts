import { and, asc, eq, sql } from "drizzle-orm";
import type { Db } from "../../db/client";
import { UNCACHED } from "../../db/client";
import { type Identity, identities, type User, users } from "../../db/schema";
import type { Deps, RequestMeta } from "../../deps";
import { apiError } from "../../errors";
import { audit } from "../audit";
import { mailVerificationCode } from "../email-verification";
import { hasUsablePassword, unusablePassword } from "../password";
import type { Authenticated } from "../sessions";
import { findUserByEmail, normalizeEmail } from "../users";
import type { VerifiedIdentity } from "./id-token";

/**
 * Which account a verified provider identity signs in to, and the linking rules:
 * - a known identity (provider, sub) signs in to its account, whatever its email says now;
 * - a new identity whose email no account has creates one (role student, email verified as the
 *   provider says, no usable password);
 * - a new identity whose email an account has is linked to it only if the provider says the
 *   email is verified AND the account's email is verified; otherwise 409
 *   account_exists_unverified_link: someone who registered an address they do not own (an
 *   unverified account) must never receive its real owner's provider identity, and an identity
 *   whose email nobody proved must never enter an existing account. The owner logs in with the
 *   password and links from there (linkIdentity).
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
async function createAccount(deps: Deps, v: VerifiedIdentity, email: string, fullName?: string): Promise<User | null> {
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
      return user;
    });
  } catch (err) {
    if (err instanceof LostRace) return null;
    throw err;
  }
}

/**
 * Link to an existing account by a verified email, in one statement that re-checks the rule on
 * the locked row: the account still has this email and it is still verified (an email change or
 * revert committing meanwhile is seen). False when the rule no longer holds or the identity was
 * linked concurrently: resolve again.
 */
async function linkByVerifiedEmail(deps: Deps, user: User, v: VerifiedIdentity, email: string): Promise<boolean> {
  const r = identityRow(deps, user.id, v);
  const at = sql`${r.createdAt.toISOString()}::timestamptz`;
  const rows = await deps.db.execute(sql`
    with u as (
      select ${users.id} as id from ${users}
       where ${users.id} = ${user.id}::uuid and lower(${users.email}) = ${email} and ${users.emailVerifiedAt} is not null
       for share
    )
    insert into ${identities} (id, user_id, provider, subject, email, email_verified, created_at, last_used_at)
    select ${r.id}::uuid, u.id, ${r.provider}, ${r.subject}, ${r.email}, true, ${at}, ${at} from u
    on conflict (provider, subject) do nothing
    returning id`);
  return rows.length > 0;
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
): Promise<{ user: User; created: boolean }> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const linked = await findLinked(deps, v);
    if (linked) {
      await touch(deps, linked.identity.id);
      return { user: linked.user, created: false };
    }
    const email = emailOf(v);
    if (!email) {
      await audit(deps, meta, "oauth_sign_in_failed", "failure", null, { provider: v.provider, reason: "email_missing" });
      throw apiError("oauth_email_missing");
    }
    const local = await findUserByEmail(deps, email);
    if (!local) {
      const user = await createAccount(deps, v, email, fullName);
      if (!user) continue;
      await audit(deps, meta, "registered", "success", user.id, { method: v.provider, email_verified: v.email_verified });
      await audit(deps, meta, "identity_linked", "success", user.id, { provider: v.provider, how: "new_account" });
      // As for every new account: the address is proven by a mailed code unless the provider vouched for it.
      if (!v.email_verified) mailVerificationCode(deps, meta, user);
      return { user, created: true };
    }
    if (!v.email_verified || !local.emailVerifiedAt) {
      await audit(deps, meta, "identity_link_refused", "blocked", local.id, {
        provider: v.provider,
        reason: v.email_verified ? "account_email_unverified" : "provider_email_unverified",
      });
      throw apiError("account_exists_unverified_link");
    }
    if (await linkByVerifiedEmail(deps, local, v, email)) {
      await audit(deps, meta, "identity_linked", "success", local.id, { provider: v.provider, how: "verified_email" });
      return { user: local, created: false };
    }
  }
  throw new Error("social sign-in: the account did not settle after three attempts");
}

/**
 * POST /oauth/{provider}/link: the caller (signed in, recently) adds an identity they just proved
 * to their own account, whatever its email. Linking one already theirs changes nothing; one of
 * another account is refused.
 */
export async function linkIdentity(
  deps: Deps,
  meta: RequestMeta,
  auth: Authenticated,
  v: VerifiedIdentity,
): Promise<{ identity: Identity; created: boolean }> {
  const [row] = await deps.db
    .insert(identities)
    .values(identityRow(deps, auth.user.id, v))
    .onConflictDoNothing({ target: [identities.provider, identities.subject] })
    .returning();
  if (row) {
    await audit(deps, meta, "identity_linked", "success", auth.user.id, { provider: v.provider, how: "explicit" });
    return { identity: row, created: true };
  }
  const existing = await findLinked(deps, v);
  if (existing && existing.identity.userId === auth.user.id) {
    await touch(deps, existing.identity.id);
    return { identity: existing.identity, created: false };
  }
  await audit(deps, meta, "identity_link_refused", "blocked", auth.user.id, { provider: v.provider, reason: "linked_to_another_account" });
  throw apiError("identity_already_linked");
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

/**
 * DELETE /identities/{id}: never the account's last way to sign in (a usable password, or another
 * identity). The account row is locked first, so two unlinks racing for the last two identities
 * are decided one after the other, and the second sees what the first left.
 */
export async function unlinkIdentity(deps: Deps, meta: RequestMeta, auth: Authenticated, id: string): Promise<Identity> {
  const outcome = await deps.db.transaction(async (tx) => {
    const [account] = await tx
      .select({ password: users.password, fresh: UNCACHED })
      .from(users)
      .where(eq(users.id, auth.user.id))
      .for("update");
    if (!account) return "not_found" as const;
    const mine = (
      await tx.select({ identity: identities, fresh: UNCACHED }).from(identities).where(eq(identities.userId, auth.user.id))
    ).map((r) => r.identity);
    const target = mine.find((i) => i.id === id);
    if (!target) return "not_found" as const;
    if (mine.length === 1 && !hasUsablePassword(account.password)) return "last" as const;
    await tx.delete(identities).where(and(eq(identities.id, id), eq(identities.userId, auth.user.id)));
    return target;
  });
  if (outcome === "not_found") throw apiError("identity_not_found");
  if (outcome === "last") {
    await audit(deps, meta, "identity_unlinked", "blocked", auth.user.id, { reason: "last_sign_in_method" });
    throw apiError("last_sign_in_method");
  }
  await audit(deps, meta, "identity_unlinked", "success", auth.user.id, { provider: outcome.provider });
  return outcome;
}

/**
 * A password reset proves the mailbox and sets a password: identities whose provider never vouched
 * for their email go (on the reset's transaction). Otherwise whoever signed in with a provider
 * account claiming someone else's address, creating the account, would keep a way in after its
 * real owner took it back by reset.
 */
export async function dropUnprovenIdentities(db: Db, userId: string): Promise<number> {
  const gone = await db
    .delete(identities)
    .where(and(eq(identities.userId, userId), eq(identities.emailVerified, false)))
    .returning({ id: identities.id });
  return gone.length;
}
