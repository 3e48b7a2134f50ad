import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { login, publicUser, register } from "../auth/accounts";
import { audit } from "../auth/audit";
import { changePassword } from "../auth/change-password";
import { endAllSessions, endSession, listSessions, refresh } from "../auth/sessions";
import type { AppEnv } from "../context";
import { AppError } from "../errors";
import { rateLimit } from "../middleware/rate-limit";
import { requireAuth } from "../middleware/require-auth";
import {
  AuthResponseSchema,
  anyPasswordField,
  EXAMPLE_TOKENS,
  EXAMPLE_USER,
  errorResponses,
  json,
  jsonBody,
  LoginBody,
  MessageSchema,
  newPassword,
  RefreshBody,
  RegisterBody,
  TokenPairSchema,
  UserSchema,
} from "./schemas";

/** JSON bodies are small: refuse anything over JSON_BODY_LIMIT before parsing it. */
export const jsonLimit: MiddlewareHandler<AppEnv> = (c, next) =>
  bodyLimit({
    maxSize: c.get("deps").config.jsonBodyLimit,
    onError: () => {
      throw new AppError(413, "payload_too_large", "The request body is too large.");
    },
  })(c, next);

const bearer = [{ bearerAuth: [] }];

/** REGISTER_ENUMERATION_SAFE: one answer for a new and a taken email. */
export const REGISTER_ACCEPTED =
  "Registration received. If this email is new, your account is ready: log in with your email and password. If it already has an account, we have emailed its owner.";

const registerRoute = createRoute({
  method: "post",
  path: "/register",
  tags: ["Auth"],
  summary: "Create an account and start a session",
  middleware: [rateLimit("RL_REGISTER"), jsonLimit] as const,
  request: { body: jsonBody(RegisterBody, "The new account") },
  responses: {
    201: json(AuthResponseSchema, "Account created; a session is started"),
    202: json(
      MessageSchema,
      "REGISTER_ENUMERATION_SAFE=true only: the same answer whether the email was free or taken; no tokens (log in next)",
    ),
    ...errorResponses(400, 409, 413, 415, 429, 503),
  },
});

const loginRoute = createRoute({
  method: "post",
  path: "/login",
  tags: ["Auth"],
  summary: "Log in with email and password",
  middleware: [rateLimit("RL_LOGIN"), jsonLimit] as const,
  request: { body: jsonBody(LoginBody, "Credentials") },
  responses: {
    200: json(AuthResponseSchema, "Logged in; a session is started"),
    ...errorResponses(400, 401, 403, 413, 415, 429, 503),
  },
});

const meRoute = createRoute({
  method: "get",
  path: "/me",
  tags: ["Auth"],
  summary: "The authenticated user",
  security: bearer,
  middleware: [rateLimit("RL_DEFAULT"), requireAuth] as const,
  responses: {
    200: json(
      z
        .object({ status: z.literal("success"), user: UserSchema })
        .openapi("MeResponse", { example: { status: "success", user: EXAMPLE_USER } }),
      "The caller",
    ),
    ...errorResponses(401, 429, 503),
  },
});

const refreshRoute = createRoute({
  method: "post",
  path: "/refresh",
  tags: ["Sessions"],
  summary: "Exchange a refresh token for a new token pair (rotation)",
  middleware: [rateLimit("RL_REFRESH"), jsonLimit] as const,
  request: { body: jsonBody(RefreshBody, "The current refresh token") },
  responses: {
    200: json(
      z
        .object({ status: z.literal("success"), message: z.string() })
        .merge(TokenPairSchema)
        .openapi("RefreshResponse", { example: { status: "success", message: "Tokens refreshed.", ...EXAMPLE_TOKENS } }),
      "A new pair; the presented refresh token is consumed",
    ),
    ...errorResponses(400, 401, 413, 415, 429, 503),
  },
});

const logoutRoute = createRoute({
  method: "post",
  path: "/logout",
  tags: ["Sessions"],
  summary: "End the current session",
  security: bearer,
  middleware: [rateLimit("RL_DEFAULT"), requireAuth] as const,
  responses: { 200: json(MessageSchema, "Session ended"), ...errorResponses(401, 429, 503) },
});

const logoutAllRoute = createRoute({
  method: "post",
  path: "/logout-all",
  tags: ["Sessions"],
  summary: "End every session of the caller",
  security: bearer,
  middleware: [rateLimit("RL_DEFAULT"), requireAuth] as const,
  responses: { 200: json(MessageSchema, "All sessions ended"), ...errorResponses(401, 429, 503) },
});

const SessionSchema = z
  .object({
    id: z.string().uuid(),
    created_at: z.string(),
    last_used_at: z.string(),
    expires_at: z.string(),
    user_agent: z.string().nullable(),
    ip: z.string().nullable(),
    current: z.boolean(),
  })
  .openapi("Session");

