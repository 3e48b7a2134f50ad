import { OpenAPIHono } from "@hono/zod-openapi";
import { STATUS_REFUSALS } from "../auth/account/status";
import { publicUser } from "../auth/account/users";
import type { SignInResult } from "../auth/sign-in/complete";
import { login } from "../auth/sign-in/password";
import type { AppEnv } from "../context";
import { route } from "./route";
import { json, jsonBody, LoginBody, MFA_REQUIRED_MESSAGE, SignInResponseSchema } from "./schemas";

/** The ways in: login with a password (each other way in has its own routes file: mfa, oauth). */

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
  errors: ["invalid_credentials", "password_reset_required", ...STATUS_REFUSALS, "email_unverified"],
  request: { body: jsonBody(LoginBody, "Credentials") },
  responses: { 200: json(SignInResponseSchema, "Logged in (a session is started), or the second factor is needed next") },
});

export function signInRoutes() {
  return new OpenAPIHono<AppEnv>().openapi(loginRoute, async (c) =>
    c.json(signInAnswer(await login(c.get("deps"), c.get("meta"), c.req.valid("json"))), 200),
  );
}
