import { OpenAPIHono, z } from "@hono/zod-openapi";
import { ADMIN, ADMIN_CHANGE } from "../auth/access";
import { LIST_DEFAULT, LIST_MAX, pageSize } from "../auth/admin/cursor";
import { EVENT_TYPE_NAMES } from "../auth/events/types";
import { DELIVERY_STATUSES, listDeliveries, retryDelivery } from "../auth/webhooks/deliveries";
import { ATTEMPT_ERRORS } from "../auth/webhooks/delivery";
import { createEndpoint, deleteEndpoint, listEndpoints, rotateEndpointSecret, updateEndpoint } from "../auth/webhooks/endpoints";
import type { AppEnv } from "../context";
import { route, say } from "./route";
import { int32, issue, json, jsonBody, queryInt, sentence, timestamp, uuid } from "./schemas";
export function webhookRoutes() {
  /**
   * Webhook endpoints in the admin API (docs/webhooks.md): create (the signing secret shown once),
   * list, update or disable, rotate the secret, delete; each endpoint's deliveries and a manual
   * retry. Administrators only, every call audited.
   */
  const TAGS = ["Admin"];

  const EXAMPLE_ENDPOINT = {
    id: "9c2e4b1a-7d3f-4e5a-8b6c-1d2e3f4a5b6c",
    url: "https://courses.example.com/hooks/auth",
    description: "Course service: end sessions and hide suspended instructors",
    events: ["session.revoked", "user.suspended", "user.deleted"],
    status: "active" as const,
    disabled_reason: null,
    disabled_at: null,
    failure_streak: 0,
    created_at: "2026-01-05T09:30:00.000Z",
    created_by: "0b7e6c1d-2a3f-4b5c-8d9e-0f1a2b3c4d5e",
    updated_at: "2026-01-05T09:30:00.000Z",
    secret_rotated_at: null,
    previous_secret_expires_at: null,
  };
  const EXAMPLE_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw4Gd3Yt5F3nk=";

  const eventList = EVENT_TYPE_NAMES.map((t) => `\`${t}\``).join(", ");

  const EndpointSchema = z
    .object({
      id: uuid(),
      url: z.string().url().max(2048),
      description: z.string().max(500),
      events: z.array(z.enum(EVENT_TYPE_NAMES)).max(EVENT_TYPE_NAMES.length),
      status: z.enum(["active", "disabled"]),
      disabled_reason: z.enum(["admin", "failures"]).nullable().openapi({
        description: "`admin`: disabled through the API; `failures`: after WEBHOOK_DISABLE_AFTER deliveries in a row were given up",
      }),
      disabled_at: timestamp().nullable(),
      failure_streak: int32(0, 2_147_483_647).openapi({ description: "Deliveries given up since the last successful one" }),
      created_at: timestamp(),
      created_by: uuid().nullable(),
      updated_at: timestamp(),
      secret_rotated_at: timestamp().nullable(),
      previous_secret_expires_at: timestamp()
        .nullable()
        .openapi({ description: "After a rotation: until then the previous secret signs deliveries too" }),
    })
    .openapi("WebhookEndpoint", { example: EXAMPLE_ENDPOINT });

  const secretField = z
    .string()
    .max(100)
    .regex(/^whsec_[A-Za-z0-9+/]+={0,2}$/)
    .openapi({
      description:
        "The signing secret (Standard Webhooks: `whsec_` + base64), shown this once. Give it to the receiver's `standardwebhooks` or `svix` library.",
    });

  const WithSecret = z
    .object({ status: z.literal("success"), message: sentence(), endpoint: EndpointSchema, secret: secretField })
    .openapi("WebhookEndpointWithSecret", {
      example: { status: "success", message: "Webhook endpoint created.", endpoint: EXAMPLE_ENDPOINT, secret: EXAMPLE_SECRET },
    });

  const urlField = z
    .string({ error: issue("validation.url_required") })
    .trim()
    .min(1, issue("validation.url_required"))
    .max(2048, issue("validation.url_too_long"))
    .openapi({ format: "uri", example: "https://courses.example.com/hooks/auth" });
  const eventsField = z
    .array(z.enum(EVENT_TYPE_NAMES, { error: issue("validation.event_type_invalid", { types: EVENT_TYPE_NAMES.join(", ") }) }), {
      error: issue("validation.events_required"),
    })
    .min(1, issue("validation.events_empty"))
    .max(EVENT_TYPE_NAMES.length * 4)
    .openapi({ example: ["session.revoked", "user.suspended"] });
  const descriptionField = z.string().trim().max(500, issue("validation.description_too_long"));

  const CreateBody = z
    .object({ url: urlField, events: eventsField, description: descriptionField.optional() })
    .openapi("WebhookEndpointCreate", {
      example: { url: EXAMPLE_ENDPOINT.url, events: EXAMPLE_ENDPOINT.events, description: EXAMPLE_ENDPOINT.description },
    });

  const PatchBody = z
    .object({
      url: urlField.optional(),
      events: eventsField.optional(),
      description: descriptionField.optional(),
      enabled: z.boolean({ error: issue("validation.enabled_boolean") }).optional(),
    })
    .refine((b) => Object.values(b).some((v) => v !== undefined), { message: issue("validation.webhook_change_empty"), path: ["url"] })
    .openapi("WebhookEndpointUpdate", { example: { enabled: false } });

  const idParams = z.object({ id: uuid(issue("validation.webhook_id")).openapi({ param: { name: "id", in: "path" } }) });

  const createRoute = route({
    method: "post",
    path: "/admin/webhooks",
    tags: TAGS,
    summary: "Create a webhook endpoint",
    description:
      `Identity events of the listed types are POSTed to \`url\`, signed per Standard Webhooks (docs/webhooks.md). Types: ${eventList}. ` +
      "The URL must be https in production (plain http to localhost elsewhere), without credentials. The signing secret is " +
      "answered this once. The endpoint receives the events written from now on. Needs a login within RECENT_AUTH_MAX_AGE.",
    limit: "RL_DEFAULT",
    auth: ADMIN_CHANGE,
    errors: [],
    request: { body: jsonBody(CreateBody, "Its URL, event types and description") },
    responses: { 201: json(WithSecret, "Created; the secret is shown once") },
  });

  const listRoute = route({
    method: "get",
    path: "/admin/webhooks",
    tags: TAGS,
    summary: "List the webhook endpoints",
    description: "Newest first, disabled ones too. Never a secret.",
    limit: "RL_DEFAULT",
    auth: ADMIN,
    errors: [],
    responses: {
      200: json(
        z
          .object({ status: z.literal("success"), endpoints: z.array(EndpointSchema).max(1000) })
          .openapi("WebhookEndpointList", { example: { status: "success", endpoints: [EXAMPLE_ENDPOINT] } }),
        "Every endpoint",
      ),
    },
  });

  const EndpointAnswer = z
    .object({ status: z.literal("success"), message: sentence(), endpoint: EndpointSchema })
    .openapi("WebhookEndpointAnswer", { example: { status: "success", message: "Webhook endpoint updated.", endpoint: EXAMPLE_ENDPOINT } });

  const patchRoute = route({
    method: "patch",
    path: "/admin/webhooks/{id}",
    tags: TAGS,
    summary: "Update, disable or enable a webhook endpoint",
    description:
      "A new URL, event types or description apply from the next delivery. `enabled: false` stops deliveries at once (events of " +
      "that time are not queued for it); `enabled: true` resumes its pending deliveries and the events from then on. Needs a login " +
      "within RECENT_AUTH_MAX_AGE.",
    limit: "RL_DEFAULT",
    auth: ADMIN_CHANGE,
    errors: ["webhook_not_found"],
    request: { params: idParams, body: jsonBody(PatchBody, "What to change") },
    responses: { 200: json(EndpointAnswer, "Updated") },
  });

  const deleteRoute = route({
    method: "delete",
    path: "/admin/webhooks/{id}",
    tags: TAGS,
    summary: "Delete a webhook endpoint",
    description: "With its deliveries; nothing more is sent to it. Needs a login within RECENT_AUTH_MAX_AGE.",
    limit: "RL_DEFAULT",
    auth: ADMIN_CHANGE,
    errors: ["webhook_not_found"],
    request: { params: idParams },
    responses: { 200: json(EndpointAnswer, "Deleted") },
  });

  const rotateRoute = route({
    method: "post",
    path: "/admin/webhooks/{id}/rotate-secret",
    tags: TAGS,
    summary: "Give a webhook endpoint a new signing secret",
    description:
      "The new secret is answered this once. The old one keeps signing for WEBHOOK_SECRET_GRACE (default 24 h): meanwhile " +
      "`webhook-signature` carries both `v1,` signatures, so the receiver can switch at any time. Needs a login within " +
      "RECENT_AUTH_MAX_AGE.",
    limit: "RL_DEFAULT",
    auth: ADMIN_CHANGE,
    errors: ["webhook_not_found"],
    request: { params: idParams },
    responses: { 200: json(WithSecret, "The new secret, shown once") },
  });

  const EXAMPLE_DELIVERY = {
    id: "4e5f6a7b-8c9d-4e0f-a1b2-c3d4e5f6a7b8",
    event_id: "0d7c7f3e-5b0a-4b44-9a53-6f3f2a9c1d20",
    event_type: "session.revoked",
    user_id: "3f1c2a3e-8a4b-4c1e-9f0a-2b7d5c6e8f90",
    position: 48213,
    status: "pending" as const,
    attempts: 2,
    created_at: "2026-11-24T09:12:03.500Z",
    last_attempt_at: "2026-11-24T09:12:14.020Z",
    response_status: 503,
    latency_ms: 87,
    next_attempt_at: "2026-11-24T09:12:34.020Z",
    delivered_at: null,
    attempt_log: [
      {
        at: "2026-11-24T09:12:03.600Z",
        latency_ms: 10001,
        response_status: null,
        error: "timeout",
        next_retry_at: "2026-11-24T09:12:13.600Z",
      },
      { at: "2026-11-24T09:12:14.020Z", latency_ms: 87, response_status: 503, error: "status", next_retry_at: "2026-11-24T09:12:34.020Z" },
    ],
  };

  const AttemptSchema = z.object({
    at: timestamp(),
    latency_ms: int32(0, 3_600_000),
    response_status: int32(100, 599).nullable(),
    error: z
      .enum(ATTEMPT_ERRORS)
      .nullable()
      .openapi({ description: "Why it failed: an answer other than 2xx (`status`), no answer within WEBHOOK_TIMEOUT, no connection" }),
    next_retry_at: timestamp()
      .nullable()
      .openapi({ description: "When the next attempt is due; null after a success or the last attempt" }),
  });

  const DeliverySchema = z
    .object({
      id: uuid(),
      event_id: uuid().openapi({ description: "Also the `webhook-id` header of every attempt" }),
      event_type: z.enum(EVENT_TYPE_NAMES).or(z.string().max(64)),
      user_id: uuid(),
      position: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER).openapi({ format: "int64" }),
      status: z
        .enum(DELIVERY_STATUSES)
        .openapi({ description: "`failed`: given up after WEBHOOK_RETRY_MAX_AGE of retries (retry it by hand)" }),
      attempts: int32(0, 2_147_483_647),
      created_at: timestamp(),
      last_attempt_at: timestamp().nullable(),
      response_status: int32(100, 599).nullable(),
      latency_ms: int32(0, 3_600_000).nullable(),
      next_attempt_at: timestamp().nullable().openapi({ description: "Pending: when the next attempt is due" }),
      delivered_at: timestamp().nullable(),
      attempt_log: z.array(AttemptSchema).max(50).openapi({ description: "The last attempts, oldest first" }),
    })
    .openapi("WebhookDelivery", { example: EXAMPLE_DELIVERY });

  const deliveriesRoute = route({
    method: "get",
    path: "/admin/webhooks/{id}/deliveries",
    tags: TAGS,
    summary: "A webhook endpoint's deliveries and their attempts",
    description:
      `Newest event first, ${LIST_DEFAULT} per page (\`limit\` up to ${LIST_MAX}; \`next_cursor\` for the next page), optionally one ` +
      "`status`. Each delivery shows its attempts (time, latency, response status or error, next retry).",
    limit: "RL_DEFAULT",
    auth: ADMIN,
    errors: ["webhook_not_found"],
    request: {
      params: idParams,
      query: z.object({
        status: z.enum(DELIVERY_STATUSES, { error: issue("validation.delivery_status_invalid") }).optional(),
        cursor: z
          .string()
          .max(18)
          .regex(/^\d+$/, issue("validation.cursor_invalid"))
          .optional()
          .openapi({ description: "`next_cursor` of the previous page; omit for the first page" }),
        limit: queryInt(1, 2_147_483_647, "int32")
          .optional()
          .openapi({
            description: `Rows per page (default ${LIST_DEFAULT}); more than ${LIST_MAX} is served ${LIST_MAX}`,
          }),
      }),
    },
    responses: {
      200: json(
        z
          .object({
            status: z.literal("success"),
            deliveries: z.array(DeliverySchema).max(LIST_MAX),
            next_cursor: z
              .string()
              .max(18)
              .nullable()
              .openapi({ description: "Pass as `cursor` for the next page; null on the last page" }),
          })
          .openapi("WebhookDeliveryList", { example: { status: "success", deliveries: [EXAMPLE_DELIVERY], next_cursor: null } }),
        "One page of deliveries",
      ),
    },
  });

  const EXAMPLE_RETRIED_DELIVERY = { ...EXAMPLE_DELIVERY, status: "pending", attempt_log: [] };

  const retryParams = idParams.extend({
    delivery_id: uuid(issue("validation.delivery_id")).openapi({ param: { name: "delivery_id", in: "path" } }),
  });

  const retryRoute = route({
    method: "post",
    path: "/admin/webhooks/{id}/deliveries/{delivery_id}/retry",
    tags: TAGS,
    summary: "Deliver an event again",
    description:
      "Any delivery, failed ones above all: it is pending again with a new retry window, and goes out as its account's next delivery " +
      "to this endpoint (with the same `webhook-id`). Refused while the endpoint is disabled. Needs a login within RECENT_AUTH_MAX_AGE.",
    limit: "RL_DEFAULT",
    auth: ADMIN_CHANGE,
    errors: ["webhook_not_found", "webhook_delivery_not_found", "webhook_disabled"],
    request: { params: retryParams },
    responses: {
      202: json(
        z.object({ status: z.literal("success"), message: sentence(), delivery: DeliverySchema }).openapi("WebhookDeliveryRetried", {
          example: { status: "success", message: "The delivery is queued again.", delivery: EXAMPLE_RETRIED_DELIVERY },
        }),
        "Queued again",
      ),
    },
  });

  return new OpenAPIHono<AppEnv>()
    .openapi(createRoute, async (c) => {
      const made = await createEndpoint(c.get("deps"), c.get("meta"), c.get("auth"), c.req.valid("json"));
      return c.json(
        { status: "success" as const, message: say(c, "success.webhook_created"), endpoint: made.endpoint, secret: made.secret },
        201,
      );
    })
    .openapi(listRoute, async (c) => {
      const endpoints = await listEndpoints(c.get("deps"), c.get("meta"), c.get("auth"));
      return c.json({ status: "success" as const, endpoints }, 200);
    })
    .openapi(patchRoute, async (c) => {
      const endpoint = await updateEndpoint(c.get("deps"), c.get("meta"), c.get("auth"), c.req.valid("param").id, c.req.valid("json"));
      return c.json({ status: "success" as const, message: say(c, "success.webhook_updated"), endpoint }, 200);
    })
    .openapi(deleteRoute, async (c) => {
      const endpoint = await deleteEndpoint(c.get("deps"), c.get("meta"), c.get("auth"), c.req.valid("param").id);
      return c.json({ status: "success" as const, message: say(c, "success.webhook_deleted"), endpoint }, 200);
    })
    .openapi(rotateRoute, async (c) => {
      const made = await rotateEndpointSecret(c.get("deps"), c.get("meta"), c.get("auth"), c.req.valid("param").id);
      return c.json(
        { status: "success" as const, message: say(c, "success.webhook_secret_rotated"), endpoint: made.endpoint, secret: made.secret },
        200,
      );
    })
    .openapi(deliveriesRoute, async (c) => {
      const q = c.req.valid("query");
      const page = await listDeliveries(c.get("deps"), c.get("meta"), c.get("auth"), c.req.valid("param").id, {
        status: q.status,
        cursor: q.cursor,
        limit: pageSize(q.limit),
      });
      return c.json({ status: "success" as const, deliveries: page.deliveries, next_cursor: page.nextCursor }, 200);
    })
    .openapi(retryRoute, async (c) => {
      const { id, delivery_id } = c.req.valid("param");
      const delivery = await retryDelivery(c.get("deps"), c.get("meta"), c.get("auth"), id, delivery_id);
      return c.json({ status: "success" as const, message: say(c, "success.webhook_delivery_retried"), delivery }, 202);
    });
}