const sessionsRoute = createRoute({
  method: "get",
  path: "/sessions",
  tags: ["Sessions"],
  summary: "List the caller's active sessions",
  security: bearer,
  middleware: [rateLimit("RL_DEFAULT"), requireAuth] as const,
  responses: {
    200: json(
      z.object({ status: z.literal("success"), sessions: z.array(SessionSchema) }).openapi("SessionList", {
        example: {
          status: "success",
          sessions: [
            {
              id: "8b0f6a52-5c1d-4e7a-9d3b-1f2e3a4b5c6d",
              created_at: "2026-01-05T09:30:00.000Z",
              last_used_at: "2026-01-05T10:12:41.000Z",
              expires_at: "2026-02-04T09:30:00.000Z",
              user_agent: "Mozilla/5.0 (X11; Linux x86_64)",
              ip: "203.0.113.7",
              current: true,
            },
          ],
        },
      }),
      "Active sessions",
    ),
    ...errorResponses(401, 429, 503),
  },
});

const endSessionRoute = createRoute({
  method: "delete",
  path: "/sessions/{id}",
  tags: ["Sessions"],
  summary: "End one of the caller's sessions",
  security: bearer,
  middleware: [rateLimit("RL_DEFAULT"), requireAuth] as const,
  request: {
    params: z.object({
      id: z
        .string()
        .uuid("Session id must be a UUID.")
        .openapi({ param: { name: "id", in: "path" } }),
    }),
  },
  responses: { 200: json(MessageSchema, "Session ended"), ...errorResponses(400, 401, 404, 429, 503) },
});

const ChangePasswordBody = z.object({ current_password: anyPasswordField, new_password: newPassword }).openapi("ChangePasswordRequest", {
  example: { current_password: "correct horse battery staple", new_password: "a much longer and newer passphrase" },
});

const changePasswordRoute = createRoute({
  method: "post",
  path: "/change-password",
  tags: ["Auth"],
  summary: "Change password; ends every other session and returns a new pair",
  security: bearer,
  middleware: [rateLimit("RL_LOGIN"), jsonLimit, requireAuth] as const,
  request: { body: jsonBody(ChangePasswordBody, "Current and new password") },
  responses: {
    200: json(AuthResponseSchema, "Password changed; other sessions ended"),
    ...errorResponses(400, 401, 413, 415, 429, 503),
  },
});

export function authRoutes() {
  return new OpenAPIHono<AppEnv>()
    .openapi(registerRoute, async (c) => {
      const body = c.req.valid("json");
      const outcome = await register(c.get("deps"), c.get("meta"), {
        fullName: body.full_name,
        email: body.email,
        password: body.password,
        role: body.role,
      });
      if (outcome.kind === "accepted") return c.json({ status: "success" as const, message: REGISTER_ACCEPTED }, 202);
      const { user, tokens } = outcome;
      return c.json({ status: "success" as const, message: "Account created.", user: publicUser(user), ...tokens }, 201);
    })
    .openapi(loginRoute, async (c) => {
      const { user, tokens } = await login(c.get("deps"), c.get("meta"), c.req.valid("json"));
      return c.json({ status: "success" as const, message: "Logged in.", user: publicUser(user), ...tokens }, 200);
    })
    .openapi(meRoute, (c) => c.json({ status: "success" as const, user: publicUser(c.get("auth").user) }, 200))
    .openapi(refreshRoute, async (c) => {
      const tokens = await refresh(c.get("deps"), c.get("meta"), c.req.valid("json").refresh_token);
      return c.json({ status: "success" as const, message: "Tokens refreshed.", ...tokens }, 200);
    })
    .openapi(logoutRoute, async (c) => {
      const { user, sessionId } = c.get("auth");
      const deps = c.get("deps");
      await endSession(deps, user.id, sessionId, "logout");
      await audit(deps, c.get("meta"), "logged_out", "success", user.id, { session: sessionId });
      return c.json({ status: "success" as const, message: "Logged out." }, 200);
    })
    .openapi(logoutAllRoute, async (c) => {
      const { user } = c.get("auth");
      const deps = c.get("deps");
      const ended = await endAllSessions(deps, user.id, "logout_all");
      await audit(deps, c.get("meta"), "logged_out_all", "success", user.id, { sessions: ended });
      return c.json({ status: "success" as const, message: "Logged out of every session." }, 200);
    })
    .openapi(sessionsRoute, async (c) => {
      const { user, sessionId } = c.get("auth");
      return c.json({ status: "success" as const, sessions: await listSessions(c.get("deps"), user.id, sessionId) }, 200);
    })
    .openapi(endSessionRoute, async (c) => {
      const { user } = c.get("auth");
      const id = c.req.valid("param").id;
      const deps = c.get("deps");
      if (!(await endSession(deps, user.id, id, "ended_by_user")))
        throw new AppError(404, "session_not_found", "No active session with this id.");
      await audit(deps, c.get("meta"), "session_ended", "success", user.id, { session: id });
      return c.json({ status: "success" as const, message: "Session ended." }, 200);
    })
    .openapi(changePasswordRoute, async (c) => {
      const body = c.req.valid("json");
      const { user, tokens } = await changePassword(c.get("deps"), c.get("meta"), c.get("auth"), body.current_password, body.new_password);
      return c.json({ status: "success" as const, message: "Password changed.", user: publicUser(user), ...tokens }, 200);
    });
}
