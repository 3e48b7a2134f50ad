import { OpenAPIHono, z } from "@hono/zod-openapi";
import { PASSKEY_ENROLLMENT, SESSION } from "../auth/access";
import { STATUS_REFUSALS } from "../auth/account/status";
import type { AuthenticationResponse, RegistrationResponse } from "../auth/passkeys/ceremonies";
import { listPasskeys, passkeySignals, removeCallersPasskey, renameCallersPasskey } from "../auth/passkeys/manage";
import { addPasskey, registrationOptions } from "../auth/passkeys/register";
import { loginOptions, loginWithPasskey } from "../auth/passkeys/sign-in";
import { signUpOptions, signUpWithPasskey } from "../auth/passkeys/sign-up";
import { publicPasskey } from "../auth/passkeys/store";
import type { AppEnv } from "../context";
import type { ErrorCode } from "../errors";
import { preferredLocale } from "../i18n/locales";
import { route, say } from "./route";
import {
  anyPasswordField,
  emailField,
  int32,
  issue,
  json,
  jsonBody,
  localeField,
  MessageSchema,
  mfaCodeField,
  otpField,
  SignInResponseSchema,
  sentence,
  timestamp,
  uuid,
} from "./schemas";
import { signInAnswer } from "./sign-in";

/**
 * Passkeys (docs/passkeys.md): adding one to the signed-in account, signing in and signing up with
 * one, the list, names and removal, and the Signal API's data. Options and responses are the
 * WebAuthn Level 3 JSON forms (PublicKeyCredential.parse*OptionsFromJSON, credential.toJSON()).
 * The domain is src/auth/passkeys/; the second-factor step is in mfa.ts.
 */
const TAGS = ["Passkeys"];

const b64url = (max: number, description: string) =>
  z
    .string()
    .min(1)
    .max(max)
    .regex(/^[A-Za-z0-9_-]+$/)
    .openapi({ description });

/** WebAuthn allows credential ids up to 1023 bytes: 1364 base64url characters. */
const credentialId = () => b64url(1366, "The credential id (base64url)");
const RESPONSE_ISSUE = issue("validation.passkey_response");
const EXAMPLE_CREDENTIAL_ID = "Jm3Yd8sN2uR7kTbWcLvHfEa5pZ9oQiXyU4nM6wq1Gx0";
const EXAMPLE_REGISTRATION = {
  id: EXAMPLE_CREDENTIAL_ID,
  rawId: EXAMPLE_CREDENTIAL_ID,
  type: "public-key" as const,
  response: {
    clientDataJSON: "eyJ0eXBlIjoid2ViYXV0aG4uY3JlYXRlIiwiY2hhbGxlbmdlIjoiWHEzdjliVDBrUjdtWXAyc0x3OGVaYzR1TmY2YUhkMWdKaTVvUXIwdFV5OCJ9",
    attestationObject: "o2NmbXRkbm9uZWdhdHRTdG10oGhhdXRoRGF0YVikSZYN5YgOjGh0NBcPZHZgW4_krrmihjLHmVzzuoMdl2NdAAAAAA",
    transports: ["internal", "hybrid"],
    publicKeyAlgorithm: -7,
  },
  authenticatorAttachment: "platform" as const,
  clientExtensionResults: { credProps: { rk: true } },
};
const EXAMPLE_AUTHENTICATION = {
  id: EXAMPLE_CREDENTIAL_ID,
  rawId: EXAMPLE_CREDENTIAL_ID,
  type: "public-key" as const,
  response: {
    clientDataJSON: "eyJ0eXBlIjoid2ViYXV0aG4uZ2V0IiwiY2hhbGxlbmdlIjoiWHEzdjliVDBrUjdtWXAyc0x3OGVaYzR1TmY2YUhkMWdKaTVvUXIwdFV5OCJ9",
    authenticatorData: "SZYN5YgOjGh0NBcPZHZgW4_krrmihjLHmVzzuoMdl2MdAAAAAQ",
    signature: "MEUCIQDx3vZ0k4sLwq9g5lYm2a8hP7cN1rT6uE0jB3fW9yK2sQIgR5nV8mC1xJ4tY7pA2dG6hL0kS9wQ3eZ5uB8iN1oF4aM",
    userHandle: "q1Gx0Jm3Yd8sN2uR7kTbWcLvHfEa5pZ9oQiXyU4nM6w",
  },
  authenticatorAttachment: "platform" as const,
  clientExtensionResults: {},
};

