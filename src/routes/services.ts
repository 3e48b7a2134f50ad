import { type OpenAPIHono as App, OpenAPIHono, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { eventsAfter, toPayload } from "../auth/events/outbox";
import { EVENT_TYPE_NAMES, EVENT_TYPES, type EventType, payloadSchema } from "../auth/events/types";
import { serviceUser } from "../auth/services/accounts";
import { introspect, revokeToken } from "../auth/sessions/introspection";
import type { AppEnv } from "../context";
import { fieldError } from "../errors";
import { msg } from "../i18n/messages";
import { route, say } from "./route";
import { EXAMPLE_USER, issue, json, MessageSchema, queryInt, timestamp, UserSchema, uuid } from "./schemas";

/** `user.created` -> `UserCreatedEvent`. */
const schemaName = (type: EventType) =>
  `${type
    .split(/[._]/)
    .map((w) => w[0].toUpperCase() + w.slice(1))
    .join("")}Event`;

/** Each event type's schema, built when a route group or the document first needs them. */
let eventSchemasBuilt: ReturnType<typeof buildEventSchemas> | undefined;
const eventSchemas = () => (eventSchemasBuilt ??= buildEventSchemas());
const buildEventSchemas = () =>
  EVENT_TYPE_NAMES.map((type) =>
    payloadSchema(type)
      .extend({
        position: z
          .number()
          .int()
          .min(1)
          .max(Number.MAX_SAFE_INTEGER)
          .openapi({ format: "int64", description: "Its place in the feed: increasing in commit order" }),
      })
      .openapi(schemaName(type), { description: EVENT_TYPES[type].description }),
  );
export function serviceRoutes() {
  /**
   * What the platform's other services call (docs/services.md): the identity events feed, token
   * introspection (RFC 7662) and account reads, each with a service client's HTTP Basic credentials
   * and scope; and token revocation (RFC 7009), which apps call with the token itself. The event
   * types are also in the document as OpenAPI 3.1 `webhooks` (documentEventWebhooks).
   */
  const TAGS = ["Services"];

  const FEED_DEFAULT = 100;
  const FEED_MAX = 1000;

  const EXAMPLE_EVENT = {
    id: "0d7c7f3e-5b0a-4b44-9a53-6f3f2a9c1d20",
    type: "session.revoked" as const,
    timestamp: "2026-11-24T09:12:03.412Z",
    position: 48213,
    data: {
      user_id: "3f1c2a3e-8a4b-4c1e-9f0a-2b7d5c6e8f90",
      actor: { type: "admin" as const, id: "0b7e6c1d-2a3f-4b5c-8d9e-0f1a2b3c4d5e" },
      sid: "8b0f6a52-5c1d-4e7a-9d3b-1f2e3a4b5c6d",
      reason: "suspended",
    },
  };

  const EventSchemas = eventSchemas();
  const EventSchema = z
    .union(EventSchemas as unknown as [(typeof EventSchemas)[0], (typeof EventSchemas)[1], ...(typeof EventSchemas)[number][]])
    .openapi("Event", { description: "One identity event (docs/services.md#event-types)", example: EXAMPLE_EVENT });

  const positionField = queryInt(0, Number.MAX_SAFE_INTEGER, "int64");

  const feedRoute = route({
    method: "get",
    path: "/events",
    tags: TAGS,
    summary: "The identity events feed",
    description:
      "Events with a position greater than `after` (exclusive; `0`: from the oldest kept), in increasing position, at most `limit` " +
      `(default ${FEED_DEFAULT}, at most ${FEED_MAX}). Pass \`next\` as \`after\` to continue: every event is returned once, in ` +
      "commit order, none skipped however many changes commit at once (docs/services.md). Events older than EVENT_RETENTION_DAYS " +
      "are purged. Scope `events:read`.",
    limit: "RL_SERVICE",
    service: "events:read",
    errors: [],
    request: {
      query: z.object({
        after: positionField.default(0).openapi({ description: "The last position already handled (`next` of the previous page)" }),
        limit: queryInt(1, FEED_MAX, "int32").default(FEED_DEFAULT),
      }),
    },
    responses: {
      200: json(
        z
          .object({
            status: z.literal("success"),
            events: z.array(EventSchema).max(FEED_MAX),
            next: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).openapi({
              format: "int64",
              description: "Pass as `after` next time: the last position returned, or `after` itself when there was none",
            }),
          })
          .openapi("EventFeed", { example: { status: "success", events: [EXAMPLE_EVENT], next: 48213 } }),
        "One page of events",
      ),
    },
  });

  const FORM = "application/x-www-form-urlencoded";
  const TokenBody = z
    .object({
      token: z
        .string({ error: issue("validation.token_required") })
        .min(1, issue("validation.token_required"))
        .max(8192),
      token_type_hint: z.enum(["access_token", "refresh_token"]).optional().openapi({ description: "Ignored: both kinds are recognised" }),
    })
    .openapi("TokenRequest", { example: { token: "Zk9xY2ZQbGZ0c2V4YW1wbGVyZWZyZXNodG9rZW4xMjM0" } });

  /** JSON or a form (RFC 7662 and 7009 use forms), one schema. */
  const tokenBody = (description: string) => ({
    content: { "application/json": { schema: TokenBody }, [FORM]: { schema: TokenBody } },
    // Either type is validated when sent; without a body the handler answers 400 on `token` itself.
    required: false,
    description,
  });

  /** The token of either body (the other validator saw no body of its type and left `{}`). */
  function tokenOf(c: Context<AppEnv>): string {
    const type = c.req.header("content-type") ?? "";
    const body = (type.toLowerCase().startsWith(FORM) ? c.req.valid("form" as never) : c.req.valid("json" as never)) as { token?: string };
    if (!body?.token) throw fieldError("validation_failed", "token", msg("validation.token_required"));
    return body.token;
  }

  const IntrospectionSchema = z
    .object({
      active: z.boolean(),
      sub: uuid().optional(),
      sid: uuid().optional(),
      exp: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional().openapi({ format: "int64" }),
      iat: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional().openapi({ format: "int64" }),
      scope: z.string().max(512).optional(),
      role: z.string().max(50).optional(),
      amr: z.array(z.string().max(16)).max(8).optional(),
      acr: z.string().max(32).nullable().optional(),
      auth_time: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).nullable().optional().openapi({ format: "int64" }),
      token_type: z.enum(["access_token", "refresh_token"]).optional(),
      iss: z.string().max(256).optional(),
      aud: z.string().max(256).optional(),
    })
    .openapi("Introspection", {
      example: {
        active: true,
        sub: "3f1c2a3e-8a4b-4c1e-9f0a-2b7d5c6e8f90",
        sid: "8b0f6a52-5c1d-4e7a-9d3b-1f2e3a4b5c6d",
        exp: 1764582000,
        iat: 1764581100,
        role: "student",
        amr: ["pwd"],
        acr: "single-factor",
        auth_time: 1764581100,
        token_type: "access_token",
        iss: "edge-auth-api",
        aud: "platform",
      },
    });

  const introspectRoute = route({
    method: "post",
    path: "/introspect",
    tags: TAGS,
    summary: "Token introspection (RFC 7662)",
    description:
      "Whether an access or refresh token of this API is active right now: its signature and expiry, its session (not ended, not " +
      "expired) and its account (active) are checked on this request, so a logout, suspension, reset or deletion answers " +
      "`{active: false}` at once. Legacy HS256 access tokens alike (while LEGACY_HS256 is on). Anything else, expired, revoked or " +
      "unknown: `{active: false}` only. Form (`token=...`) or JSON. Scope `tokens:introspect`.",
    limit: "RL_SERVICE",
    service: "tokens:introspect",
    errors: [],
    request: { body: tokenBody("The token to check") },
    responses: { 200: json(IntrospectionSchema, "The token's state (RFC 7662 section 2.2)") },
  });

  const revokeRoute = route({
    method: "post",
    path: "/revoke",
    tags: TAGS,
    summary: "Token revocation (RFC 7009)",
    description:
      "Ends the session of a refresh token (the token itself is the proof: no other authentication) or of a valid access token; " +
      "its tokens are refused from the next request on and a `session.revoked` event goes to the services. Always 200, whether " +
      "or not the token was valid (RFC 7009 section 2.2). Form or JSON.",
    limit: "RL_REFRESH",
    errors: [],
    request: { body: tokenBody("The token whose session ends") },
    responses: { 200: json(MessageSchema, "Done (or there was nothing to revoke)") },
  });

  const EXAMPLE_SERVICE_USER = { ...EXAMPLE_USER, status: "active", created_at: "2026-01-05T09:30:00.000Z" };
  const ServiceUserSchema = UserSchema.extend({
    status: z.string().max(50).openapi({ description: "active, suspended, deletion_pending or deleted" }),
    created_at: timestamp().nullable(),
  }).openapi("ServiceUser", { example: EXAMPLE_SERVICE_USER });

  const userRoute = route({
    method: "get",
    path: "/users/{id}",
    tags: TAGS,
    summary: "One account, for a service",
    description: "Its public fields and status, read fresh (after a `user.updated` event, say). Scope `users:read`.",
    limit: "RL_SERVICE",
    service: "users:read",
    errors: ["user_not_found"],
    request: { params: z.object({ id: uuid(issue("validation.user_id")).openapi({ param: { name: "id", in: "path" } }) }) },
    responses: {
      200: json(
        z
          .object({ status: z.literal("success"), user: ServiceUserSchema })
          .openapi("ServiceUserResponse", { example: { status: "success", user: EXAMPLE_SERVICE_USER } }),
        "The account",
      ),
    },
  });

  return new OpenAPIHono<AppEnv>()
    .openapi(feedRoute, async (c) => {
      const { after, limit } = c.req.valid("query");
      const rows = await eventsAfter(c.get("deps").db, { after, limit });
      const events = rows.map(toPayload);
      return c.json({ status: "success" as const, events, next: events.at(-1)?.position ?? after } as never, 200);
    })
    .openapi(introspectRoute, async (c) => c.json(await introspect(c.get("deps"), tokenOf(c)), 200))
    .openapi(revokeRoute, async (c) => {
      await revokeToken(c.get("deps"), c.get("meta"), tokenOf(c));
      return c.json({ status: "success" as const, message: say(c, "success.token_revoked") }, 200);
    })
    .openapi(userRoute, async (c) =>
      c.json({ status: "success" as const, user: await serviceUser(c.get("deps"), c.req.valid("param").id) }, 200),
    );
}

