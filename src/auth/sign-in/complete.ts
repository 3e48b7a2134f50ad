import type { User } from "../../db/schema";
import type { Deps, RequestMeta } from "../../deps";
import { assertMaySignIn } from "../account/status";
import { type AuditDetail, type AuditEvent, audit } from "../audit";
import { issueChallenge, MFA_METHODS, type MfaMethod } from "../mfa/challenge";
import { SecondFactorRequired, type SessionGrounds, startSession, type TokenPair } from "../sessions/sessions";

/**
 * How the user proved who they are: the first entry of the session's `amr`. `pwd` is RFC 8176's;
 * a social sign-in records its provider (`google`, `apple`: RFC 8176 has no value for "federated",
 * and the provider says more), so `["google", "otp"]` after its second factor.
 */
export type SignInMethod = "pwd" | "google" | "apple";

export type SignInResult =
  | { kind: "session"; user: User; tokens: TokenPair }
  /** The account has an active second factor: no session yet, the client continues at POST /auth/mfa/verify. */
  | { kind: "mfa_required"; user: User; mfaToken: string; expiresIn: number; methods: readonly MfaMethod[] };

export interface SignIn {
  method: SignInMethod;
  /** What the session rests on (re-checked atomically when it is inserted). */
  grounds?: SessionGrounds;
  /** Runs pipelined with the session insert (e.g. clearing the login throttle). */
  alongside?: Promise<unknown>;
  /** The audit event of the success (default login_succeeded). */
  event?: AuditEvent;
  /** More detail for that audit row. */
  detail?: AuditDetail | null;
  /** Set only by the MFA verify (src/auth/mfa/verify.ts): the second factor was proven. */
  secondFactor?: "otp";
}

/**
 * Every way of getting a session ends here, whatever proved the user's identity (a password
 * today; an emailed code or a social identity later), so no sign-in method can skip a rule:
 * the account's status first, then the session, conditional on its grounds still holding. A
 * sign-in that did not prove a second factor gets a session only if the account has none active
 * (in the same statement); otherwise the answer is an MFA challenge (an mfa_token bound to these
 * grounds) and the session starts only after POST /auth/mfa/verify, which comes back here.
 */
export async function completeSignIn(deps: Deps, meta: RequestMeta, user: User, s: SignIn): Promise<SignInResult> {
  const alongside = s.alongside ?? Promise.resolve();
  alongside.catch(() => {}); // awaited below; never an unhandled rejection if a rule refuses first
  await assertMaySignIn(deps, meta, user);
  const amr = s.secondFactor ? [s.method, s.secondFactor] : [s.method];
  const grounds: SessionGrounds = { ...s.grounds, ...(s.secondFactor ? {} : { withoutActiveFactor: true }) };
  let tokens: TokenPair;
  try {
    [tokens] = await Promise.all([startSession(deps, meta, user, grounds, amr), alongside]);
  } catch (err) {
    if (!(err instanceof SecondFactorRequired)) throw err;
    await alongside;
    const challenge = await issueChallenge(deps, user, { method: s.method, grounds: s.grounds ?? {} });
    deps.waitUntil(audit(deps, meta, "mfa_challenge_issued", "success", user.id, { method: s.method }));
    return { kind: "mfa_required", user, mfaToken: challenge.token, expiresIn: challenge.expiresIn, methods: MFA_METHODS };
  }
  deps.waitUntil(
    audit(deps, meta, s.event ?? "login_succeeded", "success", user.id, { method: s.method, amr: amr.join(" "), ...s.detail }),
  );
  return { kind: "session", user, tokens };
}