const challenge = () => b64url(128, "The challenge (base64url), single-use, valid 5 minutes");

const EXAMPLE_CHALLENGE = "Xq3v9bT0kR7mYp2sLw8eZc4uNf6aHd1gJi5oQr0tUy8";
const EXAMPLE_CREATION_OPTIONS = {
  rp: { name: "Edge Auth", id: "example.com" },
  user: { id: "q1Gx0Jm3Yd8sN2uR7kTbWcLvHfEa5pZ9oQiXyU4nM6w", name: "ada@example.com", displayName: "Ada Lovelace" },
  challenge: EXAMPLE_CHALLENGE,
  pubKeyCredParams: [
    { alg: -8, type: "public-key" as const },
    { alg: -7, type: "public-key" as const },
    { alg: -257, type: "public-key" as const },
  ],
  timeout: 300000,
  attestation: "none" as const,
  excludeCredentials: [],
  authenticatorSelection: { residentKey: "required" as const, userVerification: "preferred" as const, requireResidentKey: true },
  extensions: { credProps: true },
  hints: [],
};
const EXAMPLE_REQUEST_OPTIONS = {
  rpId: "example.com",
  challenge: EXAMPLE_CHALLENGE,
  allowCredentials: [],
  timeout: 300000,
  userVerification: "preferred" as const,
};
const EXAMPLE_TOKEN = "pQ8hW3x0rYk2uVd9sLq1cN5mTb7eZf4aJg6iKo0yXw8";

/** The options of a ceremony, with an example. */
export const optionsAnswer = (name: string, options: z.ZodType, example: object) =>
  z.object({ status: z.literal("success"), options }).openapi(name, { example: { status: "success", options: example } });
export { EXAMPLE_REQUEST_OPTIONS };

const EXAMPLE_PASSKEY = {
  id: "6c1f0b5e-2d3a-4f8e-9b7c-1a2b3c4d5e6f",
  name: "Passkey",
  created_at: "2026-01-05T09:30:00.000Z",
  last_used_at: "2026-01-06T08:00:00.000Z",
  device_type: "multi_device" as const,
  backed_up: true,
  transports: ["internal", "hybrid"],
  aaguid: "00000000-0000-0000-0000-000000000000",
};

/** The owner's proof fails: the codes confirmOwner and requireMfaCode answer. */
const OWNER_PROOF_ERRORS = [
  "invalid_current_password",
  "password_reset_required",
  "mfa_code_required",
  "invalid_mfa_code",
  "mfa_code_used",
  "recent_login_required",
  "too_many_requests",
] as const satisfies readonly ErrorCode[];

/** Every refusal of a passkey assertion (src/auth/passkeys/prove.ts). */
export const ASSERTION_ERRORS = [
  "passkey_challenge_invalid",
  "passkey_unknown",
  "passkey_invalid",
  "passkey_counter_regressed",
] as const satisfies readonly ErrorCode[];

