import { sql } from "drizzle-orm";
import type { Db } from "../../db/client";
import { oneTimeCodes, type User, users } from "../../db/schema";
import type { Deps, RequestMeta } from "../../deps";
import { apiError } from "../../errors";
import { sha256Hex } from "../../lib/encoding";
import { handOver, handoverDetail } from "../account/owner";
import { audit } from "../audit";
import { credentialsChanged, emailVerified, recordEvent } from "../events/outbox";
import { hashPassword, scryptParams } from "../password/hash";
import { withHashAdmission } from "../password/hash-admission";
import { assertAcceptableNewPassword } from "../password/new-password";
import { clearThrottle, throttleKey } from "../throttle";

/**
 * The first admin's setup (docs/admin.md). `npm run create-admin` (scripts/ops/create-admin.ts) makes
 * or promotes the account and stores a setup token for it: 256 random bits, printed once, stored
 * only as SHA-256 in auth_one_time_codes under the purpose `admin_setup`, with a long lifetime.
 * Unlike the mailed 6-digit codes (CODE_PURPOSES), it is not guessable, so it needs no guess
 * throttle, and it is hashed without AUTH_SECRET: the command runs on an operator's machine, which
 * does not hold the Worker's secrets. The purge removes it like any dead code once used or expired.
 *
 * Redeeming it sets the account's password (then: log in, enroll MFA, log in with it). It never
 * grants a role: the account was made admin by the command, with database access, not over HTTP.
 */
const ADMIN_SETUP_PURPOSE = "admin_setup";

export async function completeAdminSetup(deps: Deps, meta: RequestMeta, token: string, newPassword: string): Promise<User> {
  await assertAcceptableNewPassword(deps, newPassword, "new_password");
  const hash = await sha256Hex(token);
  const password = await withHashAdmission(deps.config, 1, () => hashPassword(newPassword, scryptParams(deps.config)));
  const now = deps.now();
  const at = sql`${now.toISOString()}::timestamptz`;
  const done = await deps.db.transaction(async (tx) => {
    // One statement consumes the token (single use under any concurrency) and updates its admin.
    const rows = await tx.execute<{ id: string; newly_verified: boolean }>(sql`
      with code as (
        update ${oneTimeCodes} set consumed_at = ${at}, attempts = attempts + 1
         where purpose = ${ADMIN_SETUP_PURPOSE} and code_hash = ${hash} and consumed_at is null and expires_at > ${at}
        returning user_id
      )
      update ${users} set password = ${password}, password_changed_at = ${at},
             email_verified_at = coalesce(email_verified_at, ${at})
        from code
       where ${users.id} = code.user_id and ${users.role} = 'admin' and ${users.status} = 'active'
      returning ${users.id} as id, ${users.emailVerifiedAt} = ${at} as newly_verified`);
    const id = rows[0]?.id;
    if (!id) return null;
    // The operator vouched for the address and the setup token reached its owner: a change of
    // owner (src/auth/account/owner.ts). Every session, identity, factor, passkey and recovery code
    // added before it goes: a stranger who registered the address first keeps nothing.
    const handover = await handOver(deps, tx as unknown as Db, id, "admin_setup");
    await recordEvent(tx, credentialsChanged(deps, id, "password", "set"), ...(rows[0].newly_verified ? [emailVerified(id, now)] : []));
    const [row] = await tx.select().from(users).where(sql`${users.id} = ${id}`);
    return { row, handover };
  });
  if (!done) {
    await audit(deps, meta, "admin_setup_failed", "failure", null, { reason: "invalid_token" });
    throw apiError("setup_token_invalid");
  }
  const user = done.row;
  // A locked-out login of this address is lifted: the operator vouched for the account.
  await clearThrottle(deps, await throttleKey(deps, "login", user.email));
  await audit(deps, meta, "admin_setup_completed", "success", user.id, handoverDetail(done.handover));
  return user;
}
