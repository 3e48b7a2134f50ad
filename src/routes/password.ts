import { OpenAPIHono, z } from "@hono/zod-openapi";
import { SESSION } from "../auth/access";
import { publicUser } from "../auth/account/users";
import { changePassword } from "../auth/password/change";
import { requestReset, resetPassword } from "../auth/password/reset";
import type { AppEnv } from "../context";
import { t } from "../i18n/messages";
import { route, say } from "./route";
import {
  AuthResponseSchema,
  anyPasswordField,
  emailField,
  json,
  jsonBody,
  MessageSchema,
  mfaCodeField,
  newPassword,
  otpField,
} from "./schemas";
export function passwordRoutes() {
  /** Passwords: change (signed in), forgot and reset (by a mailed code). */

  const ForgotPasswordBody = z.object({ email: emailField }).openapi("ForgotPasswordRequest", { example: { email: "ada@example.com" } });

  const ResetPasswordBody = z.object({ email: emailField, otp: otpField, new_password: newPassword }).openapi("ResetPasswordRequest", {
    example: { email: "ada@example.com", otp: "042917", new_password: "a new long passphrase" },
  });

  /**
   * `user.email` echoes the normalised address of the request, known or not (it reveals nothing the
   * caller did not send); the old service's mobile app reads it to open its code screen. Never the id.
   */
  const ForgotPasswordResponse = z
    .object({
      status: z.literal("success"),
      message: z.string().max(200),
      user: z.object({
        email: z.string().max(255).openapi({ description: "The email of the request, trimmed and lower-cased" }),
      }),
    })
    .openapi("ForgotPasswordResponse", {
      example: { status: "success", message: t("en", "success.reset_code_sent"), user: { email: "ada@example.com" } },
    });

  const forgotRoute = route({
    method: "post",
    path: "/forgot-password",
    tags: ["Password reset"],
    summary: "Mail a 6-digit reset code to the account's address",
    description:
      "Always answers 200 with the same body, whether or not an account exists for the email; `user.email` is the " +
      "request's email, normalised (trimmed, lower-cased), for known and unknown emails alike. " +
      "The code expires after OTP_TTL (10 minutes at most). The wait between two codes for one email starts at " +
      "OTP_RESEND_INTERVAL (60 s) and doubles with each further code (up to 1 h), with at most OTP_DAILY_LIMIT (10) codes a day: " +
      "an earlier request answers 429 with Retry-After, for unknown emails too.",
    limit: "RL_PASSWORD_RESET",
    captcha: { action: "forgot_password", when: "always" },
    errors: [],
    request: { body: jsonBody(ForgotPasswordBody, "The account's email") },
    responses: {
      200: json(ForgotPasswordResponse, "Accepted; a code is mailed if the account exists"),
    },
  });

  const resetRoute = route({
    method: "post",
    path: "/reset-password",
    tags: ["Password reset"],
    summary: "Set a new password with the mailed code",
    description:
      "The code works once. After OTP_MAX_ATTEMPTS (5) wrong codes it no longer works and a new one must be requested; " +
      "after OTP_FREE_FAILURES (5) wrong codes for an account in 24 hours, each further guess must wait a doubling delay (429). " +
      "A successful reset ends every session of the account, confirms the email address and mails a notice to it.",
    limit: "RL_PASSWORD_RESET",
    captcha: { action: "verify_code", when: "risk" },
    errors: [
      "invalid_otp",
      "otp_expired",
      "otp_used",
      "otp_attempts_exceeded",
      "password_too_common",
      "password_breached",
      "password_check_unavailable",
      "server_busy",
    ],
    request: { body: jsonBody(ResetPasswordBody, "Email, the mailed code and the new password") },
    responses: {
      200: {
        ...json(MessageSchema, "Password replaced; every session ended"),
        content: {
          "application/json": { schema: MessageSchema, example: { status: "success", message: t("en", "success.password_reset") } },
        },
      },
    },
  });

  const ChangePasswordBody = z
    .object({ current_password: anyPasswordField, new_password: newPassword, mfa_code: mfaCodeField })
    .openapi("ChangePasswordRequest", {
      example: { current_password: "correct horse battery staple", new_password: "a much longer and newer passphrase" },
    });

  const changePasswordRoute = route({
    method: "post",
    path: "/change-password",
    tags: ["Auth"],
    summary: "Change password; ends every session and returns a new pair",
    description:
      "The current password is checked through the same per-account throttle as login. Every session ends (this one too); " +
      "the answer carries a fresh pair, and the account's address is told that its password changed. " +
      "With two-factor sign-in on, `mfa_code` is required too.",
    limit: "RL_LOGIN",
    auth: SESSION,
    errors: [
      "invalid_current_password",
      "password_reset_required",
      "password_change_conflict",
      "password_too_common",
      "password_breached",
      "password_check_unavailable",
      "mfa_code_required",
      "invalid_mfa_code",
      "mfa_code_used",
      "server_busy",
    ],
    request: { body: jsonBody(ChangePasswordBody, "Current and new password (and mfa_code with two-factor sign-in)") },
    responses: { 200: json(AuthResponseSchema, "Password changed; other sessions ended") },
  });

  return new OpenAPIHono<AppEnv>()
    .openapi(changePasswordRoute, async (c) => {
      const body = c.req.valid("json");
      const { user, tokens } = await changePassword(
        c.get("deps"),
        c.get("meta"),
        c.get("auth"),
        body.current_password,
        body.new_password,
        body.mfa_code,
      );
      return c.json({ status: "success" as const, message: say(c, "success.password_changed"), user: publicUser(user), ...tokens }, 200);
    })
    .openapi(forgotRoute, async (c) => {
      const { email } = await requestReset(c.get("deps"), c.get("meta"), c.req.valid("json").email);
      return c.json({ status: "success" as const, message: say(c, "success.reset_code_sent"), user: { email } }, 200);
    })
    .openapi(resetRoute, async (c) => {
      const body = c.req.valid("json");
      await resetPassword(c.get("deps"), c.get("meta"), { email: body.email, otp: body.otp, newPassword: body.new_password });
      return c.json({ status: "success" as const, message: say(c, "success.password_reset") }, 200);
    });
}