/** The schemas passkey requests and answers share (here and in mfa.ts), built when a group first needs them. */
let sharedBuilt: ReturnType<typeof buildShared> | undefined;
export const passkeySchemas = () => (sharedBuilt ??= buildShared());
function buildShared() {
  const transports = z
    .array(z.string().max(16))
    .max(8)
    .openapi({
      description: "How the authenticator can be reached: internal, hybrid, usb, nfc, ble, ...",
      example: ["internal", "hybrid"],
    });
  const attachment = z.enum(["platform", "cross-platform"]).nullable().optional();
  const extensionResults = z
    .object({ credProps: z.object({ rk: z.boolean().optional() }).optional() })
    .default({})
    .openapi({ description: "clientExtensionResults (only credProps is read)" });

  const RegistrationResponseSchema = z
    .object(
      {
        id: credentialId(),
        rawId: credentialId(),
        type: z.literal("public-key"),
        response: z.object({
          clientDataJSON: b64url(4096, "clientDataJSON (base64url)"),
          attestationObject: b64url(8192, "attestationObject (base64url)"),
          authenticatorData: b64url(8192, "authenticatorData (base64url)").optional(),
          transports: transports.optional(),
          publicKeyAlgorithm: int32(-65536, 65536).optional(),
          publicKey: b64url(4096, "SubjectPublicKeyInfo (base64url)").optional(),
        }),
        authenticatorAttachment: attachment,
        clientExtensionResults: extensionResults,
      },
      { error: RESPONSE_ISSUE },
    )
    .openapi("PasskeyRegistrationResponse", {
      description: "A PublicKeyCredential from navigator.credentials.create(), as credential.toJSON() gives it (WebAuthn Level 3)",
      example: EXAMPLE_REGISTRATION,
    });

  const AuthenticationResponseSchema = z
    .object(
      {
        id: credentialId(),
        rawId: credentialId(),
        type: z.literal("public-key"),
        response: z.object({
          clientDataJSON: b64url(4096, "clientDataJSON (base64url)"),
          authenticatorData: b64url(8192, "authenticatorData (base64url)"),
          signature: b64url(2048, "The signature (base64url)"),
          userHandle: b64url(88, "The user handle the passkey was made with (base64url)").nullable().optional(),
        }),
        authenticatorAttachment: attachment,
        clientExtensionResults: extensionResults,
      },
      { error: RESPONSE_ISSUE },
    )
    .openapi("PasskeyAuthenticationResponse", {
      description: "A PublicKeyCredential from navigator.credentials.get(), as credential.toJSON() gives it (WebAuthn Level 3)",
      example: EXAMPLE_AUTHENTICATION,
    });

  const descriptor = z.object({ id: credentialId(), type: z.literal("public-key"), transports: transports.optional() });
  const CreationOptionsSchema = z
    .object({
      rp: z.object({ id: z.string().max(253).optional(), name: z.string().max(100) }),
      user: z.object({
        id: b64url(88, "The account's user handle (random, never the email)"),
        name: z.string().max(255),
        displayName: z.string().max(100),
      }),
      challenge: challenge(),
      pubKeyCredParams: z.array(z.object({ type: z.literal("public-key"), alg: int32(-65536, 65536) })).max(8),
      timeout: int32(0, 600_000).optional(),
      excludeCredentials: z.array(descriptor).max(100).optional(),
      authenticatorSelection: z
        .object({
          residentKey: z.enum(["required", "preferred", "discouraged"]).optional(),
          requireResidentKey: z.boolean().optional(),
          userVerification: z.enum(["required", "preferred", "discouraged"]).optional(),
          authenticatorAttachment: z.enum(["platform", "cross-platform"]).optional(),
        })
        .optional(),
      attestation: z.enum(["none", "direct", "enterprise", "indirect"]).optional(),
      hints: z.array(z.string().max(32)).max(3).optional(),
      extensions: z.object({ credProps: z.boolean().optional() }).optional(),
    })
    .openapi("PasskeyCreationOptions", {
      description: "PublicKeyCredentialCreationOptionsJSON: pass it to PublicKeyCredential.parseCreationOptionsFromJSON()",
      example: EXAMPLE_CREATION_OPTIONS,
    });
  const RequestOptionsSchema = z
    .object({
      challenge: challenge(),
      timeout: int32(0, 600_000).optional(),
      rpId: z.string().max(253).optional(),
      allowCredentials: z.array(descriptor).max(100).optional(),
      userVerification: z.enum(["required", "preferred", "discouraged"]).optional(),
      hints: z.array(z.string().max(32)).max(3).optional(),
    })
    .openapi("PasskeyRequestOptions", {
      description: "PublicKeyCredentialRequestOptionsJSON: pass it to PublicKeyCredential.parseRequestOptionsFromJSON()",
      example: EXAMPLE_REQUEST_OPTIONS,
    });

  const challengeToken = z
    .string({ error: issue("validation.challenge_token_required") })
    .min(1, issue("validation.challenge_token_required"))
    .max(128)
    .regex(/^[A-Za-z0-9_-]+$/, issue("validation.challenge_token_format"))
    .openapi({ description: "The single-use token the options answered", example: EXAMPLE_TOKEN });

  const passkeyName = z
    .string({ error: issue("validation.passkey_name") })
    .trim()
    .min(1, issue("validation.passkey_name"))
    .max(64, issue("validation.passkey_name"))
    .openapi({ description: "A name for the account's list (default Passkey)", example: "Laptop" });

  const PasskeySchema = z
    .object({
      id: uuid(),
      name: z.string().max(64),
      created_at: timestamp(),
      last_used_at: timestamp().nullable(),
      device_type: z
        .enum(["single_device", "multi_device"])
        .openapi({ description: "`multi_device`: a synced passkey (backup eligible); `single_device`: bound to one authenticator" }),
      backed_up: z.boolean().openapi({ description: "The synced passkey is backed up now (as its last use said)" }),
      transports: z.array(z.string().max(16)).max(8),
      aaguid: z.string().uuid().max(36).openapi({ description: "The authenticator model's AAGUID (all zeros when it does not say)" }),
    })
    .openapi("Passkey", { example: EXAMPLE_PASSKEY });

  const ownerProof = {
    current_password: anyPasswordField.optional().openapi({
      description: "The account's current password (required when it has one; without one, a login within RECENT_AUTH_MAX_AGE)",
    }),
    mfa_code: mfaCodeField,
  };

  return {
    transports,
    attachment,
    extensionResults,
    RegistrationResponseSchema,
    AuthenticationResponseSchema,
    descriptor,
    CreationOptionsSchema,
    RequestOptionsSchema,
    challengeToken,
    passkeyName,
    PasskeySchema,
    ownerProof,
  };
}

