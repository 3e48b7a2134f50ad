import type { SQL } from "drizzle-orm";
import type { User } from "../../db/schema";
import type { Deps, RequestMeta } from "../../deps";
import { assertMaySignIn } from "../account/status";
import { type AuditDetail, type AuditEvent, audit, auditWith } from "../audit";
import { issueChallenge } from "../mfa/challenge";
import { type SessionGrounds, startSession, type TokenPair } from "../sessions/sessions";
import { amrOf, assess, completingFactors, type FirstFactor, type Proof, type SecondFactor } from "./ways-in";

export type SignInResult =
  | { kind: "session"; user: User; tokens: TokenPair }
  /** The account has a second factor this sign-in did not prove: no session yet, the client continues at POST /auth/mfa/verify. */
  | { kind: "mfa_required"; user: User; mfaToken: string; expiresIn: number; methods: readonly SecondFactor[] };

export interface SignIn extends Proof<FirstFactor> {
  /** What the session rests on (re-checked atomically when it is inserted). */
  grounds?: SessionGrounds;
  /** A statement to run in the session's, whether or not a session starts (e.g. clearing the login throttle). */
  alongside?: SQL;
  /** The audit event of the success (default login_succeeded). */
  event?: AuditEvent;
  /** More detail for that audit row. */
  detail?: AuditDetail | null;
  /** Set only by the MFA verify (src/auth/mfa/verify.ts): the second factor was proven. */
  secondFactor?: Proof<SecondFactor>;
}

const amrOfProof = (p: Proof<FirstFactor | SecondFactor>) => p.amr ?? amrOf(p.method);

/**
 * Every way of getting a session ends here, whatever proved the user's identity (a password, a
 * mailed code, a social identity, a second factor after any of them), so no sign-in method can
 * skip a rule: the account's status first, then the session, conditional on its grounds still
 * holding. A sign-in whose proofs are not multi-factor (by the ways-in registry) gets a session
 * only if the account holds no second factor (checked in the same statement); otherwise the
 * answer is an MFA challenge (an mfa_token bound to these grounds, offering the second factors
 * the account holds) and the session starts only after POST /auth/mfa/verify, which comes back here.
 */
export async function completeSignIn(deps: Deps, meta: RequestMeta, user: User, s: SignIn): Promise<SignInResult> {
  await assertMaySignIn(deps, meta, user);
  const amr = [...amrOfProof(s), ...(s.secondFactor ? amrOfProof(s.secondFactor) : [])];
  const enough = assess(amr).multiFactor;
  const grounds: SessionGrounds = { ...s.grounds, ...(enough ? {} : { withoutSecondFactor: true }) };
  const second: AuditDetail = s.secondFactor ? { second_factor: s.secondFactor.method } : {};
  // The success's audit row is written by the session's own statement, with the session (none
  // when the grounds no longer hold or a second factor is due), in the same round trip.
  const success = {
    event: s.event ?? "login_succeeded",
    outcome: "success",
    userId: user.id,
    detail: { method: s.method, ...second, amr: amr.join(" "), ...s.detail },
  } as const;
  const started = await startSession(deps, meta, user, grounds, amr, (session) => [
    auditWith(deps, meta, success, session),
    ...(s.alongside ? [s.alongside] : []),
  ]);
  if (started.kind === "second_factor_required") {
    const challenge = await issueChallenge(deps, user, { method: s.method, amr: amrOfProof(s), grounds: s.grounds ?? {} });
    deps.waitUntil(audit(deps, meta, "mfa_challenge_issued", "success", user.id, { method: s.method }));
    // Offered: the second factors held that make this sign-in two kinds of factor (ways-in registry).
    const methods = completingFactors(amrOfProof(s), started.methods);
    return { kind: "mfa_required", user, mfaToken: challenge.token, expiresIn: challenge.expiresIn, methods };
  }
  return { kind: "session", user, tokens: started.tokens };
}
