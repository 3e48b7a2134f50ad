import { authSecret } from "../../config";
import { type User, users } from "../../db/schema";
import type { Deps, RequestMeta } from "../../deps";
import { apiError } from "../../errors";
import { isLocale, type Locale } from "../../i18n/locales";
import { msg } from "../../i18n/messages";
import { hmacHex } from "../../lib/encoding";
import { describeError } from "../../log";
import { passkeySignUpCodeMessage } from "../../mail/passkeys";
import { envelope } from "../../mail/templates";
import { notifyRegistrationAttempt } from "../account/register";
import { findUserByEmail, normalizeEmail } from "../account/users";
import { audit } from "../audit";
import { generateCode, takeSendSlot } from "../codes/one-time-codes";
import { emailVerified, recordEvent, userCreated } from "../events/outbox";
import { unusablePassword } from "../password/formats";
import { completeSignIn, type SignInResult } from "../sign-in/complete";
import { clearThrottle, codeGuessPolicy, reserve, throttleKey } from "../throttle";
import {
  CHALLENGE_TTL,
  type CreationOptions,
  creationOptions,
  type NewCredential,
  passkeyAmr,
  type RegistrationResponse,
  relyingParty,
} from "./ceremonies";
import { keepChallenge, peekChallengeByToken, useChallengeByTokenIf } from "./challenges";
import { checkRegistration } from "./register";
import { DEFAULT_PASSKEY_NAME, insertPasskey, newUserHandle, passkeyRow } from "./store";

/**
 * Passkey-first sign-up: a new account whose only way in is the passkey made for it (the password
 * column holds the unusable marker, as for social-only accounts). The mailbox is proven FIRST: the
 * options mail a 6-digit code to the address, and the verify needs it with the passkey's response,
 * so the account is created verified and its passkey is made after that proof. (A passkey made on
 * an unverified account would be removed by the first proof of the mailbox, a change of owner:
 * src/auth/account/owner.ts; and whoever signs up with someone else's address gets no account.)
 * A taken address answers exactly as registration does (src/auth/account/register.ts): 409
 * email_taken, or with REGISTER_ENUMERATION_SAFE the same answer as a new one (its owner is
 * mailed, no code), never a way into the existing account. Guessing the code is limited by the
 * per-account guess budget of every mailed code.
 */

export type SignUpOutcome = { kind: "signed_in"; result: SignInResult } | { kind: "accepted" };

const ROLE = "student";

async function refuseTaken(deps: Deps, meta: RequestMeta, email: string): Promise<{ kind: "accepted" }> {
  const safe = deps.config.REGISTER_ENUMERATION_SAFE;
  const owner = safe ? await findUserByEmail(deps, email) : undefined;
  await audit(deps, meta, "registered", "failure", owner?.id ?? null, { method: "passkey", reason: "email_taken" });
  if (!safe) throw apiError("email_taken");
  if (owner) notifyRegistrationAttempt(deps, meta, owner);
  return { kind: "accepted" };
}

/**
 * POST /passkeys/signup/options: creation options for a new account, with a fresh random user
 * handle, and the challenge_token that carries the address, name and language to the verify. A
 * taken address answers 409 here already, as registration would (not with REGISTER_ENUMERATION_SAFE).
 * The code mail is in `locale` when given, else the request's language; the account gets `locale`
 * (as at registration: the route passes Accept-Language's when the body has none).
 */
