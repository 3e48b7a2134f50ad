import { expect } from "vitest";
import type { Registered } from "./accounts";
import type { fakeClock } from "./clock";
import { withDb } from "./db";
import { enableMfa, loginWithMfa, type MfaAccount, mfaAccount } from "./mfa";
import { type CallOptions, call, json } from "./worker";

type Clock = ReturnType<typeof fakeClock>;

export interface AdminAccount extends MfaAccount {
  /** A session signed in with the password and a TOTP code (amr pwd+otp), at the clock's time. */
  token: string;
  refreshToken: string;
}

/** Give an account a role straight in the database (no HTTP route grants admin). */
export const setRole = (id: string, role: string) => withDb((sql) => sql`update users set role = ${role} where id = ${id}`);

/**
 * An admin as the tests make one: a registered account promoted in the database, TOTP enrolled
 * through the real endpoints, then logged in with the password and a code.
 */
export async function adminAccount(clock: Clock): Promise<AdminAccount> {
  const account = await mfaAccount(clock);
  await setRole(account.user.user.id, "admin");
  const session = await loginWithMfa(account, clock);
  return { ...account, token: session.access_token, refreshToken: session.refresh_token };
}

/**
 * An admin whose factor is on but whose session was signed in with the password only (amr pwd):
 * the session that enrolled the factor, which predates it. `token` is that session's.
 */
export async function adminWithoutOtpSession(clock: Clock, user: Registered): Promise<MfaAccount & { token: string }> {
  await setRole(user.user.id, "admin");
  const { token, refreshToken: _, ...mfa } = await enableMfa(user.access_token, clock);
  return { user, ...mfa, token };
}

/** A call to the admin API with an admin's token at the clock's time. */
export const adminCall = (path: string, token: string, clock: Clock, opts: CallOptions = {}) =>
  call(`/auth/admin${path}`, { token, now: clock.now, ...opts });

/** GET that must succeed: the body. */
export async function adminGet(path: string, token: string, clock: Clock) {
  const res = await adminCall(path, token, clock);
  expect(res.status, await res.clone().text()).toBe(200);
  return json(res);
}

/** The audit rows an admin wrote (actor_id), oldest first. */
export const adminAuditRows = (actorId: string) =>
  withDb((sql) => sql`select id, event, outcome, user_id, actor_id, detail from auth_audit_events where actor_id = ${actorId} order by id`);
