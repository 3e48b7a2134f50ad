// The database part of `npm run create-admin` (scripts/ops/create-admin.ts): make or promote an
// admin account and store a one-time setup token for it. Plain TypeScript over a postgres.js
// client and Web Crypto, so the Node command and the Worker tests run the same code.
//
// The token is 256 random bits (base64url), returned once and stored only as its SHA-256 in
// auth_one_time_codes (purpose `admin_setup`); POST /auth/account/setup redeems it
// (src/auth/admin/setup.ts). Hashed without AUTH_SECRET on purpose: the operator's machine does
// not hold the Worker's secrets, and a token this long needs no keyed hash or guess throttle.
import type postgres from "postgres";

const SETUP_PURPOSE = "admin_setup";
export const DEFAULT_SETUP_TTL_SECONDS = 72 * 3600;
export const SETUP_PATH = "/auth/account/setup";

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export class CreateAdminError extends Error {}

const b64url = (bytes: Uint8Array) =>
  btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, "-")
    .replace(/\//g, "_")
    .replace(/=+$/, "");
const sha256Hex = async (text: string) =>
  [...new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)))]
    .map((b) => b.toString(16).padStart(2, "0"))
    .join("");
const hex = (bytes: Uint8Array) => [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");

export interface CreatedAdmin {
  id: string;
  email: string;
  created: boolean;
  reactivated: boolean;
  previousRole: string | null;
  /** Shown once; only its SHA-256 is stored. */
  token: string;
  expiresAt: Date;
}

/**
 * In one transaction: find the account by email (case-insensitive) or create it (no usable
 * password: Django's "!" convention, as src/auth/password/hash.ts), make it admin (a pending
 * instructor request is settled with it), replace any live setup token with a new one, and write
 * the `admin_granted` audit row. Accounts being deleted are refused; a suspended one only with
 * `reactivate`. An existing account is promoted only when its address is verified AND the operator
 * passes `existing` (--existing): otherwise whoever registered the address first (not necessarily its
 * owner) would be promoted with their password, factors and identities. Either way the setup token
 * is what gives the account to its owner: the setup is a change of owner (src/auth/account/owner.ts).
 * Returns the token and what happened.
 */
export async function createAdmin(
  sql: postgres.Sql,
  {
    email: rawEmail,
    name,
    ttlSeconds = DEFAULT_SETUP_TTL_SECONDS,
    reactivate = false,
    existing: promoteExisting = false,
    now = new Date(),
  }: { email: string; name?: string; ttlSeconds?: number; reactivate?: boolean; existing?: boolean; now?: Date },
): Promise<CreatedAdmin> {
  const email = String(rawEmail ?? "")
    .trim()
    .toLowerCase();
  if (!EMAIL.test(email) || email.length > 255) throw new CreateAdminError(`not an email address: ${JSON.stringify(rawEmail)}`);
  const fullName = (name ?? "Administrator").trim().slice(0, 100) || "Administrator";
  const token = b64url(crypto.getRandomValues(new Uint8Array(32)));
  const codeHash = await sha256Hex(token);
  const expiresAt = new Date(now.getTime() + ttlSeconds * 1000);
  return sql.begin(async (tx) => {
    const [existing] = await tx<
      { id: string; role: string; status: string; email_verified_at: Date | null; password: string; requested_role: string | null }[]
    >`select id, role, status, email_verified_at, password, requested_role from users where lower(email) = ${email} for update`;
    let id: string;
    let created = false;
    let reactivated = false;
    if (existing) {
      if (existing.status === "deletion_pending" || existing.status === "deleted")
        throw new CreateAdminError(`${email} is being deleted (status ${existing.status}); it cannot be made admin`);
      // An admin this command made and nobody has set up yet (no password): a new token replaces the old.
      const pendingSetup = existing.role === "admin" && existing.password.startsWith("!");
      if (!pendingSetup && !existing.email_verified_at)
        throw new CreateAdminError(
          `${email} already has an account whose address was never verified: whoever registered it may not own the mailbox. ` +
            "Ask the owner to verify the address (or reset the password) first, then run again with --existing",
        );
      if (!pendingSetup && !promoteExisting)
        throw new CreateAdminError(
          `${email} already has an account (role ${existing.role}). To make that account an admin, run again with --existing; ` +
            "its setup token then replaces its sessions, identities and factors",
        );
      if (existing.status === "suspended" && !reactivate)
        throw new CreateAdminError(`${email} is suspended; pass --reactivate to make it an active admin`);
      id = existing.id;
      reactivated = existing.status !== "active";
      await tx`update users set role = 'admin', requested_role = null, status = 'active' where id = ${id}`;
    } else {
      id = crypto.randomUUID();
      created = true;
      const unusable = `!${hex(crypto.getRandomValues(new Uint8Array(20)))}`;
      await tx`insert into users (id, full_name, email, password, role, created_at)
               values (${id}, ${fullName}, ${email}, ${unusable}, 'admin', ${now})`;
    }
    await tx`delete from auth_one_time_codes where user_id = ${id} and purpose = ${SETUP_PURPOSE} and consumed_at is null`;
    await tx`insert into auth_one_time_codes (id, user_id, purpose, code_hash, created_at, expires_at)
             values (${crypto.randomUUID()}, ${id}, ${SETUP_PURPOSE}, ${codeHash}, ${now}, ${expiresAt})`;
    // The identity events other services follow (src/auth/events/types.ts), in this transaction.
    const events: [string, Record<string, unknown>][] = [];
    if (created) events.push(["user.created", { role: "admin", method: "create_admin" }]);
    else if (existing) {
      const fields = [...(existing.role !== "admin" ? ["role"] : []), ...(existing.requested_role !== null ? ["requested_role"] : [])];
      if (fields.length) events.push(["user.updated", { fields }]);
      if (existing.role !== "admin") events.push(["role.changed", { from: existing.role, to: "admin" }]);
      if (reactivated) events.push(["user.reactivated", {}]);
    }
    for (const [type, data] of events)
      await tx`insert into auth_events (id, type, at, user_id, actor_type, actor_id, data)
               values (${crypto.randomUUID()}, ${type}, ${now}, ${id}, 'system', null, ${tx.json(data as postgres.JSONValue)})`;
    const detail = { via: "create-admin", created, role_from: existing?.role ?? null, reactivated };
    await tx`insert into auth_audit_events (at, event, outcome, user_id, request_id, detail)
             values (${now}, 'admin_granted', 'success', ${id}, 'create-admin', ${tx.json(detail)})`;
    return { id, email, created, reactivated, previousRole: existing?.role ?? null, token, expiresAt };
  });
}
