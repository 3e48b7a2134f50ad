import { OpenAPIHono, z } from "@hono/zod-openapi";
import { ENROLLMENT, SESSION } from "../auth/access";
import { STATUS_REFUSALS } from "../auth/account/status";
import { confirmTotp, disableMfa, enrollTotp, mfaStatus, regenerateRecoveryCodes } from "../auth/mfa/enrollment";
import type { Proof } from "../auth/mfa/second-factor";
import { verifyMfa } from "../auth/mfa/verify";
import type { AuthenticationResponse } from "../auth/passkeys/ceremonies";
import { secondFactorOptions, verifyMfaWithPasskey } from "../auth/passkeys/second-factor";
import type { AppEnv } from "../context";
import { t } from "../i18n/messages";
import { ASSERTION_ERRORS, EXAMPLE_REQUEST_OPTIONS, optionsAnswer, passkeySchemas } from "./passkeys";
import { route, say } from "./route";
import { AuthResponseSchema, anyPasswordField, int32, issue, json, jsonBody, MessageSchema } from "./schemas";
import { signInAnswer } from "./sign-in";
export function mfaRoutes() {
  const { AuthenticationResponseSchema, RequestOptionsSchema } = passkeySchemas();
  const TAGS = ["Two-factor sign-in"];
  const TOTP_MESSAGE = issue("validation.totp_code");

  const totpCode = z
    .string({ error: TOTP_MESSAGE })
    .max(16, TOTP_MESSAGE)
    .regex(/^\s*\d{3}\s?\d{3}\s*$/, TOTP_MESSAGE)
    .openapi({ example: "123456", description: "The 6-digit code the authenticator app shows now" });
  const recoveryCode = z
    .string({ error: issue("validation.recovery_code_required") })
    .min(1, issue("validation.recovery_code_required"))
    .max(64, issue("validation.recovery_code_length"))
    .openapi({ example: "7km2-q9xd-4hta", description: "One of the recovery codes (case, spaces and hyphens do not matter)" });

  /** Exactly one of `code` and `recovery_code`. */
  const oneProof = <T extends { code?: string; recovery_code?: string }>(b: T) =>
    (b.code === undefined) !== (b.recovery_code === undefined);
  const ONE_PROOF = { message: issue("validation.one_proof"), path: ["code"] };
  const proofFrom = (b: { code?: string; recovery_code?: string }): Proof =>
    b.code !== undefined ? { code: b.code } : { recoveryCode: b.recovery_code! };

  /** The owner's proof of a change to the ways in (src/auth/ways-in.ts). */
  const currentPassword = anyPasswordField.optional().openapi({
    description: "The account's current password (required when it has one; without one, a login within RECENT_AUTH_MAX_AGE suffices)",
  });
  const CodeBody = z
    .object({ code: totpCode, current_password: currentPassword })
    .openapi("MfaCodeRequest", { example: { code: "123456", current_password: "correct horse battery staple" } });
  const ProofBody = z
    .object({ code: totpCode.optional(), recovery_code: recoveryCode.optional(), current_password: currentPassword })
    .refine(oneProof, ONE_PROOF)
    .openapi("MfaProofRequest", { example: { code: "123456", current_password: "correct horse battery staple" } });

  /** A wrong or missing current password (checked through the login throttle). */
  const PASSWORD_ERRORS = ["invalid_current_password", "password_reset_required"] as const;
  const mfaToken = z
    .string({ error: issue("validation.mfa_token_required") })
    .min(1, issue("validation.mfa_token_required"))
    .max(128);
  const VerifyBody = z
    .object({
      mfa_token: mfaToken,
      code: totpCode.optional(),
      recovery_code: recoveryCode.optional(),
      passkey: AuthenticationResponseSchema.optional().openapi({
        description: "A passkey's answer to the options of POST /auth/mfa/passkey/options (credential.toJSON())",
      }),
    })
    .refine((b) => [b.code, b.recovery_code, b.passkey].filter((p) => p !== undefined).length === 1, {
      message: issue("validation.one_proof_or_passkey"),
      path: ["code"],
    })
    .openapi("MfaVerifyRequest", { example: { mfa_token: "pQ8hW3x0rYk2uVd9sLq1cN5mTb7eZf4aJg6iKo0yXw8", code: "123456" } });

  const EXAMPLE_CODES = [
    "7km2-q9xd-4hta",
    "c3vr-8wne-p0jq",
    "m5tz-6bgk-xy21",
    "h9ds-3fqa-w7me",
    "2rnc-vj8t-k4xp",
    "qz6e-1hmb-d5ws",
    "t8ya-p3kf-9gvn",
    "e4jw-x7cq-m2rd",
    "b6nh-5tzs-8ka3",
    "w1gp-r9dv-6yec",
  ];
  const RecoveryCodesSchema = z
    .object({
      status: z.literal("success"),
      message: z.string().max(300),
      recovery_codes: z.array(z.string().max(14)).max(10).openapi({ description: "Shown this once: only their keyed hashes are stored" }),
    })
    .openapi("MfaRecoveryCodes", {
      example: {
        status: "success",
        message: t("en", "success.mfa_enabled"),
        recovery_codes: EXAMPLE_CODES,
      },
    });

  const statusRoute = route({
    method: "get",
    path: "/mfa",
    tags: TAGS,
    summary: "Whether two-factor sign-in is on, and how many recovery codes are left",
    limit: "RL_DEFAULT",
    auth: ENROLLMENT,
    errors: [],
    responses: {
      200: json(
        z
          .object({
            status: z.literal("success"),
            totp: z.enum(["off", "pending", "on"]),
            recovery_codes_remaining: int32(0, 10),
          })
          .openapi("MfaStatus", { example: { status: "success", totp: "on", recovery_codes_remaining: 9 } }),
        "The caller's second factors",
      ),
    },
  });

  const enrollRoute = route({
    method: "post",
    path: "/mfa/totp/enroll",
    tags: TAGS,
    summary: "Start enrolling an authenticator app (TOTP)",
    description:
      "Returns a new secret for a pending factor: `otpauth_uri` for a QR code (rendered by the client) and `secret` (base32) to type in. " +
      "SHA-1, 6 digits, 30 s. Nothing changes until POST /auth/mfa/totp/confirm; enrolling again replaces a pending secret. " +
      "Needs a login within RECENT_AUTH_MAX_AGE and a verified email address (else 403 email_unverified, whatever " +
      "REQUIRE_VERIFIED_EMAIL says).",
    limit: "RL_DEFAULT",
    auth: { ...ENROLLMENT, recentLogin: true },
    errors: ["mfa_already_enabled", "email_unverified"],
    responses: {
      200: json(
        z
          .object({
            status: z.literal("success"),
            message: z.string().max(300),
            secret: z.string().max(64),
            otpauth_uri: z.string().max(1024),
          })
          .openapi("MfaEnrollment", {
            example: {
              status: "success",
              message: t("en", "success.mfa_enroll_started"),
              secret: "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP",
              otpauth_uri:
                "otpauth://totp/Edge%20Auth:ada%40example.com?issuer=Edge%20Auth&algorithm=SHA1&secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&period=30&digits=6",
            },
          }),
        "A pending factor; its secret is shown this once",
      ),
    },
  });

  const confirmRoute = route({
    method: "post",
    path: "/mfa/totp/confirm",
    tags: TAGS,
    summary: "Confirm the authenticator app with a code: two-factor sign-in turns on",
    description:
      "A credential change: a code from the app, `current_password` (an account without a password: a login within " +
      "RECENT_AUTH_MAX_AGE) and a verified email address. Returns 10 recovery codes, this once. Every other session of the account " +
      "ends (this one continues); a notice is mailed to the account's address.",
    limit: "RL_LOGIN",
    auth: ENROLLMENT,
    errors: [
      "mfa_enrollment_not_started",
      "recent_login_required",
      "mfa_already_enabled",
      "invalid_mfa_code",
      "mfa_code_used",
      "email_unverified",
      ...PASSWORD_ERRORS,
    ],
    request: { body: jsonBody(CodeBody, "A current code from the app and the current password") },
    responses: { 200: json(RecoveryCodesSchema, "On; the recovery codes") },
  });

  const disableRoute = route({
    method: "post",
    path: "/mfa/totp/disable",
    tags: TAGS,
    summary: "Turn two-factor sign-in off",
    description:
      "A credential change: needs a login within RECENT_AUTH_MAX_AGE, `current_password` (an account without a password: the recent " +
      "login alone) and a current code (or a recovery code). The factor and every recovery code are removed; a notice is mailed.",
    limit: "RL_LOGIN",
    auth: { ...SESSION, recentLogin: true },
    errors: ["mfa_not_enabled", "invalid_mfa_code", "mfa_code_used", ...PASSWORD_ERRORS],
    request: { body: jsonBody(ProofBody, "A current code, or a recovery code, and the current password") },
    responses: { 200: json(MessageSchema, "Off") },
  });

  const regenerateRoute = route({
    method: "post",
    path: "/mfa/recovery-codes",
    tags: TAGS,
    summary: "Replace the recovery codes",
    description:
      "A credential change: needs a login within RECENT_AUTH_MAX_AGE, `current_password` (an account without a password: the recent " +
      "login alone) and a current code from the app. The old codes stop working; a notice is mailed.",
    limit: "RL_LOGIN",
    auth: { ...SESSION, recentLogin: true },
    errors: ["mfa_not_enabled", "invalid_mfa_code", "mfa_code_used", ...PASSWORD_ERRORS],
    request: { body: jsonBody(CodeBody, "A current code from the app and the current password") },
    responses: { 200: json(RecoveryCodesSchema, "The new recovery codes") },
  });

  const verifyRoute = route({
    method: "post",
    path: "/mfa/verify",
    tags: TAGS,
    summary: "Complete a sign-in with the second factor",
    description:
      "The `mfa_token` from the login answer (single-use, valid MFA_TOKEN_TTL) with one of the `methods` it offered: `code` (a " +
      "current code from the app), `recovery_code`, or `passkey` (the answer to POST /auth/mfa/passkey/options). Wrong codes count " +
      "against the account (MFA_FREE_FAILURES, then doubling delays: 429). The two steps must be two kinds of factor: after a " +
      "passkey without user verification, a passkey needs it (401 passkey_user_verification_required). Answers like a login.",
    limit: "RL_LOGIN",
    errors: [
      "mfa_token_invalid",
      "invalid_mfa_code",
      "mfa_code_used",
      ...STATUS_REFUSALS,
      "not_found",
      ...ASSERTION_ERRORS,
      "passkey_user_verification_required",
    ],
    request: { body: jsonBody(VerifyBody, "The mfa_token and a code, a recovery code or a passkey's answer") },
    responses: { 200: json(AuthResponseSchema, "Logged in; a session is started (amr includes the second factor's values)") },
  });

  const passkeyOptionsRoute = route({
    method: "post",
    path: "/mfa/passkey/options",
    tags: TAGS,
    summary: "Start the second step of a sign-in with a passkey",
    description:
      "For an `mfa_token` whose account holds a passkey (`methods` includes `passkey`): request options naming the account's " +
      "passkeys, for navigator.credentials.get(). The challenge is bound to this mfa_token, single-use, valid 5 minutes; send the " +
      "answer to POST /auth/mfa/verify as `passkey`. 404 when passkeys are not enabled.",
    limit: "RL_LOGIN",
    errors: ["not_found", "mfa_token_invalid"],
    request: {
      body: jsonBody(
        z
          .object({ mfa_token: mfaToken })
          .openapi("MfaPasskeyOptionsRequest", { example: { mfa_token: "pQ8hW3x0rYk2uVd9sLq1cN5mTb7eZf4aJg6iKo0yXw8" } }),
        "The mfa_token",
      ),
    },
    responses: { 200: json(optionsAnswer("MfaPasskeyOptions", RequestOptionsSchema, EXAMPLE_REQUEST_OPTIONS), "The options") },
  });

  return new OpenAPIHono<AppEnv>()
    .openapi(statusRoute, async (c) =>
      c.json({ status: "success" as const, ...(await mfaStatus(c.get("deps"), c.get("auth").user.id)) }, 200),
    )
    .openapi(enrollRoute, async (c) => {
      const enrollment = await enrollTotp(c.get("deps"), c.get("meta"), c.get("auth").user);
      return c.json({ status: "success" as const, message: say(c, "success.mfa_enroll_started"), ...enrollment }, 200);
    })
    .openapi(confirmRoute, async (c) => {
      const body = c.req.valid("json");
      const codes = await confirmTotp(c.get("deps"), c.get("meta"), c.get("auth"), body.code, body.current_password);
      return c.json({ status: "success" as const, message: say(c, "success.mfa_enabled"), recovery_codes: codes }, 200);
    })
    .openapi(disableRoute, async (c) => {
      const body = c.req.valid("json");
      await disableMfa(c.get("deps"), c.get("meta"), c.get("auth"), proofFrom(body), body.current_password);
      return c.json({ status: "success" as const, message: say(c, "success.mfa_disabled") }, 200);
    })
    .openapi(regenerateRoute, async (c) => {
      const body = c.req.valid("json");
      const codes = await regenerateRecoveryCodes(c.get("deps"), c.get("meta"), c.get("auth"), body.code, body.current_password);
      return c.json({ status: "success" as const, message: say(c, "success.recovery_codes_replaced"), recovery_codes: codes }, 200);
    })
    .openapi(passkeyOptionsRoute, async (c) => {
      const options = await secondFactorOptions(c.get("deps"), c.get("meta"), c.req.valid("json").mfa_token);
      return c.json({ status: "success" as const, options: options as z.infer<typeof RequestOptionsSchema> }, 200);
    })
    .openapi(verifyRoute, async (c) => {
      const body = c.req.valid("json");
      const [deps, meta] = [c.get("deps"), c.get("meta")];
      const result = body.passkey
        ? await verifyMfaWithPasskey(deps, meta, body.mfa_token, body.passkey as AuthenticationResponse)
        : await verifyMfa(deps, meta, body.mfa_token, proofFrom(body));
      const answer = signInAnswer(c, result);
      // A verified second factor always ends in a session.
      if (answer.status !== "success") throw new Error("MFA verify asked for a second factor again");
      return c.json(answer, 200);
    });
}
