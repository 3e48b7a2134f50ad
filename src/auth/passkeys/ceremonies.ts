import type {
  AuthenticationResponseJSON,
  AuthenticatorTransport,
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
  RegistrationResponseJSON,
} from "@simplewebauthn/server";
import type { Config } from "../../config";
import { apiError } from "../../errors";
import { msg } from "../../i18n/messages";
import { b64url, fromB64url } from "../../lib/encoding";

/**
 * The WebAuthn ceremonies, and the one place that talks to @simplewebauthn/server: options out
 * (the WebAuthn Level 3 JSON forms a browser reads with PublicKeyCredential.parse*OptionsFromJSON),
 * responses in (what credential.toJSON() gives). What the library leaves to its caller is done by
 * the callers in this folder: single use and binding of the challenge (challenges.ts), the sign
 * counter (the library's check is turned off here: it runs before the signature is checked, so an
 * unsigned response could trip it; store.ts advances the counter after a verified signature, in
 * one statement), the credential's owner and user handle, the account's state.
 *
 * The library is loaded on the first passkey request of an isolate, not at startup. Its
 * certificate-attestation code is not bundled (src/shims/webauthn-asn1.ts): passkeys are
 * registered with attestation `none`.
 */

/** EdDSA, ES256, RS256, in order of preference: offered in the options and accepted at verify (the same list). */
const ALGORITHMS = [-8, -7, -257];
/** How long a ceremony's challenge lives (also the browser's timeout). */
export const CHALLENGE_TTL = 300;

const library = () => import("@simplewebauthn/server");

export interface RelyingParty {
  id: string;
  name: string;
  origins: string[];
}

/** The relying party from the settings; passkeys are off (404) without WEBAUTHN_RP_ID. */
export function relyingParty(config: Config): RelyingParty {
  if (!config.WEBAUTHN_RP_ID) throw apiError("not_found", { message: msg("error.not_found.passkeys_off") });
  return { id: config.WEBAUTHN_RP_ID, name: config.WEBAUTHN_RP_NAME ?? config.APP_NAME, origins: config.WEBAUTHN_ORIGINS };
}

/** A passkey as the options name it: its credential id and the transports the authenticator reported. */
export interface CredentialRef {
  credentialId: string;
  transports: readonly string[];
}

const descriptors = (refs: readonly CredentialRef[]) =>
  refs.map((r) => ({ id: r.credentialId, transports: [...r.transports] as AuthenticatorTransport[] }));

export type CreationOptions = PublicKeyCredentialCreationOptionsJSON;
export type RequestOptions = PublicKeyCredentialRequestOptionsJSON;
export type RegistrationResponse = RegistrationResponseJSON;
export type AuthenticationResponse = AuthenticationResponseJSON;

/**
 * Options to create a passkey: a discoverable credential (resident key required, so it signs in
 * without a name typed), user verification preferred, attestation `none`, none of `exclude` (the
 * account's passkeys: an authenticator that holds one refuses), `user.id` the account's random
 * user handle (never the email).
 */
export async function creationOptions(
  rp: RelyingParty,
  user: { handle: string; name: string; displayName: string },
  exclude: readonly CredentialRef[],
): Promise<CreationOptions> {
  const { generateRegistrationOptions } = await library();
  return generateRegistrationOptions({
    rpName: rp.name,
    rpID: rp.id,
    userID: fromB64url(user.handle) as Uint8Array<ArrayBuffer>,
    userName: user.name,
    userDisplayName: user.displayName,
    timeout: CHALLENGE_TTL * 1000,
    attestationType: "none",
    excludeCredentials: descriptors(exclude),
    // A new object each call: the library adds requireResidentKey to the one it is given.
    authenticatorSelection: { residentKey: "required", userVerification: "preferred" },
    supportedAlgorithmIDs: ALGORITHMS,
  });
}

/** Options to sign in with a passkey: any discoverable one of this site (`allow` empty), or one of `allow`. */
export async function requestOptions(rp: RelyingParty, allow: readonly CredentialRef[]): Promise<RequestOptions> {
  const { generateAuthenticationOptions } = await library();
  return generateAuthenticationOptions({
    rpID: rp.id,
    allowCredentials: descriptors(allow),
    userVerification: "preferred",
    timeout: CHALLENGE_TTL * 1000,
  });
}

/**
 * Why a response was refused (an audit reason; the library's own message never reaches a client:
 * it quotes the expected challenge). `challenge_mismatch`: the response signed another challenge
 * than the one its token or account stored.
 */
export type Refusal = "wrong_origin" | "wrong_rp_id" | "challenge_mismatch" | "bad_signature" | "invalid_response";

export class CeremonyRefused extends Error {
  constructor(
    readonly reason: Refusal,
    readonly detail: string,
  ) {
    super(`passkey response refused: ${reason}`);
  }
}

