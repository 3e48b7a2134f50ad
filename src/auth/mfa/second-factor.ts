import type { Db } from "../../db/client";
import type { MfaFactor, User } from "../../db/schema";
import type { Deps, RequestMeta } from "../../deps";
import { apiError } from "../../errors";
import { msg } from "../../i18n/messages";
import { describeError } from "../../log";
import { audit } from "../audit";
import type { SecondFactor } from "../sign-in/ways-in";
import { clearThrottle, mfaGuessPolicy, reserve, throttleKey } from "../throttle";
import { acceptStep } from "./factors";
import { notifyRecoveryCodeUsed } from "./notices";
import { normalizeRecoveryCode, recoveryCodeHash, remainingRecoveryCodes, useRecoveryCode } from "./recovery-codes";
import { decryptSecret } from "./secrets";
import { matchingStep } from "./totp";

/** What the caller typed as its second factor. */
export type Proof = { code: string } | { recoveryCode: string };
/** The way in (src/auth/sign-in/ways-in.ts) a typed code proves. */
export type ProofKind = Extract<SecondFactor, "totp" | "recovery_code">;

/** Where a code was checked (audit detail): signing in, confirming, disabling, regenerating, a sensitive change. */
export type ProofContext = "sign_in" | "confirm" | "disable" | "regenerate" | "step_up";

/** A 6-digit code (spaces allowed) is a TOTP code; anything else is taken for a recovery code. */
export const proofOf = (typed: string): Proof => (/^\s*\d{3}\s?\d{3}\s*$/.test(typed) ? { code: typed } : { recoveryCode: typed });

const THROTTLED = msg("error.too_many_requests.code_guesses");

class CodeAlreadyUsed extends Error {}

/**
 * The one check of a second-factor code, for every route that takes one. In order:
 * 1. the account's guess budget is reserved (src/auth/throttle.ts, MFA_FREE_FAILURES, then
 *    doubling delays): a delayed attempt answers 429 without comparing anything, so 50 parallel
 *    wrong codes compare at most the free number;
 * 2. the code is compared (TOTP: every step of the window, constant time; recovery code: its keyed
 *    hash), without touching the database;
 * 3. a match is used atomically (the TOTP step moves forward / the recovery code is marked used)
 *    and `act` runs in the same transaction, so what the code unlocks happens exactly once: if
 *    `act` throws, the code stays unused.
 * A right code clears the budget. Every attempt is audited; a used recovery code is mailed about.
 */
export async function withSecondFactor<T>(
  deps: Deps,
  meta: RequestMeta,
  user: Pick<User, "id" | "email" | "locale">,
  factor: MfaFactor,
  proof: Proof,
  context: ProofContext,
  act: (tx: Db) => Promise<T>,
): Promise<{ result: T; kind: ProofKind }> {
  const kind: ProofKind = "code" in proof ? "totp" : "recovery_code";
  const key = await throttleKey(deps, "mfa-guess", user.id);
  const gate = await reserve(deps, key, mfaGuessPolicy(deps.config));
  if (!gate.reserved) {
    await audit(deps, meta, "mfa_failed", "blocked", user.id, { context, method: kind, reason: "throttled" });
    throw apiError("too_many_requests", { retryAfter: gate.retryAfter, message: THROTTLED });
  }
  const now = deps.now();
  let use: ((tx: Db) => Promise<boolean>) | null = null;
  if ("code" in proof) {
    const step = matchingStep(await decryptSecret(deps.config, user.id, factor.secret), proof.code, now);
    if (step !== null) use = (tx) => acceptStep(tx, factor, step);
  } else {
    const canonical = normalizeRecoveryCode(proof.recoveryCode);
    const hash = await recoveryCodeHash(deps, user.id, canonical ?? "");
    if (canonical) use = (tx) => useRecoveryCode(tx, user.id, hash, now);
  }
  const fail = async (reason: "wrong_code" | "already_used") => {
    await audit(deps, meta, "mfa_failed", "failure", user.id, { context, method: kind, reason, attempt: gate.attempt });
    if (reason === "already_used" && kind === "totp") throw apiError("mfa_code_used");
    throw apiError("invalid_mfa_code");
  };
  if (!use) return fail("wrong_code");
  const using = use;
  let result: T;
  try {
    result = await deps.db.transaction(async (tx) => {
      if (!(await using(tx as unknown as Db))) throw new CodeAlreadyUsed();
      return act(tx as unknown as Db);
    });
  } catch (err) {
    // A used recovery code is answered like a wrong one: it is no longer a code of this account.
    if (err instanceof CodeAlreadyUsed) return fail(kind === "totp" ? "already_used" : "wrong_code");
    throw err;
  }
  await clearThrottle(deps, key);
  await audit(deps, meta, "mfa_verified", "success", user.id, { context, method: kind });
  if (kind === "recovery_code") {
    deps.waitUntil(
      (async () => {
        const remaining = await remainingRecoveryCodes(deps, user.id);
        await audit(deps, meta, "recovery_code_used", "success", user.id, { context, remaining });
        notifyRecoveryCodeUsed(deps, meta, user, remaining);
      })().catch((err) => deps.log("error", "recovery code notice failed", describeError(err))),
    );
  }
  return { result, kind };
}
