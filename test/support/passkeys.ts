import { expect } from "vitest";
import { PASSWORD } from "./accounts";
import { codeIn, mailsTo } from "./mail";
import {
  type AuthenticateOverrides,
  type AuthenticationResponseJSON,
  type RegisterOverrides,
  type RegistrationResponseJSON,
  SoftwareAuthenticator,
  type SoftwareAuthenticatorOptions,
} from "./software-authenticator";
import { type CallOptions, call, json } from "./worker";

/**
 * Passkey helpers over the software authenticator (software-authenticator.ts: its own keys, CBOR,
 * DER and client data, independent of the server's library). The tests' relying party is
 * `app.test`, served from https://app.test (and an Android app's origin), as global-setup.ts
 * configures WEBAUTHN_RP_ID and WEBAUTHN_ORIGINS.
 */
export const RP_ID = "app.test";
const ORIGIN = "https://app.test";
export const ANDROID_ORIGIN = "android:apk-key-hash:7bueE1LcZEYLD1yF8C384su_vu0AMpWExf2ULNwCfdk";

/** A device holding passkeys for the tests' site. Default: user verification, a synced (backup-eligible) passkey that counts. */
export const authenticator = (o: Partial<SoftwareAuthenticatorOptions> = {}) => new SoftwareAuthenticator({ origin: ORIGIN, ...o });

/** POST, expecting `status`; the JSON body. */
async function expectJson(res: Response, status: number) {
  const text = await res.clone().text();
  expect(res.status, text).toBe(status);
  return json(res);
}

/** The creation options to add a passkey to the signed-in account. */
export async function registrationOptions(token: string, opts: CallOptions = {}) {
  return (await expectJson(await call("/auth/passkeys/register/options", { method: "POST", token, ...opts }), 200)).options;
}

/** POST /auth/passkeys/register/verify, any outcome. */
export const registerVerify = (token: string, body: Record<string, unknown>, opts: CallOptions = {}) =>
  call("/auth/passkeys/register/verify", { body, token, ...opts });

/**
 * Add a passkey to the signed-in account (the owner's proof: `password`, and `mfaCode` when an
 * authenticator app is on): options, the authenticator, verify. The stored passkey and the response.
 */
export async function addPasskey(
  token: string,
  device: SoftwareAuthenticator,
  o: RegisterOverrides & { password?: string | null; mfaCode?: string; name?: string; opts?: CallOptions } = {},
) {
  const { password = PASSWORD, mfaCode, name, opts = {}, ...overrides } = o;
  const options = await registrationOptions(token, opts);
  const response = await device.register(options, overrides);
  const res = await registerVerify(
    token,
    { response: strip(response), ...(password === null ? {} : { current_password: password }), mfa_code: mfaCode, name },
    opts,
  );
  const body = await expectJson(res, 201);
  return { passkey: body.passkey as PasskeyView, response, options };
}

export interface PasskeyView {
  id: string;
  name: string;
  created_at: string;
  last_used_at: string | null;
  device_type: "single_device" | "multi_device";
  backed_up: boolean;
  transports: string[];
  aaguid: string;
}

/** The response as a browser's toJSON() gives it (the authenticator's own handle on the credential left out). */
export function strip<T extends RegistrationResponseJSON | AuthenticationResponseJSON>(r: T): T {
  const { credential: _credential, ...rest } = r as T & { credential?: unknown };
  return rest as T;
}

/** POST /auth/passkeys/login/options: the request options and the challenge_token. */
export async function loginOptions(body: { email?: string } = {}, opts: CallOptions = {}) {
  const data = await expectJson(await call("/auth/passkeys/login/options", { body, ...opts }), 200);
  return { options: data.options, challengeToken: data.challenge_token as string };
}

/** POST /auth/passkeys/login/verify, any outcome. */
export const loginVerify = (challengeToken: string, response: AuthenticationResponseJSON, opts: CallOptions = {}) =>
  call("/auth/passkeys/login/verify", { body: { challenge_token: challengeToken, response }, ...opts });

/** Sign in with a passkey the device holds (no address typed): options, the authenticator, verify; the response. */
export async function passkeyLogin(device: SoftwareAuthenticator, o: AuthenticateOverrides = {}, opts: CallOptions = {}) {
  const { options, challengeToken } = await loginOptions({}, opts);
  return loginVerify(challengeToken, await device.authenticate(options, o), opts);
}

/** The same, and it must answer a session: the body (user, tokens). */
export async function signInWithPasskey(device: SoftwareAuthenticator, o: AuthenticateOverrides = {}, opts: CallOptions = {}) {
  const body = await expectJson(await passkeyLogin(device, o, opts), 200);
  expect(body.status, JSON.stringify(body)).toBe("success");
  return body;
}

/** Passkey-first sign-up: options (taken address: that answer) and, given a device, the verify's response. */
export async function signUpOptions(email: string, fullName = "Passkey User", opts: CallOptions = {}) {
  return call("/auth/passkeys/signup/options", { body: { email, full_name: fullName }, ...opts });
}

/** The newest sign-up code mailed to `email`, or a code that cannot be right when none was mailed. */
export async function signUpCode(email: string): Promise<string> {
  const mail = (await mailsTo(email, "passkey_sign_up_code"))[0];
  return mail ? codeIn(mail) : "000000";
}

/** Passkey-first sign-up: the options (which mail a code to the address), the device's new credential, the verify with the code. */
export async function signUp(device: SoftwareAuthenticator, email: string, o: RegisterOverrides = {}, opts: CallOptions = {}) {
  const data = await expectJson(await signUpOptions(email, "Passkey User", opts), 200);
  const response = await device.register(data.options, o);
  const body = { challenge_token: data.challenge_token, code: await signUpCode(email), response: strip(response) };
  return call("/auth/passkeys/signup/verify", { body, ...opts });
}

/** POST /auth/mfa/passkey/options then /auth/mfa/verify with the device's answer, any outcome. */
export async function stepUpWithPasskey(
  mfaToken: string,
  device: SoftwareAuthenticator,
  o: AuthenticateOverrides = {},
  opts: CallOptions = {},
) {
  const options = (await expectJson(await call("/auth/mfa/passkey/options", { body: { mfa_token: mfaToken }, ...opts }), 200)).options;
  return call("/auth/mfa/verify", { body: { mfa_token: mfaToken, passkey: await device.authenticate(options, o) }, ...opts });
}

/** The account's passkeys (GET /auth/passkeys). */
export async function listPasskeys(token: string): Promise<PasskeyView[]> {
  return (await expectJson(await call("/auth/passkeys", { token }), 200)).passkeys;
}

/** DELETE /auth/passkeys/{id}, any outcome. */
export const removePasskey = (
  token: string,
  id: string,
  body: Record<string, unknown> = { current_password: PASSWORD },
  opts: CallOptions = {},
) => call(`/auth/passkeys/${id}`, { method: "DELETE", body, token, ...opts });

/** The error code of a response. */
export const codeOf = async (res: Response) => (await json(res.clone())).code as string;