/**
 * Each event type as an OpenAPI 3.1 webhook: what a webhook endpoint receives (a POST of the
 * event, signed per the Standard Webhooks specification) and the feed returns.
 */
/** The Standard Webhooks headers of every delivery (src/auth/webhooks/delivery.ts). */
/** Built with the document, not at import. */
const webhookHeaders = () =>
  z.object({
    "webhook-id": uuid().openapi({ description: "The event's id: the same on every attempt; ignore an id already handled" }),
    "webhook-timestamp": z.string().max(12).regex(/^\d+$/).openapi({ description: "Seconds since the epoch when this attempt was signed" }),
    "webhook-signature": z
      .string()
      .max(200)
      .regex(/^v1,[A-Za-z0-9+/=]+( v1,[A-Za-z0-9+/=]+)*$/)
      .openapi({
        description:
          "`v1,` + base64 HMAC-SHA256 of `<webhook-id>.<webhook-timestamp>.<body>` with the endpoint's secret; two during a rotation",
      }),
  });

export function documentEventWebhooks(app: App<AppEnv>) {
  const headers = webhookHeaders();
  EVENT_TYPE_NAMES.forEach((type, i) => {
    app.openAPIRegistry.registerWebhook({
      method: "post",
      path: type,
      tags: ["Events"],
      summary: type,
      description: `${EVENT_TYPES[type].description} Delivered to webhook endpoints (signed per Standard Webhooks, docs/webhooks.md) and returned by GET /auth/events.`,
      operationId: `event${schemaName(type).replace(/Event$/, "")}`,
      request: { headers, body: { content: { "application/json": { schema: eventSchemas()[i] } }, required: true } },
      responses: { 200: { description: "Any 2xx acknowledges the event; anything else is retried" } },
    });
  });
}
