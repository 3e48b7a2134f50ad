import type { Passkey } from "../../db/schema";
import type { Deps, RequestMeta } from "../../deps";
import { apiError } from "../../errors";
import { msg } from "../../i18n/messages";
import { confirmOwner, type OwnerProof } from "../account/credential-change";
import { audit } from "../audit";
import { requireMfaCode } from "../mfa/step-up";
import type { Authenticated } from "../sessions/sessions";
import { relyingParty } from "./ceremonies";
import { notifyPasskeyRemoved } from "./notices";
import { passkeysOf, removePasskey, renamePasskey } from "./store";

/** The caller's passkeys: the list, a new name, removal (a credential change), and what the WebAuthn Signal API needs. */

export async function listPasskeys(deps: Deps, auth: Authenticated): Promise<Passkey[]> {
  relyingParty(deps.config);
  return passkeysOf(deps, auth.user.id);
}

/** PATCH /passkeys/{id}: only the name shown in the list and the notices changes. */
export async function renameCallersPasskey(deps: Deps, meta: RequestMeta, auth: Authenticated, id: string, name: string): Promise<Passkey> {
  relyingParty(deps.config);
  const passkey = await renamePasskey(deps, auth.user.id, id, name);
  if (!passkey) throw apiError("passkey_not_found");
  await audit(deps, meta, "passkey_renamed", "success", auth.user.id, { passkey: id });
  return passkey;
}

const LAST = msg("error.last_sign_in_method.passkey");

/**
 * DELETE /passkeys/{id}: a credential change (the owner's proof as for adding one), and never the
 * account's last way to sign in (decided by the ways-in registry under the account's row lock,
 * tried before any proof is asked for so a refusal spends no code). The address is told. The
 * device still offers the passkey until the client signals it as unknown (docs/passkeys.md).
 */
export async function removeCallersPasskey(
  deps: Deps,
  meta: RequestMeta,
  auth: Authenticated,
  id: string,
  proof: OwnerProof,
): Promise<Passkey> {
  relyingParty(deps.config);
  const refuse = async (refusal: "not_found" | "last") => {
    if (refusal === "not_found") return apiError("passkey_not_found");
    await audit(deps, meta, "passkey_removed", "blocked", auth.user.id, { passkey: id, reason: "last_sign_in_method" });
    return apiError("last_sign_in_method", { message: LAST });
  };
  const trial = await removePasskey(deps.db, auth.user.id, id, false, deps.now());
  if (typeof trial === "string") throw await refuse(trial);
  await confirmOwner(deps, meta, auth, proof.currentPassword, "passkey_removed");
  await requireMfaCode(deps, meta, auth.user, proof.mfaCode);
  const outcome = await removePasskey(deps.db, auth.user.id, id, true, deps.now());
  if (typeof outcome === "string") throw await refuse(outcome);
  await audit(deps, meta, "passkey_removed", "success", auth.user.id, { passkey: id });
  notifyPasskeyRemoved(deps, meta, auth.user, outcome);
  return outcome;
}

/**
 * GET /passkeys/signals: what a client passes to PublicKeyCredential.signalAllAcceptedCredentials
 * and signalCurrentUserDetails, under the WebAuthn member names, so the user's devices drop passkeys
 * this account no longer accepts and show its current address and name. Null for an account that
 * never had a passkey (no user handle: nothing on any device to update).
 */
export async function passkeySignals(deps: Deps, auth: Authenticated) {
  const rp = relyingParty(deps.config);
  const userId = auth.user.webauthnUserId;
  if (!userId) return { allAcceptedCredentials: null, currentUserDetails: null };
  const ids = (await passkeysOf(deps, auth.user.id)).map((p) => p.credentialId);
  return {
    allAcceptedCredentials: { rpId: rp.id, userId, allAcceptedCredentialIds: ids },
    currentUserDetails: { rpId: rp.id, userId, name: auth.user.email, displayName: auth.user.fullName },
  };
}
