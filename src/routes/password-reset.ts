import { OpenAPIHono, z } from "@hono/zod-openapi";
import { requestReset, resetPassword } from "../auth/password-reset";
import type { AppEnv } from "../context";
import { route } from "./route";
import { emailField, json, jsonBody, MessageSchema, newPassword, otpField } from "./schemas";

const ForgotPasswordBody = z.object({ email: emailField }).openapi("ForgotPasswordRequest", { example: { email: "ada@example.com" } });

const ResetPasswordBody = z.object({ email: emailField, otp: otpField, new_password: newPassword }).openapi("ResetPasswordRequest", {
  example: { email: "ada@example.com", otp: "042917", new_password: "a new long passphrase" },
});

const FORGOT_MESSAGE = "If an account exists for this email, we have sent it a code to reset the password.";
const RESET_MESSAGE = "Your password has been reset. Log in with your new password.";

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
    example: { status: "success", message: FORGOT_MESSAGE, user: { email: "ada@example.com" } },
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
      content: { "application/json": { schema: MessageSchema, example: { status: "success", message: RESET_MESSAGE } } },
    },
  },
});

export function passwordResetRoutes() {
  return new OpenAPIHono<AppEnv>()
    .openapi(forgotRoute, async (c) => {
      const { email } = await requestReset(c.get("deps"), c.get("meta"), c.req.valid("json").email);
      return c.json({ status: "success" as const, message: FORGOT_MESSAGE, user: { email } }, 200);
    })
    .openapi(resetRoute, async (c) => {
      const body = c.req.valid("json");
      await resetPassword(c.get("deps"), c.get("meta"), { email: body.email, otp: body.otp, newPassword: body.new_password });
      return c.json({ status: "success" as const, message: RESET_MESSAGE }, 200);
    });
}
