import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { requestReset, resetPassword } from "../auth/password-reset";
import type { AppEnv } from "../context";
import { rateLimit } from "../middleware/rate-limit";
import { jsonLimit } from "./auth";
import { ErrorSchema, emailField, errorResponses, json, jsonBody, MessageSchema, newPassword } from "./schemas";

const ForgotPasswordBody = z.object({ email: emailField }).openapi("ForgotPasswordRequest", { example: { email: "ada@example.com" } });

const CODE_MESSAGE = "Enter the 6-digit code from the email.";

/** The code as typed (a string keeps leading zeros); a number from older clients is accepted and zero-padded. */
const otp = z
  .union(
    [
      z
        .string()
        .trim()
        .regex(/^\d{6}$/, CODE_MESSAGE),
      z.number().int().min(0).max(999_999),
    ],
    { error: CODE_MESSAGE },
  )
  .openapi({ example: "042917", description: "The 6-digit code from the email" });

const ResetPasswordBody = z.object({ email: emailField, otp, new_password: newPassword }).openapi("ResetPasswordRequest", {
  example: { email: "ada@example.com", otp: "042917", new_password: "a new long passphrase" },
});

const FORGOT_MESSAGE = "If an account exists for this email, we have sent it a code to reset the password.";
const RESET_MESSAGE = "Your password has been reset. Log in with your new password.";

const errorExample = (code: string, message: string) => ({
  content: { "application/json": { schema: ErrorSchema, example: { status: "error", code, message } } },
});

const forgotRoute = createRoute({
  method: "post",
  path: "/forgot-password",
  tags: ["Password reset"],
  summary: "Mail a 6-digit reset code to the account's address",
  description:
    "Always answers 200 with the same body, whether or not an account exists for the email. " +
    "The code expires after OTP_TTL (10 minutes at most). One code per account per OTP_RESEND_INTERVAL (60 s): " +
    "a faster request answers 429 with Retry-After, for unknown emails too.",
  middleware: [rateLimit("RL_PASSWORD_RESET"), jsonLimit] as const,
  request: { body: jsonBody(ForgotPasswordBody, "The account's email") },
  responses: {
    200: {
      ...json(MessageSchema, "Accepted; a code is mailed if the account exists"),
      content: { "application/json": { schema: MessageSchema, example: { status: "success", message: FORGOT_MESSAGE } } },
    },
    ...errorResponses(400, 413, 415, 429, 503),
    429: {
      description:
        "A code was requested for this email less than OTP_RESEND_INTERVAL ago, or too many requests from this client (see Retry-After)",
      headers: { "Retry-After": { schema: { type: "integer" }, description: "Seconds to wait" } },
      ...errorExample("too_many_requests", "A code was sent recently. Please wait before requesting another one."),
    },
  },
});

const resetRoute = createRoute({
  method: "post",
  path: "/reset-password",
  tags: ["Password reset"],
  summary: "Set a new password with the mailed code",
  description:
    "The code works once. After OTP_MAX_ATTEMPTS (5) wrong codes it no longer works and a new one must be requested. " +
    "A successful reset ends every session of the account (tokens issued before it stop working) and confirms the email address.",
  middleware: [rateLimit("RL_PASSWORD_RESET"), jsonLimit] as const,
  request: { body: jsonBody(ResetPasswordBody, "Email, the mailed code and the new password") },
  responses: {
    200: {
      ...json(MessageSchema, "Password replaced; every session ended"),
      content: { "application/json": { schema: MessageSchema, example: { status: "success", message: RESET_MESSAGE } } },
    },
    400: {
      description:
        "Validation failed (`validation_failed`), wrong code (`invalid_otp`), expired code (`otp_expired`), " +
        "code already used (`otp_used`) or dead after too many wrong codes (`otp_attempts_exceeded`)",
      ...errorExample("invalid_otp", "The code is incorrect. Check the code in the email or request a new one."),
    },
    ...errorResponses(413, 415, 429, 503),
  },
});

export function passwordResetRoutes() {
  return new OpenAPIHono<AppEnv>()
    .openapi(forgotRoute, async (c) => {
      await requestReset(c.get("deps"), c.get("meta"), c.req.valid("json").email);
      return c.json({ status: "success" as const, message: FORGOT_MESSAGE }, 200);
    })
    .openapi(resetRoute, async (c) => {
      const body = c.req.valid("json");
      const code = typeof body.otp === "number" ? String(body.otp).padStart(6, "0") : body.otp;
      await resetPassword(c.get("deps"), c.get("meta"), { email: body.email, otp: code, newPassword: body.new_password });
      return c.json({ status: "success" as const, message: RESET_MESSAGE }, 200);
    });
}
