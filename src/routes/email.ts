import { OpenAPIHono, z } from "@hono/zod-openapi";
import { SESSION } from "../auth/access";
import { confirmEmailChange, requestEmailChange, revertEmailChange } from "../auth/account/change-email";
import { resendVerification, verifyEmail } from "../auth/account/email-verification";
import { publicUser } from "../auth/account/users";
import { requireMfaCode } from "../auth/mfa/step-up";
import { confirmCurrentPassword } from "../auth/password/confirm";
import type { AppEnv } from "../context";
import type { ErrorCode } from "../errors";
import { t } from "../i18n/messages";
import { route, say } from "./route";
import { anyPasswordField, EXAMPLE_USER, emailField, json, jsonBody, MessageSchema, mfaCodeField, otpField, UserSchema } from "./schemas";
export function emailRoutes() {
  /** The account's email address: verification and change, by mailed codes (docs/email-verification.md). */

  const CODE_ERRORS: ErrorCode[] = ["invalid_otp", "otp_expired", "otp_used", "otp_attempts_exceeded"];

  const UserMessageSchema = z
    .object({ status: z.literal("success"), message: z.string().max(300), user: UserSchema })
    .openapi("UserMessage", { example: { status: "success", message: t("en", "success.email_verified"), user: EXAMPLE_USER } });

  const messageResponse = (description: string, message: string) => ({
    ...json(MessageSchema, description),
    content: { "application/json": { schema: MessageSchema, example: { status: "success" as const, message } } },
  });

  const VerifyEmailBody = z
    .object({ email: emailField, code: otpField })
    .openapi("VerifyEmailRequest", { example: { email: "ada@example.com", code: "042917" } });
  const ResendBody = z.object({ email: emailField }).openapi("ResendVerificationRequest", { example: { email: "ada@example.com" } });
  const ChangeEmailBody = z
    .object({ new_email: emailField, current_password: anyPasswordField, mfa_code: mfaCodeField })
    .openapi("ChangeEmailRequest", { example: { new_email: "ada@newmail.example", current_password: "correct horse battery staple" } });
  const ConfirmChangeBody = z.object({ code: otpField }).openapi("ConfirmEmailChangeRequest", { example: { code: "042917" } });
  const RevertBody = z
    .object({ email: emailField, code: otpField })
    .openapi("RevertEmailChangeRequest", { example: { email: "ada@example.com", code: "042917" } });

  const verifyRoute = route({
    method: "post",
    path: "/verify-email",
    tags: ["Email address"],
    summary: "Verify the account's address with the mailed code",
    description:
      "The code is mailed after registration, on POST /verify-email/resend, and after a login refused with email_unverified. " +
      "It expires after EMAIL_CODE_TTL (15 minutes) and works once; the guess limits are those of every code (OTP_MAX_ATTEMPTS per code, " +
      "OTP_FREE_FAILURES per account before delays). Tokens issued from now on carry `email_verified: true`.",
    limit: "RL_EMAIL_CODES",
    errors: CODE_ERRORS,
    request: { body: jsonBody(VerifyEmailBody, "The account's email and the mailed code") },
    responses: { 200: json(UserMessageSchema, "Verified; the updated user") },
  });

  const resendRoute = route({
    method: "post",
    path: "/verify-email/resend",
    tags: ["Email address"],
    summary: "Mail a new verification code",
    description:
      "Always answers 200 with the same body, whether the email is unknown, verified or not. The wait between two codes starts at " +
      "OTP_RESEND_INTERVAL and doubles (429 with Retry-After before it is over), for unknown emails too.",
    limit: "RL_EMAIL_CODES",
    errors: [],
    request: { body: jsonBody(ResendBody, "The account's email") },
    responses: {
      200: messageResponse(
        "Accepted; a code is mailed if the account exists and is not verified",
        t("en", "success.verification_code_sent"),
      ),
    },
  });

  const changeRoute = route({
    method: "post",
    path: "/change-email",
    tags: ["Email address"],
    summary: "Start changing the account's email address",
    description:
      "The current password is checked through the same per-account throttle as login. A code goes to the new address " +
      "(confirm it with POST /change-email/confirm) and a notice with an undo code to the current one. A new address that belongs to " +
      "another account gets the same answer, but nothing is mailed to it and confirming fails like a wrong code. " +
      "With two-factor sign-in on, `mfa_code` is required too.",
    limit: "RL_LOGIN",
    auth: SESSION,
    errors: [
      "invalid_current_password",
      "password_reset_required",
      "mfa_code_required",
      "invalid_mfa_code",
      "mfa_code_used",
      "server_busy",
    ],
    request: { body: jsonBody(ChangeEmailBody, "The new address and the current password (and mfa_code with two-factor sign-in)") },
    responses: {
      202: messageResponse(
        "Codes mailed (the answer never says whether the new address is free)",
        t("en", "success.email_change_requested"),
      ),
    },
  });

  const confirmRoute = route({
    method: "post",
    path: "/change-email/confirm",
    tags: ["Email address"],
    summary: "Confirm the new address with the code mailed to it",
    description:
      "The address changes and counts as verified; every other session of the account ends (this one stays; refresh it for a token " +
      "with the new `email` claim), and the previous address is told.",
    limit: "RL_EMAIL_CODES",
    auth: SESSION,
    errors: CODE_ERRORS,
    request: { body: jsonBody(ConfirmChangeBody, "The code mailed to the new address") },
    responses: { 200: json(UserMessageSchema, "Changed; the updated user") },
  });

  const revertRoute = route({
    method: "post",
    path: "/change-email/revert",
    tags: ["Email address"],
    summary: "Undo an email change with the code mailed to the previous address",
    description:
      "Within 72 hours of the last change request: the previous address is restored (and counts as verified), every session of the " +
      "account ends and every pending code dies. Wrong guesses do not end an undo code (the per-account delays still apply). " +
      "If the previous address belongs to another account by now, nothing changes: 409 email_revert_conflict.",
    limit: "RL_EMAIL_CODES",
    errors: [...CODE_ERRORS, "email_revert_conflict"],
    request: { body: jsonBody(RevertBody, "The previous address and the undo code mailed to it") },
    responses: { 200: messageResponse("Restored; every session ended", t("en", "success.email_reverted")) },
  });

  return new OpenAPIHono<AppEnv>()
    .openapi(verifyRoute, async (c) => {
      const user = await verifyEmail(c.get("deps"), c.get("meta"), c.req.valid("json"));
      return c.json({ status: "success" as const, message: say(c, "success.email_verified"), user: publicUser(user) }, 200);
    })
    .openapi(resendRoute, async (c) => {
      await resendVerification(c.get("deps"), c.get("meta"), c.req.valid("json").email);
      return c.json({ status: "success" as const, message: say(c, "success.verification_code_sent") }, 200);
    })
    .openapi(changeRoute, async (c) => {
      const body = c.req.valid("json");
      const [deps, meta, auth] = [c.get("deps"), c.get("meta"), c.get("auth")];
      const { user } = await confirmCurrentPassword(deps, meta, auth, body.current_password, "email_change_requested");
      await requireMfaCode(deps, meta, user, body.mfa_code);
      await requestEmailChange(deps, meta, user, body.new_email);
      return c.json({ status: "success" as const, message: say(c, "success.email_change_requested") }, 202);
    })
    .openapi(confirmRoute, async (c) => {
      const user = await confirmEmailChange(c.get("deps"), c.get("meta"), c.get("auth"), c.req.valid("json").code);
      return c.json({ status: "success" as const, message: say(c, "success.email_changed"), user: publicUser(user) }, 200);
    })
    .openapi(revertRoute, async (c) => {
      await revertEmailChange(c.get("deps"), c.get("meta"), c.req.valid("json"));
      return c.json({ status: "success" as const, message: say(c, "success.email_reverted") }, 200);
    });
}