/** The library's exception as a refusal: its machine codes where it has them, else a malformed or unexpected response. */
function refusalOf(err: unknown, challengeSeen: { value?: string; expected: string }): CeremonyRefused {
  const e = err as { name?: string; code?: string; message?: string };
  if (challengeSeen.value !== undefined && challengeSeen.value !== challengeSeen.expected)
    return new CeremonyRefused("challenge_mismatch", "the response signed another challenge");
  const reason: Refusal =
    e?.code === "UNEXPECTED_ORIGIN" ? "wrong_origin" : e?.code === "UNEXPECTED_RP_ID" ? "wrong_rp_id" : "invalid_response";
  return new CeremonyRefused(reason, String(e?.message ?? err).slice(0, 300));
}

/** The expected challenge as a check that remembers what the response carried (to tell a wrong challenge from other faults). */
function challengeCheck(expected: string) {
  const seen: { value?: string; expected: string } = { expected };
  return {
    seen,
    check: (challenge: string) => {
      seen.value = challenge;
      return challenge === expected;
    },
  };
}

/** A new passkey as the registration response proved it. */
export interface NewCredential {
  credentialId: string;
  /** The COSE public key, base64url. */
  publicKey: string;
  signCount: number;
  transports: string[];
  aaguid: string;
  deviceType: "singleDevice" | "multiDevice";
  backedUp: boolean;
  userVerified: boolean;
}

/**
 * Check a registration response against the stored challenge, this site's origins and RP id. User
 * verification is not required here (the caller decides what it proves); user presence is.
 */
export async function verifyRegistration(rp: RelyingParty, response: RegistrationResponse, challenge: string): Promise<NewCredential> {
  const { verifyRegistrationResponse } = await library();
  const expected = challengeCheck(challenge);
  let result: Awaited<ReturnType<typeof verifyRegistrationResponse>>;
  try {
    result = await verifyRegistrationResponse({
      response,
      expectedChallenge: expected.check,
      expectedOrigin: rp.origins,
      expectedRPID: rp.id,
      requireUserVerification: false,
      supportedAlgorithmIDs: ALGORITHMS,
    });
  } catch (err) {
    throw refusalOf(err, expected.seen);
  }
  if (result.verified !== true || !result.registrationInfo) throw new CeremonyRefused("invalid_response", "not verified");
  const info = result.registrationInfo;
  return {
    credentialId: info.credential.id,
    publicKey: b64url(info.credential.publicKey),
    signCount: info.credential.counter,
    transports: (response.response.transports ?? []).filter((t) => typeof t === "string" && t.length <= 16).slice(0, 8),
    aaguid: info.aaguid,
    deviceType: info.credentialDeviceType,
    backedUp: info.credentialBackedUp,
    userVerified: info.userVerified,
  };
}

/** What a verified assertion says; the counter is the caller's to check and store. */
export interface Assertion {
  signCount: number;
  userVerified: boolean;
  deviceType: "singleDevice" | "multiDevice";
  backedUp: boolean;
}

/**
 * Check an assertion (a sign-in) against the stored challenge, this site's origins and RP id, and
 * the stored passkey's public key. The library's counter check is off (counter 0): the caller
 * advances the stored counter after this, in one statement (store.ts).
 */
export async function verifyAssertion(
  rp: RelyingParty,
  response: AuthenticationResponse,
  challenge: string,
  passkey: { credentialId: string; publicKey: string; transports: readonly string[] },
): Promise<Assertion> {
  const { verifyAuthenticationResponse } = await library();
  const expected = challengeCheck(challenge);
  let result: Awaited<ReturnType<typeof verifyAuthenticationResponse>>;
  try {
    result = await verifyAuthenticationResponse({
      response,
      expectedChallenge: expected.check,
      expectedOrigin: rp.origins,
      expectedRPID: rp.id,
      credential: {
        id: passkey.credentialId,
        publicKey: fromB64url(passkey.publicKey) as Uint8Array<ArrayBuffer>,
        counter: 0,
        transports: [...passkey.transports] as AuthenticatorTransport[],
      },
      requireUserVerification: false,
    });
  } catch (err) {
    throw refusalOf(err, expected.seen);
  }
  // A wrong signature does not throw: it answers verified false.
  if (result.verified !== true) throw new CeremonyRefused("bad_signature", "the signature does not verify");
  const info = result.authenticationInfo;
  return {
    signCount: info.newCounter,
    userVerified: info.userVerified,
    deviceType: info.credentialDeviceType,
    backedUp: info.credentialBackedUp,
  };
}

/** The amr values a passkey ceremony records (ways-in registry): synced or device-bound, and `user` when the authenticator verified the user. */
export const passkeyAmr = (a: Pick<Assertion, "deviceType" | "userVerified">): string[] => [
  a.deviceType === "multiDevice" ? "swk" : "hwk",
  ...(a.userVerified ? ["user"] : []),
];

/** The challenge a response carries (to find a challenge bound to an account), or null when it has none readable. */
export function challengeOf(response: { response: { clientDataJSON: string } }): string | null {
  try {
    const data = JSON.parse(new TextDecoder().decode(fromB64url(response.response.clientDataJSON))) as { challenge?: unknown };
    return typeof data.challenge === "string" && data.challenge.length > 0 && data.challenge.length <= 128 ? data.challenge : null;
  } catch {
    return null;
  }
}
