import { OpenAPIHono, z } from "@hono/zod-openapi";
import { ANY_SESSION, SESSION } from "../auth/access";
import { audit } from "../auth/audit";
import { endAllSessions, endSession, listSessions, refresh } from "../auth/sessions/sessions";
import type { AppEnv } from "../context";
import { apiError } from "../errors";
import { t } from "../i18n/messages";
import { route, say } from "./route";
import {
  EXAMPLE_TOKENS,
  issue,
  json,
  jsonBody,
  MessageSchema,
  RefreshBody,
  sentence,
  sessionFields,
  TokenPairSchema,
  uuid,
} from "./schemas";
export function sessionRoutes() {
  const refreshRoute = route({
    method: "post",
    path: "/refresh",
    tags: ["Sessions"],
    summary: "Exchange a refresh token for a new token pair (rotation)",
    description:
      "The presented token is consumed and its successor returned. A token used again outside REFRESH_REUSE_GRACE ends " +
      "the whole session (reuse detection); within it, the same successor is returned (two tabs refreshing at once).",
    limit: "RL_REFRESH",
    errors: ["invalid_refresh_token"],
    request: { body: jsonBody(RefreshBody, "The current refresh token") },
    responses: {
      200: json(
        z
          .object({ status: z.literal("success"), message: sentence() })
          .merge(TokenPairSchema)
          .openapi("RefreshResponse", { example: { status: "success", message: t("en", "success.tokens_refreshed"), ...EXAMPLE_TOKENS } }),
        "A new pair; the presented refresh token is consumed",
      ),
    },
  });

  const logoutRoute = route({
    method: "post",
    path: "/logout",
    tags: ["Sessions"],
    summary: "End the current session",
    description: "Its access and refresh tokens stop working on this API at once.",
    limit: "RL_DEFAULT",
    auth: ANY_SESSION,
    errors: [],
    responses: { 200: json(MessageSchema, "Session ended") },
  });

  const logoutAllRoute = route({
    method: "post",
    path: "/logout-all",
    tags: ["Sessions"],
    summary: "End every session of the caller",
    description: "Every session of the account ends, this one included.",
    limit: "RL_DEFAULT",
    auth: { session: true, unverifiedEmail: "allow" },
    errors: [],
    responses: { 200: json(MessageSchema, "All sessions ended") },
  });

  const SessionSchema = z.object({ ...sessionFields(), current: z.boolean() }).openapi("Session");

  const sessionsRoute = route({
    method: "get",
    path: "/sessions",
    tags: ["Sessions"],
    summary: "List the caller's active sessions",
    description: "Live sessions, most recently used first; `current` marks the one this token belongs to.",
    limit: "RL_DEFAULT",
    auth: SESSION,
    errors: [],
    responses: {
      200: json(
        z.object({ status: z.literal("success"), sessions: z.array(SessionSchema).max(1000) }).openapi("SessionList", {
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
    },
  });

  const endSessionRoute = route({
    method: "delete",
    path: "/sessions/{id}",
    tags: ["Sessions"],
    summary: "End one of the caller's sessions",
    description: "404 session_not_found when the id is not one of the caller's live sessions.",
    limit: "RL_DEFAULT",
    auth: SESSION,
    errors: ["session_not_found"],
    request: {
      params: z.object({
        id: uuid(issue("validation.session_id")).openapi({ param: { name: "id", in: "path" } }),
      }),
    },
    responses: { 200: json(MessageSchema, "Session ended") },
  });

  return new OpenAPIHono<AppEnv>()
    .openapi(refreshRoute, async (c) => {
      const tokens = await refresh(c.get("deps"), c.get("meta"), c.req.valid("json").refresh_token);
      return c.json({ status: "success" as const, message: say(c, "success.tokens_refreshed"), ...tokens }, 200);
    })
    .openapi(logoutRoute, async (c) => {
      const { user, sessionId } = c.get("auth");
      const deps = c.get("deps");
      await endSession(deps, user.id, sessionId, "logout");
      await audit(deps, c.get("meta"), "logged_out", "success", user.id, { session: sessionId });
      return c.json({ status: "success" as const, message: say(c, "success.logged_out") }, 200);
    })
    .openapi(logoutAllRoute, async (c) => {
      const { user } = c.get("auth");
      const deps = c.get("deps");
      const ended = await endAllSessions(deps, user.id, "logout_all");
      await audit(deps, c.get("meta"), "logged_out_all", "success", user.id, { sessions: ended });
      return c.json({ status: "success" as const, message: say(c, "success.logged_out_everywhere") }, 200);
    })
    .openapi(sessionsRoute, async (c) => {
      const { user, sessionId } = c.get("auth");
      return c.json({ status: "success" as const, sessions: await listSessions(c.get("deps"), user.id, sessionId) }, 200);
    })
    .openapi(endSessionRoute, async (c) => {
      const { user } = c.get("auth");
      const id = c.req.valid("param").id;
      const deps = c.get("deps");
      if (!(await endSession(deps, user.id, id, "ended_by_user"))) throw apiError("session_not_found");
      await audit(deps, c.get("meta"), "session_ended", "success", user.id, { session: id });
      return c.json({ status: "success" as const, message: say(c, "success.session_ended") }, 200);
    });
}
