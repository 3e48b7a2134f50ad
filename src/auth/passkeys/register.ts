import type { Passkey } from "../../db/schema";
import type { Deps, RequestMeta } from "../../deps";
import { apiError } from "../../errors";
import { assertMayAddWayIn, confirmOwner, type OwnerProof } from "../account/credential-change";
import { type AuditDetail, audit } from "../audit";
import { credentialsChanged, recordEvent } from "../events/outbox";
import { requireMfaCode } from "../mfa/step-up";
import type { Authenticated } from "../sessions/sessions";
import {
  CeremonyRefused,
  type CreationOptions,
  challengeOf,
  creationOptions,
  type NewCredential,
  type RegistrationResponse,
  type RelyingParty,
  relyingParty,
  verifyRegistration,
} from "./ceremonies";
import { keepChallenge, useAccountChallenge } from "./challenges";
import { notifyPasskeyAdded } from "./notices";
import { DEFAULT_PASSKEY_NAME, insertPasskey, passkeyRow, passkeysOf, userHandleOf } from "./store";

/**
 * Adding a passkey to the signed-in account: a credential change (src/auth/account/credential-change.ts),
 * exactly as linking an identity is. The routes declare a recent login; the address must be
 * verified; the verify needs the owner's proof (the current password, or without one the recent
 * sign-in) and, with an authenticator app on, a current code; the address is told; every attempt
 * is audited. The challenge is bound to the account (another account's is never found) and used once.
 */

/** POST /passkeys/register/options: creation options for the caller's account (its passkeys excluded). */
export async function registrationOptions(deps: Deps, auth: Authenticated): Promise<CreationOptions> {
  const rp = relyingParty(deps.config);
  assertMayAddWayIn(auth.user);
  const [handle, existing] = await Promise.all([userHandleOf(deps, auth.user.id), passkeysOf(deps, auth.user.id)]);
  const options = await creationOptions(rp, { handle, name: auth.user.email, displayName: auth.user.fullName }, existing);
  await keepChallenge(deps, "register", options.challenge, { userId: auth.user.id });
  return options;
}

/** A registration response checked against a challenge: the new credential, or the refusal audited and answered. */
export async function checkRegistration(
  deps: Deps,
  meta: RequestMeta,
  rp: RelyingParty,
  response: RegistrationResponse,
  challenge: string | null | undefined,
  audited: { userId: string | null; detail: AuditDetail },
): Promise<NewCredential> {
  const fail = async (reason: string) => {
    await audit(deps, meta, "passkey_registration_failed", "failure", audited.userId, { ...audited.detail, reason });
    return apiError(reason === "challenge_invalid" || reason === "challenge_mismatch" ? "passkey_challenge_invalid" : "passkey_invalid");
  };
  if (!challenge) throw await fail("challenge_invalid");
  try {
    return await verifyRegistration(rp, response, challenge);
  } catch (err) {
    if (!(err instanceof CeremonyRefused)) throw err;
    deps.log("warn", "passkey registration refused", { reason: err.reason, detail: err.detail });
    throw await fail(err.reason);
  }
}

export interface AddPasskey {
  response: RegistrationResponse;
  name?: string;
  proof: OwnerProof;
}

/**
 * POST /passkeys/register/verify: the owner's proof, then the challenge is used up and the
 * response verified (a refused response spends no authenticator code), then the code, then the
 * passkey is stored. A credential already registered (to any account) is refused.
 */
export async function addPasskey(deps: Deps, meta: RequestMeta, auth: Authenticated, input: AddPasskey): Promise<Passkey> {
  const rp = relyingParty(deps.config);
  const { user } = auth;
  assertMayAddWayIn(user);
  await confirmOwner(deps, meta, auth, input.proof.currentPassword, "passkey_registration_failed");
  const stored = await useAccountChallenge(deps, "register", user.id, challengeOf(input.response));
  const detail = { context: "add" };
  const credential = await checkRegistration(deps, meta, rp, input.response, stored?.challenge, { userId: user.id, detail });
  await requireMfaCode(deps, meta, user, input.proof.mfaCode);
  // The passkey and its event (other services hear of every new way in) in one transaction.
  const passkey = await deps.db.transaction(async (tx) => {
    const row = await insertPasskey(tx, passkeyRow(deps, user.id, credential, input.name ?? DEFAULT_PASSKEY_NAME));
    if (row) await recordEvent(tx, credentialsChanged(deps, user.id, "passkey", "added"));
    return row;
  });
  if (!passkey) {
    await audit(deps, meta, "passkey_registration_failed", "failure", user.id, { ...detail, reason: "already_registered" });
    throw apiError("passkey_already_registered");
  }
  await audit(deps, meta, "passkey_registered", "success", user.id, {
    ...detail,
    passkey: passkey.id,
    device_type: passkey.deviceType,
    user_verified: credential.userVerified,
  });
  notifyPasskeyAdded(deps, meta, user, passkey);
  return passkey;
}
