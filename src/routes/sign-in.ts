import { OpenAPIHono, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { STATUS_REFUSALS } from "../auth/account/status";
import { publicUser } from "../auth/account/users";
import type { SignInResult } from "../auth/sign-in/complete";
import { requestSignInCode, verifySignInCode } from "../auth/sign-in/email-code";
import { login } from "../auth/sign-in/password";
import type { AppEnv } from "../context";
import { t } from "../i18n/messages";
import { route, say } from "./route";
import { emailField, json, jsonBody, LoginBody, MessageSchema, otpField, SignInResponseSchema } from "./schemas";
/** The answer of every sign-in (login, MFA verify, social sign-in): tokens and the user, or the MFA step. */
export const signInAnswer = (
  c: Context<AppEnv>,
  result: SignInResult,
  signedIn: "success.logged_in" | "success.signed_in" | "success.account_created" = "success.logged_in",
) =>
  result.kind === "session"
    ? { status: "success" as const, message: say(c, signedIn), user: publicUser(result.user), ...result.tokens }
    : {
        status: "mfa_required" as const,
        message: say(c, "success.mfa_required"),
        mfa_token: result.mfaToken,
        expires_in: result.expiresIn,
        methods: [...result.methods],
      };

export function signInRoutes() {
  /** The ways in by email: a password, or a code mailed to the address (social sign-in: oauth.ts; the second factor: mfa.ts). */

  const loginRoute = route({
    method: "post",
    path: "/login",
    tags: ["Auth"],
    summary: "Log in with email and password",
    description:
      "An unknown email and a wrong password get the same 401 after the same work. Failures are throttled per account: " +
      "after LOGIN_THROTTLE_FREE_FAILURES each attempt waits a doubling delay (429 with Retry-After); at LOGIN_LOCKOUT_FAILURES " +
      "only a password reset unlocks the account (403 password_reset_required). " +
      'On an account with two-factor sign-in the right password answers `status: "mfa_required"` with a single-use `mfa_token` ' +
      "and starts no session: send it with a code to POST /auth/mfa/verify (docs/mfa.md).",
    limit: "RL_LOGIN",
    captcha: { action: "login", when: "risk" },
    errors: ["invalid_credentials", "password_reset_required", ...STATUS_REFUSALS, "email_unverified", "server_busy"],
    request: { body: jsonBody(LoginBody, "Credentials") },
    responses: { 200: json(SignInResponseSchema, "Logged in (a session is started), or the second factor is needed next") },
  });

  const SignInCodeBody = z.object({ email: emailField }).openapi("SignInCodeRequest", { example: { email: "ada@example.com" } });
  const SignInCodeVerifyBody = z
    .object({ email: emailField, code: otpField })
    .openapi("SignInCodeVerifyRequest", { example: { email: "ada@example.com", code: "042917" } });

  const signInCodeRoute = route({
    method: "post",
    path: "/sign-in/code",
    tags: ["Auth"],
    summary: "Mail a 6-digit sign-in code",
    description:
      "Always 202 with the same body, whether or not the account exists or may sign in (a suspended or deleted account is mailed " +
      "nothing); the code is issued and mailed after the answer. Valid SIGN_IN_CODE_TTL (default 10 minutes), under the same " +
      "resend back-off, daily limit and guess budget as every emailed code (docs/password-reset.md). Off with SIGN_IN_CODE=false " +
      "(404).",
    limit: "RL_EMAIL_CODES",
    captcha: { action: "sign_in_code", when: "always" },
    errors: ["not_found"],
    request: { body: jsonBody(SignInCodeBody, "The account's address") },
    responses: {
      202: {
        ...json(MessageSchema, "Accepted (the same answer for every address)"),
        content: {
          "application/json": { schema: MessageSchema, example: { status: "success", message: t("en", "success.sign_in_code_sent") } },
        },
      },
    },
  });

  const signInCodeVerifyRoute = route({
    method: "post",
    path: "/sign-in/code/verify",
    tags: ["Auth"],
    summary: "Sign in with the mailed code",
    description:
      "The code proves the mailbox: the address counts as verified, and the session records amr `email` (one factor; " +
      "docs/tokens-and-sessions.md). An account with two-factor sign-in answers `mfa_required` (continue at POST /auth/mfa/verify): " +
      "a code alone never opens what needs two factors, the admin API included. Off with SIGN_IN_CODE=false (404).",
    limit: "RL_LOGIN",
    captcha: { action: "verify_code", when: "risk" },
    errors: ["not_found", "invalid_otp", "otp_expired", "otp_used", "otp_attempts_exceeded", ...STATUS_REFUSALS, "email_unverified"],
    request: { body: jsonBody(SignInCodeVerifyBody, "The address and the code from the mail") },
    responses: { 200: json(SignInResponseSchema, "Signed in (a session is started), or the second factor is needed next") },
  });

  return new OpenAPIHono<AppEnv>()
    .openapi(loginRoute, async (c) => c.json(signInAnswer(c, await login(c.get("deps"), c.get("meta"), c.req.valid("json"))), 200))
    .openapi(signInCodeRoute, async (c) => {
      await requestSignInCode(c.get("deps"), c.get("meta"), c.req.valid("json").email);
      return c.json({ status: "success" as const, message: say(c, "success.sign_in_code_sent") }, 202);
    })
    .openapi(signInCodeVerifyRoute, async (c) =>
      c.json(signInAnswer(c, await verifySignInCode(c.get("deps"), c.get("meta"), c.req.valid("json")), "success.signed_in"), 200),
    );
}
