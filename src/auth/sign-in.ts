import type { User } from "../db/schema";
import type { Deps, RequestMeta } from "../deps";
import { assertMaySignIn } from "./account-status";
import { type AuditEvent, audit } from "./audit";
import { type SessionGrounds, startSession, type TokenPair } from "./sessions";

/** How the user proved who they are (becomes the session's `amr`). */
export type SignInMethod = "pwd";

export type SignInResult = { kind: "session"; user: User; tokens: TokenPair };

export interface SignIn {
  method: SignInMethod;
  /** What the session rests on (re-checked atomically when it is inserted). */
  grounds?: SessionGrounds;
  /** Runs pipelined with the session insert (e.g. clearing the login throttle). */
  alongside?: Promise<unknown>;
  /** The audit event of the success (default login_succeeded). */
  event?: AuditEvent;
}

/**
 * Every way of getting a session ends here, whatever proved the user's identity (a password
 * today; an emailed code or a social identity later), so no sign-in method can skip a rule:
 * the account's status first, then the session, conditional on its grounds still holding.
 */
export async function completeSignIn(deps: Deps, meta: RequestMeta, user: User, s: SignIn): Promise<SignInResult> {
  const alongside = s.alongside ?? Promise.resolve();
  alongside.catch(() => {}); // awaited below; never an unhandled rejection if a rule refuses first
  await assertMaySignIn(deps, meta, user);
  const [tokens] = await Promise.all([startSession(deps, meta, user, s.grounds), alongside]);
  deps.waitUntil(audit(deps, meta, s.event ?? "login_succeeded", "success", user.id, { method: s.method }));
  return { kind: "session", user, tokens };
}
