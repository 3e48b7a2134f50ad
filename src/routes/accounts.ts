import { OpenAPIHono, z } from "@hono/zod-openapi";
import { ENROLLMENT, SESSION } from "../auth/access";
import { STATUS_REFUSALS } from "../auth/account-status";
import { register } from "../auth/accounts";
import { changePassword } from "../auth/change-password";
import { login } from "../auth/login";
import type { SignInResult } from "../auth/sign-in";
import { publicUser } from "../auth/users";
import type { AppEnv } from "../context";
import { route } from "./route";
import {
  AuthResponseSchema,
  anyPasswordField,
  EXAMPLE_USER,
  json,
  jsonBody,
  LoginBody,
  MessageSchema,
  MFA_REQUIRED_MESSAGE,
  mfaCodeField,
  newPassword,
  RegisterBody,
  SignInResponseSchema,
  UserSchema,
} from "./schemas";

/** The answer of every sign-in (login, MFA verify, later social sign-in): tokens and the user, or the MFA step. */
export const signInAnswer = (result: SignInResult, message = "Logged in.") =>
  result.kind === "session"
    ? { status: "success" as const, message, user: publicUser(result.user), ...result.tokens }
    : {
        status: "mfa_required" as const,
        message: MFA_REQUIRED_MESSAGE,
        mfa_token: result.mfaToken,
        expires_in: result.expiresIn,
        methods: [...result.methods],
      };

/** REGISTER_ENUMERATION_SAFE: one answer for a new and a taken email. */
export const REGISTER_ACCEPTED =
  "Registration received. If this email is new, your account is ready: log in with your email and password. If it already has an account, we have emailed its owner.";
/** REQUIRE_VERIFIED_EMAIL covers the new account: no session before the address is verified. */
export const REGISTER_VERIFY = "Account created. Enter the code we have emailed you to verify your address, then log in.";

const registerRoute = route({
  method: "post",
  path: "/register",
  tags: ["Auth"],
  summary: "Create an account and start a session",
  description:
    "Emails are stored trimmed and lower-cased and are unique in any letter case. The password (8 to 256 characters " +
    "after NFKC) is refused when it is one of the most common passwords or appears in a known breach. " +
    "`admin` can never be self-assigned. With REGISTER_ENUMERATION_SAFE=true every registration answers 202 alike. " +
    "Every new account is mailed a verification code (POST /verify-email). When REQUIRE_VERIFIED_EMAIL covers the account, " +
    "it gets no session yet: 202 and a message instead of tokens.",
  limit: "RL_REGISTER",
  errors: ["email_taken", "password_too_common", "password_breached", "password_check_unavailable", "server_busy"],
  request: { body: jsonBody(RegisterBody, "The new account") },
  responses: {
    201: json(AuthResponseSchema, "Account created; a session is started"),
    202: json(
      MessageSchema,
      "REGISTER_ENUMERATION_SAFE=true: the same answer whether the email was free or taken; or REQUIRE_VERIFIED_EMAIL covers the " +
        "new account. No tokens: verify the address and/or log in next",
    ),
  },
});

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
  errors: ["invalid_credentials", "password_reset_required", ...STATUS_REFUSALS, "email_unverified", "server_busy"],
  request: { body: jsonBody(LoginBody, "Credentials") },
  responses: { 200: json(SignInResponseSchema, "Logged in (a session is started), or the second factor is needed next") },
});

const meRoute = route({
  method: "get",
  path: "/me",
  tags: ["Auth"],
  summary: "The authenticated user",
  description: "The user of the access token's session; the session must still be live (logout takes effect here at once).",
  limit: "RL_DEFAULT",
  auth: ENROLLMENT,
  errors: [],
  responses: {
    200: json(
      z
        .object({ status: z.literal("success"), user: UserSchema })
        .openapi("MeResponse", { example: { status: "success", user: EXAMPLE_USER } }),
      "The caller",
    ),
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

export function accountRoutes() {
  return new OpenAPIHono<AppEnv>()
    .openapi(registerRoute, async (c) => {
      const body = c.req.valid("json");
      const outcome = await register(c.get("deps"), c.get("meta"), {
        fullName: body.full_name,
        email: body.email,
        password: body.password,
        role: body.role,
      });
      if (outcome.kind !== "created")
        return c.json({ status: "success" as const, message: outcome.kind === "accepted" ? REGISTER_ACCEPTED : REGISTER_VERIFY }, 202);
      const { user, tokens } = outcome;
      return c.json({ status: "success" as const, message: "Account created.", user: publicUser(user), ...tokens }, 201);
    })
    .openapi(loginRoute, async (c) => c.json(signInAnswer(await login(c.get("deps"), c.get("meta"), c.req.valid("json"))), 200))
    .openapi(meRoute, (c) => c.json({ status: "success" as const, user: publicUser(c.get("auth").user) }, 200))
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
      return c.json({ status: "success" as const, message: "Password changed.", user: publicUser(user), ...tokens }, 200);
    });
}
