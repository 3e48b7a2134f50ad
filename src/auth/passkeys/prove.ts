import type { Passkey, User } from "../../db/schema";
import type { Deps, RequestMeta } from "../../deps";
import { apiError, type ErrorCode } from "../../errors";
import { type AuditDetail, type AuditEvent, audit } from "../audit";
import { type Assertion, type AuthenticationResponse, CeremonyRefused, passkeyAmr, type RelyingParty, verifyAssertion } from "./ceremonies";
import { advanceCounter, findByCredentialId } from "./store";

/**
 * The one check of a passkey assertion, for signing in with it and for a second factor, after the
 * caller used up the ceremony's challenge (challenges.ts). In order:
 * 1. the passkey is looked up by the credential id the response names (and, for a second factor,
 *    must be one of the account's): unknown answers `passkey_unknown` with that `credential_id`, so
 *    the client can tell the device to forget it (PublicKeyCredential.signalUnknownCredential);
 * 2. a user handle in the response must be the account's;
 * 3. the signature over this site's origin, RP id and the challenge (ceremonies.ts);
 * 4. only then the sign counter, moved forward in one statement (store.ts): a regression refuses.
 * Every refusal is audited (`event`, with the reason); the account's state is the caller's
 * (completeSignIn refuses a suspended or deleted one).
 */
export interface Proven {
  user: User;
  passkey: Passkey;
  assertion: Assertion;
  /** The amr values this ceremony proves (ways-in registry): `hwk` or `swk`, and `user` when verified. */
  amr: string[];
}

export interface ProofScope {
  /** Audit event of a refusal, and its context detail. */
  event: Extract<AuditEvent, "passkey_sign_in_failed" | "mfa_failed">;
  detail: AuditDetail;
  /** Only this account's passkeys count (a second factor). */
  userId?: string;
}

const REFUSALS: Record<string, { code: ErrorCode; outcome: "failure" | "blocked" }> = {
  unknown_credential: { code: "passkey_unknown", outcome: "failure" },
  user_handle_mismatch: { code: "passkey_invalid", outcome: "failure" },
  challenge_mismatch: { code: "passkey_challenge_invalid", outcome: "failure" },
  counter_regression: { code: "passkey_counter_regressed", outcome: "blocked" },
};

export async function provePasskey(
  deps: Deps,
  meta: RequestMeta,
  rp: RelyingParty,
  response: AuthenticationResponse,
  challenge: string,
  scope: ProofScope,
): Promise<Proven> {
  const refuse = async (reason: string, userId: string | null, extra: AuditDetail = {}) => {
    const r = REFUSALS[reason] ?? { code: "passkey_invalid" as const, outcome: "failure" as const };
    await audit(deps, meta, scope.event, r.outcome, userId, { ...scope.detail, method: "passkey", reason, ...extra });
    return apiError(r.code, reason === "unknown_credential" ? { fields: { credential_id: response.id } } : undefined);
  };
  const found = await findByCredentialId(deps, response.id);
  if (!found || (scope.userId && found.user.id !== scope.userId)) throw await refuse("unknown_credential", scope.userId ?? null);
  const { passkey, user } = found;
  const handle = response.response.userHandle;
  if (handle && handle !== user.webauthnUserId) throw await refuse("user_handle_mismatch", user.id, { passkey: passkey.id });
  let assertion: Assertion;
  try {
    assertion = await verifyAssertion(rp, response, challenge, passkey);
  } catch (err) {
    if (!(err instanceof CeremonyRefused)) throw err;
    deps.log("warn", "passkey assertion refused", { reason: err.reason, detail: err.detail });
    throw await refuse(err.reason, user.id, { passkey: passkey.id });
  }
  if (!(await advanceCounter(deps.db, passkey.id, assertion.signCount, assertion.backedUp, deps.now())))
    throw await refuse("counter_regression", user.id, { passkey: passkey.id, sign_count: assertion.signCount });
  return { user, passkey, assertion, amr: passkeyAmr(assertion) };
}
