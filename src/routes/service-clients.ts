import { OpenAPIHono, z } from "@hono/zod-openapi";
import { ADMIN, ADMIN_CHANGE } from "../auth/access";
import { createClient, listClients, revokeClient, rotateClientSecret, SCOPE_NAMES, SERVICE_SCOPES } from "../auth/services/clients";
import type { AppEnv } from "../context";
import { route, say } from "./route";
import { issue, json, jsonBody, sentence, timestamp, uuid } from "./schemas";
export function serviceClientRoutes() {
  /**
   * Service clients in the admin API (docs/services.md#service-clients): create (the secret shown
   * once), list, rotate the secret, revoke. Administrators only, every call audited.
   */
  const TAGS = ["Admin"];

  const EXAMPLE_CLIENT = {
    id: "6a1f0c3b-2d4e-4f5a-8b9c-0d1e2f3a4b5c",
    client_id: "svc_Jx3kQ9mZ0pL7tR2vW5yB8A",
    name: "Course service",
    scopes: ["events:read", "tokens:introspect"],
    created_at: "2026-01-05T09:30:00.000Z",
    created_by: "0b7e6c1d-2a3f-4b5c-8d9e-0f1a2b3c4d5e",
    secret_rotated_at: null,
    revoked_at: null,
    last_used_at: "2026-01-05T10:12:41.000Z",
  };
  const EXAMPLE_SECRET = "q3X0cVb8n1Ml2Kj4Hg6Fd5Sa7Po9Iu0Yt1Re3Wq5Ez8";

  const scopeList = Object.entries(SERVICE_SCOPES)
    .map(([s, what]) => `\`${s}\`: ${what}`)
    .join(" ");

  const ServiceClientSchema = z
    .object({
      id: uuid(),
      client_id: z
        .string()
        .max(64)
        .regex(/^svc_[A-Za-z0-9_-]+$/),
      name: z.string().max(100),
      scopes: z.array(z.enum(SCOPE_NAMES)).max(SCOPE_NAMES.length),
      created_at: timestamp(),
      created_by: uuid().nullable(),
      secret_rotated_at: timestamp().nullable(),
      revoked_at: timestamp().nullable(),
      last_used_at: timestamp().nullable().openapi({ description: "Its last authenticated call (updated at most once a minute)" }),
    })
    .openapi("ServiceClient", { example: EXAMPLE_CLIENT });

  const secretField = z
    .string()
    .max(64)
    .regex(/^[A-Za-z0-9_-]+$/)
    .openapi({ description: "Shown this once: only a keyed hash is stored. Send it with client_id as HTTP Basic credentials." });

  const WithSecret = z
    .object({ status: z.literal("success"), message: sentence(), client: ServiceClientSchema, client_secret: secretField })
    .openapi("ServiceClientWithSecret", {
      example: { status: "success", message: "Service client created.", client: EXAMPLE_CLIENT, client_secret: EXAMPLE_SECRET },
    });

  const CreateBody = z
    .object({
      name: z
        .string({ error: issue("validation.name_required") })
        .trim()
        .min(1, issue("validation.name_required"))
        .max(100, issue("validation.name_too_long"))
        .openapi({ example: "Course service" }),
      scopes: z
        .array(z.enum(SCOPE_NAMES, { error: issue("validation.scope_invalid", { scopes: SCOPE_NAMES.join(", ") }) }), {
          error: issue("validation.scopes_required"),
        })
        .min(1, issue("validation.scopes_empty"))
        .max(SCOPE_NAMES.length)
        .openapi({ example: ["events:read", "tokens:introspect"] }),
    })
    .openapi("ServiceClientCreate", { example: { name: "Course service", scopes: ["events:read", "tokens:introspect"] } });

  const EXAMPLE_REVOKED_CLIENT = { ...EXAMPLE_CLIENT, revoked_at: "2026-02-01T08:00:00.000Z" };

  const idParams = z.object({ id: uuid(issue("validation.service_client_id")).openapi({ param: { name: "id", in: "path" } }) });

  const createRoute = route({
    method: "post",
    path: "/admin/service-clients",
    tags: TAGS,
    summary: "Create a service client",
    description:
      `A client another service uses to call the service routes (HTTP Basic with \`client_id\` and \`client_secret\`). Scopes: ${scopeList} ` +
      "The secret is answered this once. Needs a login within RECENT_AUTH_MAX_AGE.",
    limit: "RL_DEFAULT",
    auth: ADMIN_CHANGE,
    errors: [],
    request: { body: jsonBody(CreateBody, "Its name and scopes") },
    responses: { 201: json(WithSecret, "Created; the secret is shown once") },
  });

  const listRoute = route({
    method: "get",
    path: "/admin/service-clients",
    tags: TAGS,
    summary: "List the service clients",
    description: "Newest first, revoked ones too (until the purge removes them 90 days after revocation). Never a secret.",
    limit: "RL_DEFAULT",
    auth: ADMIN,
    errors: [],
    responses: {
      200: json(
        z
          .object({ status: z.literal("success"), clients: z.array(ServiceClientSchema).max(1000) })
          .openapi("ServiceClientList", { example: { status: "success", clients: [EXAMPLE_CLIENT] } }),
        "Every service client",
      ),
    },
  });

  const rotateRoute = route({
    method: "post",
    path: "/admin/service-clients/{id}/rotate-secret",
    tags: TAGS,
    summary: "Give a service client a new secret",
    description: "The old secret stops working at once; the new one is answered this once. Needs a login within RECENT_AUTH_MAX_AGE.",
    limit: "RL_DEFAULT",
    auth: ADMIN_CHANGE,
    errors: ["service_client_not_found"],
    request: { params: idParams },
    responses: { 200: json(WithSecret, "The new secret, shown once") },
  });

  const revokeRoute = route({
    method: "delete",
    path: "/admin/service-clients/{id}",
    tags: TAGS,
    summary: "Revoke a service client",
    description: "Its calls answer 401 invalid_client from the next one on. Needs a login within RECENT_AUTH_MAX_AGE.",
    limit: "RL_DEFAULT",
    auth: ADMIN_CHANGE,
    errors: ["service_client_not_found"],
    request: { params: idParams },
    responses: {
      200: json(
        z.object({ status: z.literal("success"), message: sentence(), client: ServiceClientSchema }).openapi("ServiceClientRevoked", {
          example: { status: "success", message: "Service client revoked.", client: EXAMPLE_REVOKED_CLIENT },
        }),
        "Revoked",
      ),
    },
  });

  return new OpenAPIHono<AppEnv>()
    .openapi(createRoute, async (c) => {
      const made = await createClient(c.get("deps"), c.get("meta"), c.get("auth"), c.req.valid("json"));
      return c.json(
        { status: "success" as const, message: say(c, "success.service_client_created"), client: made.client, client_secret: made.secret },
        201,
      );
    })
    .openapi(listRoute, async (c) => {
      const clients = await listClients(c.get("deps"), c.get("meta"), c.get("auth"));
      return c.json({ status: "success" as const, clients }, 200);
    })
    .openapi(rotateRoute, async (c) => {
      const made = await rotateClientSecret(c.get("deps"), c.get("meta"), c.get("auth"), c.req.valid("param").id);
      return c.json(
        {
          status: "success" as const,
          message: say(c, "success.service_client_secret_rotated"),
          client: made.client,
          client_secret: made.secret,
        },
        200,
      );
    })
    .openapi(revokeRoute, async (c) => {
      const client = await revokeClient(c.get("deps"), c.get("meta"), c.get("auth"), c.req.valid("param").id);
      return c.json({ status: "success" as const, message: say(c, "success.service_client_revoked"), client }, 200);
    });
}