export function passkeyRoutes() {
  const {
    RegistrationResponseSchema,
    AuthenticationResponseSchema,
    CreationOptionsSchema,
    RequestOptionsSchema,
    challengeToken,
    passkeyName,
    PasskeySchema,
    ownerProof,
  } = passkeySchemas();
  const OFF = "404 when passkeys are not enabled (WEBAUTHN_RP_ID unset).";

  const registerOptionsRoute = route({
    method: "post",
    path: "/passkeys/register/options",
    tags: TAGS,
    summary: "Start adding a passkey to the signed-in account",
    description:
      "Creation options for navigator.credentials.create(): a discoverable credential (resident key required), user verification " +
      "preferred, attestation none, EdDSA, ES256 or RS256, the account's passkeys excluded, `user.id` the account's random user handle. " +
      "The challenge is bound to this account, single-use, valid 5 minutes. Needs a recent login and a verified address. " +
      OFF,
    limit: "RL_DEFAULT",
    auth: { ...PASSKEY_ENROLLMENT, recentLogin: true },
    errors: ["not_found", "email_unverified"],
    responses: {
      200: json(optionsAnswer("PasskeyRegistrationOptions", CreationOptionsSchema, EXAMPLE_CREATION_OPTIONS), "The options"),
    },
  });

  const registerVerifyRoute = route({
    method: "post",
    path: "/passkeys/register/verify",
    tags: TAGS,
    summary: "Add the passkey the authenticator created",
    description:
      "A credential change: needs a recent login, `current_password` (an account without a password: the recent login alone), " +
      "`mfa_code` when an authenticator app is on, and a verified address. The response must answer this account's live challenge, " +
      "from one of WEBAUTHN_ORIGINS for WEBAUTHN_RP_ID. The address is told. " +
      OFF,
    limit: "RL_LOGIN",
    auth: { ...PASSKEY_ENROLLMENT, recentLogin: true },
    errors: [
      "not_found",
      "email_unverified",
      "passkey_challenge_invalid",
      "passkey_invalid",
      "passkey_already_registered",
      ...OWNER_PROOF_ERRORS,
    ],
    request: {
      body: jsonBody(
        z
          .object({ response: RegistrationResponseSchema, name: passkeyName.optional(), ...ownerProof })
          .openapi("PasskeyRegistrationRequest", {
            example: { response: EXAMPLE_REGISTRATION, name: "Laptop", current_password: "correct horse battery staple" },
          }),
        "The new credential, its name and the owner's proof",
      ),
    },
    responses: {
      201: json(
        z
          .object({ status: z.literal("success"), message: sentence(), passkey: PasskeySchema })
          .openapi("PasskeyAdded", { example: { status: "success", message: "Passkey added.", passkey: EXAMPLE_PASSKEY } }),
        "Added",
      ),
    },
  });

  const listRoute = route({
    method: "get",
    path: "/passkeys",
    tags: TAGS,
    summary: "The caller's passkeys",
    description: `Oldest first; never a public key. ${OFF}`,
    limit: "RL_DEFAULT",
    auth: SESSION,
    errors: ["not_found"],
    responses: {
      200: json(
        z
          .object({ status: z.literal("success"), passkeys: z.array(PasskeySchema).max(1000) })
          .openapi("PasskeyList", { example: { status: "success", passkeys: [EXAMPLE_PASSKEY] } }),
        "The passkeys",
      ),
    },
  });

  const IdParams = z.object({ id: uuid(issue("validation.passkey_id")).openapi({ param: { name: "id", in: "path" } }) });

  const renameRoute = route({
    method: "patch",
    path: "/passkeys/{id}",
    tags: TAGS,
    summary: "Rename one of the caller's passkeys",
    description: OFF,
    limit: "RL_DEFAULT",
    auth: SESSION,
    errors: ["not_found", "passkey_not_found"],
    request: {
      params: IdParams,
      body: jsonBody(z.object({ name: passkeyName }).openapi("PasskeyRenameRequest", { example: { name: "Laptop" } }), "The new name"),
    },
    responses: {
      200: json(
        z
          .object({ status: z.literal("success"), passkey: PasskeySchema })
          .openapi("PasskeyRenamed", { example: { status: "success", passkey: { ...EXAMPLE_PASSKEY, name: "Laptop" } } }),
        "Renamed",
      ),
    },
  });

  const removeRoute = route({
    method: "delete",
    path: "/passkeys/{id}",
    tags: TAGS,
    summary: "Remove one of the caller's passkeys",
    description:
      "A credential change: needs a recent login, `current_password` (an account without a password: the recent login alone) and " +
      "`mfa_code` when an authenticator app is on. Never the account's last way to sign in (409 last_sign_in_method). The address is " +
      "told. The device keeps offering the passkey until the client signals it (GET /passkeys/signals, or the `credential_id` of a " +
      `later passkey_unknown). ${OFF}`,
    limit: "RL_LOGIN",
    auth: { ...SESSION, recentLogin: true },
    errors: ["not_found", "passkey_not_found", "last_sign_in_method", ...OWNER_PROOF_ERRORS],
    request: {
      params: IdParams,
      body: jsonBody(
        z.object(ownerProof).openapi("PasskeyRemoveRequest", { example: { current_password: "correct horse battery staple" } }),
        "The owner's proof",
      ),
    },
    responses: { 200: json(MessageSchema, "Removed") },
  });

  const SignalsSchema = z
    .object({
      status: z.literal("success"),
      all_accepted_credentials: z
        .object({
          rpId: z.string().max(253),
          userId: b64url(88, "The user handle"),
          allAcceptedCredentialIds: z.array(credentialId()).max(1000),
        })
        .nullable()
        .openapi({ description: "Pass it to PublicKeyCredential.signalAllAcceptedCredentials(); null: the account never had a passkey" }),
      current_user_details: z
        .object({
          rpId: z.string().max(253),
          userId: b64url(88, "The user handle"),
          name: z.string().max(255),
          displayName: z.string().max(100),
        })
        .nullable()
        .openapi({ description: "Pass it to PublicKeyCredential.signalCurrentUserDetails(); null: the account never had a passkey" }),
    })
    .openapi("PasskeySignals", {
      example: {
        status: "success",
        all_accepted_credentials: {
          rpId: "example.com",
          userId: "q1Gx0Jm3Yd8sN2uR7kTbWcLvHfEa5pZ9oQiXyU4nM6w",
          allAcceptedCredentialIds: ["Jm3Yd8sN2uR7kTbWcLvHfEa5pZ9oQiXyU4nM6wq1Gx0"],
        },
        current_user_details: {
          rpId: "example.com",
          userId: "q1Gx0Jm3Yd8sN2uR7kTbWcLvHfEa5pZ9oQiXyU4nM6w",
          name: "ada@example.com",
          displayName: "Ada Lovelace",
        },
      },
    });

  const signalsRoute = route({
    method: "get",
    path: "/passkeys/signals",
    tags: TAGS,
    summary: "What the WebAuthn Signal API needs to keep the user's devices in step",
    description:
      "Under the WebAuthn member names: the passkeys this account accepts (devices drop the others) and its current address and " +
      `name (devices update what they show). ${OFF}`,
    limit: "RL_DEFAULT",
    auth: SESSION,
    errors: ["not_found"],
    responses: { 200: json(SignalsSchema, "The signals") },
  });

  const withToken = (name: string, options: z.ZodType, example: object) =>
    z
      .object({ status: z.literal("success"), options, challenge_token: challengeToken })
      .openapi(name, { example: { status: "success", options: example, challenge_token: EXAMPLE_TOKEN } });

  const loginOptionsRoute = route({
    method: "post",
    path: "/passkeys/login/options",
    tags: TAGS,
    summary: "Start signing in with a passkey",
    description:
      'Request options for navigator.credentials.get() (or conditional UI: `mediation: "conditional"`) and a single-use ' +
      "`challenge_token` for the verify (valid 5 minutes). Without `email` no credential is named: the authenticator offers the " +
      "passkeys it holds for this site. With `email`, that account's passkeys are named (REGISTER_ENUMERATION_SAFE: ignored). " +
      OFF,
    limit: "RL_LOGIN",
    errors: ["not_found"],
    request: {
      body: jsonBody(
        z.object({ email: emailField.optional() }).openapi("PasskeyLoginOptionsRequest", { example: {} }),
        "Optionally the address",
      ),
    },
    responses: {
      200: json(withToken("PasskeyLoginOptions", RequestOptionsSchema, EXAMPLE_REQUEST_OPTIONS), "The options and the challenge_token"),
    },
  });

  const loginVerifyRoute = route({
    method: "post",
    path: "/passkeys/login/verify",
    tags: TAGS,
    summary: "Sign in with the passkey's answer",
    description:
      "Answers like POST /login. A passkey with user verification is two factors and phishing-resistant (amr `hwk` or `swk` and " +
      "`user`, acr `phishing-resistant`): a session at once. Without user verification it is one factor: an account with a second " +
      'factor answers `status: "mfa_required"`. `passkey_unknown` carries the `credential_id` to pass to ' +
      `PublicKeyCredential.signalUnknownCredential(). ${OFF}`,
    limit: "RL_LOGIN",
    errors: ["not_found", ...ASSERTION_ERRORS, ...STATUS_REFUSALS, "email_unverified", "invalid_credentials"],
    request: {
      body: jsonBody(
        z
          .object({ challenge_token: challengeToken, response: AuthenticationResponseSchema })
          .openapi("PasskeyLoginRequest", { example: { challenge_token: EXAMPLE_TOKEN, response: EXAMPLE_AUTHENTICATION } }),
        "The challenge_token and the credential",
      ),
    },
    responses: { 200: json(SignInResponseSchema, "Signed in (a session is started), or the second factor is needed next") },
  });

  const signUpOptionsRoute = route({
    method: "post",
    path: "/passkeys/signup/options",
    tags: TAGS,
    summary: "Start a passkey-first sign-up",
    description:
      "Creation options for a new account's first passkey (a fresh random user handle) and a single-use `challenge_token`, and a " +
      "6-digit code mailed to the address (valid as long as the challenge, within the send throttle of verification codes: 429 " +
      "when too soon) that the verify needs. An address that has an account answers 409 email_taken, as POST /register does (with " +
      "REGISTER_ENUMERATION_SAFE: options alike, no code; its owner is told). `locale` (else the request's Accept-Language, else " +
      "not set) becomes the account's language, as at POST /register; the code mail is written in it. " +
      OFF,
    limit: "RL_REGISTER",
    captcha: { action: "register", when: "always" },
    errors: ["not_found", "email_taken"],
    request: {
      body: jsonBody(
        z
          .object({
            email: emailField,
            full_name: z
              .string({ error: issue("validation.full_name_required") })
              .trim()
              .min(1, issue("validation.full_name_required"))
              .max(100, issue("validation.full_name_too_long"))
              .openapi({ example: "Ada Lovelace" }),
            locale: localeField.optional(),
          })
          .openapi("PasskeySignUpOptionsRequest", { example: { email: "ada@example.com", full_name: "Ada Lovelace", locale: "hi" } }),
        "The new account",
      ),
    },
    responses: {
      200: json(withToken("PasskeySignUpOptions", CreationOptionsSchema, EXAMPLE_CREATION_OPTIONS), "The options and the challenge_token"),
    },
  });

  const signUpVerifyRoute = route({
    method: "post",
    path: "/passkeys/signup/verify",
    tags: TAGS,
    summary: "Create the account with the passkey the authenticator made",
    description:
      "`code` is the 6-digit code the options mailed to the address: it proves the mailbox, so the account is created with its " +
      "address verified and the passkey made after that proof (a wrong code leaves the challenge usable; guesses are limited per " +
      "address like every mailed code). The account has no password (the unusable marker) and the role student. Answers like POST " +
      "/register: 201 with a session (or the second factor next, for a passkey made without user verification), 202 without tokens " +
      "when REGISTER_ENUMERATION_SAFE is on and the address was taken, 409 email_taken for a taken address (never a way into that " +
      `account). ${OFF}`,
    limit: "RL_REGISTER",
    errors: ["not_found", "email_taken", "passkey_challenge_invalid", "passkey_invalid", "passkey_already_registered", "invalid_otp"],
    request: {
      body: jsonBody(
        z
          .object({ challenge_token: challengeToken, code: otpField, response: RegistrationResponseSchema })
          .openapi("PasskeySignUpRequest", {
            example: { challenge_token: EXAMPLE_TOKEN, code: "042917", response: EXAMPLE_REGISTRATION },
          }),
        "The challenge_token, the code mailed by the options, and the new credential",
      ),
    },
    responses: {
      201: json(SignInResponseSchema, "Account created; a session is started (or the second factor is needed next)"),
      202: json(MessageSchema, "REGISTER_ENUMERATION_SAFE, or REQUIRE_VERIFIED_EMAIL covers the new account: no tokens"),
    },
  });

  return new OpenAPIHono<AppEnv>()
    .openapi(registerOptionsRoute, async (c) => {
      const options = await registrationOptions(c.get("deps"), c.get("auth"));
      return c.json({ status: "success" as const, options: options as z.infer<typeof CreationOptionsSchema> }, 200);
    })
    .openapi(registerVerifyRoute, async (c) => {
      const body = c.req.valid("json");
      const passkey = await addPasskey(c.get("deps"), c.get("meta"), c.get("auth"), {
        response: body.response as RegistrationResponse,
        name: body.name,
        proof: { currentPassword: body.current_password, mfaCode: body.mfa_code },
      });
      return c.json({ status: "success" as const, message: say(c, "success.passkey_added"), passkey: publicPasskey(passkey) }, 201);
    })
    .openapi(listRoute, async (c) => {
      const list = await listPasskeys(c.get("deps"), c.get("auth"));
      return c.json({ status: "success" as const, passkeys: list.map(publicPasskey) }, 200);
    })
    .openapi(signalsRoute, async (c) => {
      const s = await passkeySignals(c.get("deps"), c.get("auth"));
      return c.json(
        { status: "success" as const, all_accepted_credentials: s.allAcceptedCredentials, current_user_details: s.currentUserDetails },
        200,
      );
    })
    .openapi(renameRoute, async (c) => {
      const passkey = await renameCallersPasskey(
        c.get("deps"),
        c.get("meta"),
        c.get("auth"),
        c.req.valid("param").id,
        c.req.valid("json").name,
      );
      return c.json({ status: "success" as const, passkey: publicPasskey(passkey) }, 200);
    })
    .openapi(removeRoute, async (c) => {
      const body = c.req.valid("json");
      await removeCallersPasskey(c.get("deps"), c.get("meta"), c.get("auth"), c.req.valid("param").id, {
        currentPassword: body.current_password,
        mfaCode: body.mfa_code,
      });
      return c.json({ status: "success" as const, message: say(c, "success.passkey_removed") }, 200);
    })
    .openapi(loginOptionsRoute, async (c) => {
      const { options, challengeToken } = await loginOptions(c.get("deps"), c.req.valid("json").email);
      return c.json(
        { status: "success" as const, options: options as z.infer<typeof RequestOptionsSchema>, challenge_token: challengeToken },
        200,
      );
    })
    .openapi(loginVerifyRoute, async (c) => {
      const body = c.req.valid("json");
      const result = await loginWithPasskey(c.get("deps"), c.get("meta"), {
        challengeToken: body.challenge_token,
        response: body.response as AuthenticationResponse,
      });
      return c.json(signInAnswer(c, result, "success.signed_in"), 200);
    })
    .openapi(signUpOptionsRoute, async (c) => {
      const body = c.req.valid("json");
      const { options, challengeToken } = await signUpOptions(c.get("deps"), c.get("meta"), {
        email: body.email,
        fullName: body.full_name,
        locale: body.locale ?? preferredLocale(c.req.header("accept-language")) ?? null,
      });
      return c.json(
        { status: "success" as const, options: options as z.infer<typeof CreationOptionsSchema>, challenge_token: challengeToken },
        200,
      );
    })
    .openapi(signUpVerifyRoute, async (c) => {
      const body = c.req.valid("json");
      const outcome = await signUpWithPasskey(c.get("deps"), c.get("meta"), {
        challengeToken: body.challenge_token,
        response: body.response as RegistrationResponse,
        code: body.code,
      });
      if (outcome.kind === "accepted")
        return c.json({ status: "success" as const, message: say(c, "success.passkey_signup_accepted") }, 202);
      return c.json(signInAnswer(c, outcome.result, "success.account_created"), 201);
    });
}
