import { type User, users } from "../../db/schema";
import type { Deps, RequestMeta } from "../../deps";
import { apiError } from "../../errors";
import { mailVerificationCode, mustVerifyEmail } from "../account/email-verification";
import { notifyRegistrationAttempt } from "../account/register";
import { findUserByEmail, normalizeEmail } from "../account/users";
import { audit } from "../audit";
import { unusablePassword } from "../password/formats";
import { completeSignIn, type SignInResult } from "../sign-in/complete";
import {
  type CreationOptions,
  creationOptions,
  type NewCredential,
  passkeyAmr,
  type RegistrationResponse,
  relyingParty,
} from "./ceremonies";
import { keepChallenge, useChallengeByToken } from "./challenges";
import { checkRegistration } from "./register";
import { DEFAULT_PASSKEY_NAME, insertPasskey, newUserHandle, passkeyRow } from "./store";

/**
 * Passkey-first sign-up: a new account whose only way in is the passkey made for it (the password
 * column holds the unusable marker, as for social-only accounts). It answers exactly as
 * registration does (src/auth/account/register.ts): a taken address is 409 email_taken, or with
 * REGISTER_ENUMERATION_SAFE the same 202 as a new one (its owner is mailed), never a way into the
 * existing account; a new account is mailed a verification code, and gets no session yet when
 * REQUIRE_VERIFIED_EMAIL covers it. A password reset later drops the passkey if the address was
 * not verified before it was made (store.ts dropUnprovenPasskeys): whoever signs up with someone
 * else's address keeps nothing once the owner takes it back.
 */

export type SignUpOutcome = { kind: "signed_in"; result: SignInResult } | { kind: "accepted" } | { kind: "verify_email" };

const ROLE = "student";

async function refuseTaken(deps: Deps, meta: RequestMeta, email: string): Promise<{ kind: "accepted" }> {
  const safe = deps.config.REGISTER_ENUMERATION_SAFE;
  const owner = safe ? await findUserByEmail(deps, email) : undefined;
  await audit(deps, meta, "registered", "failure", owner?.id ?? null, { method: "passkey", reason: "email_taken" });
  if (!safe) throw apiError("email_taken");
  if (owner) notifyRegistrationAttempt(deps, owner);
  return { kind: "accepted" };
}

/**
 * POST /passkeys/signup/options: creation options for a new account, with a fresh random user
 * handle, and the challenge_token that carries the address and name to the verify. A taken address
 * answers 409 here already, as registration would (not with REGISTER_ENUMERATION_SAFE).
 */
export async function signUpOptions(
  deps: Deps,
  meta: RequestMeta,
  input: { email: string; fullName: string },
): Promise<{ options: CreationOptions; challengeToken: string }> {
  const rp = relyingParty(deps.config);
  const email = normalizeEmail(input.email);
  const fullName = input.fullName.trim();
  if (!deps.config.REGISTER_ENUMERATION_SAFE && (await findUserByEmail(deps, email))) await refuseTaken(deps, meta, email);
  const handle = newUserHandle();
  const options = await creationOptions(rp, { handle, name: email, displayName: fullName }, []);
  const { token } = await keepChallenge(deps, "signup", options.challenge, {
    token: true,
    data: { email, full_name: fullName, user_handle: handle },
  });
  return { options, challengeToken: token! };
}

class PasskeyTaken extends Error {}

/** The account and its passkey in one transaction; null when the address was taken (then nothing is written). */
async function createAccount(deps: Deps, data: Record<string, string>, credential: NewCredential): Promise<User | null> {
  return deps.db.transaction(async (tx) => {
    const [user] = await tx
      .insert(users)
      .values({
        id: crypto.randomUUID(),
        fullName: data.full_name,
        email: data.email,
        password: unusablePassword(),
        role: ROLE,
        createdAt: deps.now(),
        webauthnUserId: data.user_handle,
      })
      .onConflictDoNothing()
      .returning();
    if (!user) return null;
    if (!(await insertPasskey(tx, passkeyRow(deps, user.id, credential, DEFAULT_PASSKEY_NAME)))) throw new PasskeyTaken();
    return user;
  });
}

/** POST /passkeys/signup/verify: the challenge used up, the response verified, then the account (or registration's answer for a taken address). */
export async function signUpWithPasskey(
  deps: Deps,
  meta: RequestMeta,
  input: { challengeToken: string; response: RegistrationResponse },
): Promise<SignUpOutcome> {
  const rp = relyingParty(deps.config);
  const stored = await useChallengeByToken(deps, "signup", input.challengeToken);
  const detail = { context: "sign_up" };
  const credential = await checkRegistration(deps, meta, rp, input.response, stored?.challenge, { userId: null, detail });
  const data = stored!.data;
  let user: User | null;
  try {
    user = await createAccount(deps, data, credential);
  } catch (err) {
    if (!(err instanceof PasskeyTaken)) throw err;
    await audit(deps, meta, "passkey_registration_failed", "failure", null, { ...detail, reason: "already_registered" });
    throw apiError("passkey_already_registered");
  }
  if (!user) return refuseTaken(deps, meta, data.email);
  await audit(deps, meta, "passkey_registered", "success", user.id, { ...detail, device_type: credential.deviceType });
  mailVerificationCode(deps, meta, user);
  const safe = deps.config.REGISTER_ENUMERATION_SAFE;
  if (safe || mustVerifyEmail(deps.config, user)) {
    await audit(deps, meta, "registered", "success", user.id, { method: "passkey" });
    return { kind: safe ? "accepted" : "verify_email" };
  }
  const result = await completeSignIn(deps, meta, user, { method: "passkey", amr: passkeyAmr(credential), event: "registered" });
  return { kind: "signed_in", result };
}