export async function signUpOptions(
  deps: Deps,
  meta: RequestMeta,
  input: { email: string; fullName: string; locale: Locale | null },
): Promise<{ options: CreationOptions; challengeToken: string }> {
  const rp = relyingParty(deps.config);
  const email = normalizeEmail(input.email);
  const fullName = input.fullName.trim();
  const taken = await findUserByEmail(deps, email);
  if (taken && !deps.config.REGISTER_ENUMERATION_SAFE) await refuseTaken(deps, meta, email);
  // Within the send throttle of every verification code (429 with Retry-After when too soon).
  await takeSendSlot(deps, "email_verification", email);
  const handle = newUserHandle();
  const options = await creationOptions(rp, { handle, name: email, displayName: fullName }, []);
  const code = generateCode();
  const { token } = await keepChallenge(deps, "signup", options.challenge, {
    token: true,
    data: {
      email,
      full_name: fullName,
      user_handle: handle,
      code_hash: await signUpCodeHash(deps, email, code),
      ...(input.locale ? { locale: input.locale } : {}),
    },
  });
  if (taken) {
    // REGISTER_ENUMERATION_SAFE: the same answer, no code; the owner is told of the attempt.
    await refuseTaken(deps, meta, email);
  } else {
    const ttlSeconds = CHALLENGE_TTL;
    const expiresAt = new Date(deps.now().getTime() + ttlSeconds * 1000);
    const message = passkeySignUpCodeMessage(envelope(deps.config, email, input.locale ?? meta.locale), { code, ttlSeconds, expiresAt });
    deps.waitUntil(
      deps.mailer
        .send(message)
        .then((sent) =>
          audit(deps, meta, "email_verification_requested", sent.ok ? "success" : "failure", null, {
            purpose: "passkey_sign_up",
            mail: sent.ok ? "sent" : sent.reason,
          }),
        )
        .catch((err) => deps.log("error", "sign-up code not mailed", describeError(err))),
    );
  }
  return { options, challengeToken: token! };
}

/** The stored form of a sign-up code: keyed, and bound to its address. */
const signUpCodeHash = (deps: Deps, email: string, code: string) => hmacHex(authSecret(deps.config), `passkey-signup:${email}:${code}`);

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
        locale: isLocale(data.locale) ? data.locale : null,
        createdAt: deps.now(),
        // The sign-up's code proved the mailbox before the account existed.
        emailVerifiedAt: deps.now(),
        webauthnUserId: data.user_handle,
      })
      .onConflictDoNothing()
      .returning();
    if (!user) return null;
    if (!(await insertPasskey(tx, passkeyRow(deps, user.id, credential, DEFAULT_PASSKEY_NAME)))) throw new PasskeyTaken();
    await recordEvent(tx, userCreated(deps, user, "passkey"), emailVerified(user.id, user.emailVerifiedAt!));
    return user;
  });
}

/** POST /passkeys/signup/verify: the challenge used up, the response verified, then the account (or registration's answer for a taken address). */
export async function signUpWithPasskey(
  deps: Deps,
  meta: RequestMeta,
  input: { challengeToken: string; response: RegistrationResponse; code: string },
): Promise<SignUpOutcome> {
  const rp = relyingParty(deps.config);
  const detail = { context: "sign_up" };
  // The code first: it proves the mailbox. Guesses are counted per address before any comparison,
  // and a wrong one leaves the challenge usable (until it expires).
  const pending = await peekChallengeByToken(deps, "signup", input.challengeToken);
  if (!pending?.email) {
    await audit(deps, meta, "passkey_registration_failed", "failure", null, { ...detail, reason: "challenge_invalid" });
    throw apiError("passkey_challenge_invalid");
  }
  const budgetKey = await throttleKey(deps, "otp-guess", pending.email);
  const budget = await reserve(deps, budgetKey, codeGuessPolicy(deps.config));
  if (!budget.reserved) {
    await audit(deps, meta, "email_verification_failed", "blocked", null, { purpose: "passkey_sign_up", reason: "guess_delayed" });
    throw apiError("too_many_requests", {
      retryAfter: budget.retryAfter,
      message: msg("error.too_many_requests.code_guesses"),
    });
  }
  const hash = await signUpCodeHash(deps, pending.email, input.code);
  const stored = await useChallengeByTokenIf(deps, "signup", input.challengeToken, "code_hash", hash);
  if (!stored) {
    await audit(deps, meta, "email_verification_failed", "failure", null, {
      purpose: "passkey_sign_up",
      reason: "wrong_code",
      attempt: budget.attempt,
    });
    throw apiError("invalid_otp");
  }
  await clearThrottle(deps, budgetKey);
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
  await audit(deps, meta, "email_verified", "success", user.id, { how: "passkey_sign_up" });
  if (deps.config.REGISTER_ENUMERATION_SAFE) {
    // The same answer as for a taken address: no session here; the passkey signs in next.
    await audit(deps, meta, "registered", "success", user.id, { method: "passkey" });
    return { kind: "accepted" };
  }
  const result = await completeSignIn(deps, meta, user, { method: "passkey", amr: passkeyAmr(credential), event: "registered" });
  return { kind: "signed_in", result };
}
