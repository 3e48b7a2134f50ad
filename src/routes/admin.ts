import { OpenAPIHono, z } from "@hono/zod-openapi";
import { ADMIN, ADMIN_CHANGE } from "../auth/access";
import { ACCOUNT_STATUSES } from "../auth/account/status";
import { listAudit } from "../auth/admin/audit-log";
import { LIST_DEFAULT, LIST_MAX } from "../auth/admin/cursor";
import { cancelUserDeletion, startUserDeletion } from "../auth/admin/deletion";
import { ASSIGNABLE_ROLES, ASSIGNABLE_STATUSES, revokeUserSessions, sendUserPasswordReset, updateUser } from "../auth/admin/manage";
import { getUser, listUsers, NAME_MATCH_MIN } from "../auth/admin/users";
import { AUDIT_EVENTS } from "../auth/audit";
import type { AppEnv } from "../context";
import { t } from "../i18n/messages";
import { IdentitySchema, publicIdentity } from "./oauth";
import { route, say } from "./route";
import {
  EXAMPLE_USER,
  int32,
  issue,
  json,
  jsonBody,
  MessageSchema,
  queryInt,
  sentence,
  sessionFields,
  timestamp,
  UserSchema,
  uuid,
} from "./schemas";
export function adminRoutes() {
  /**
   * The admin API (docs/admin.md): role `admin`, a session signed in with a second factor, and for
   * changes a recent login (src/auth/access.ts ADMIN, ADMIN_CHANGE). Every call is audited with the
   * acting admin's id (src/auth/admin/). The first admin's setup is POST /auth/account/setup (account.ts).
   */
  const TAGS = ["Admin"];

  const STATUSES = Object.keys(ACCOUNT_STATUSES) as [keyof typeof ACCOUNT_STATUSES, ...(keyof typeof ACCOUNT_STATUSES)[]];

  const EXAMPLE_ADMIN_USER = {
    ...EXAMPLE_USER,
    status: "active",
    mfa_enabled: false,
    created_at: "2026-01-05T09:30:00.000Z",
    deletion_due_at: null,
  };

  const AdminUserSchema = UserSchema.extend({
    status: z.enum(STATUSES).or(z.string().max(50)).openapi({ description: "active, suspended, deletion_pending or deleted" }),
    mfa_enabled: z.boolean(),
    created_at: timestamp().nullable(),
    deletion_due_at: timestamp().nullable().openapi({ description: "deletion_pending: when the purge anonymises the account" }),
  }).openapi("AdminUser", { example: EXAMPLE_ADMIN_USER });

  const cursorField = z
    .string()
    .max(512)
    .regex(/^[A-Za-z0-9_-]+$/)
    .optional()
    .openapi({ description: "`next_cursor` of the previous page; omit for the first page" });
  const limitField = queryInt(1, 2_147_483_647, "int32")
    .optional()
    .openapi({
      description: `Rows per page (default ${LIST_DEFAULT}); more than ${LIST_MAX} is served ${LIST_MAX}`,
    });

  /** A yes/no filter of a list: `true` or `false`, or absent for both. */
  const flag = (description: string) => z.enum(["true", "false"]).optional().openapi({ description });
  const asFlag = (v: "true" | "false" | undefined) => (v === undefined ? undefined : v === "true");

  const idParams = z.object({ id: uuid(issue("validation.user_id")).openapi({ param: { name: "id", in: "path" } }) });

  const nextCursor = z.string().max(512).nullable().openapi({ description: "Pass as `cursor` for the next page; null on the last page" });

  const listRoute = route({
    method: "get",
    path: "/admin/users",
    tags: TAGS,
    summary: "List and search accounts",
    description:
      `Newest first, ${LIST_DEFAULT} per page (\`limit\` up to ${LIST_MAX}). Pages are keyset cursors: accounts created between two requests ` +
      `never shift, repeat or hide the rows of the next page. \`q\` matches the start of the email, or (from ${NAME_MATCH_MIN} characters) ` +
      "any part of the name, case-insensitively. `requested_role=instructor` lists the instructor requests waiting for a decision " +
      "(INSTRUCTOR_APPROVAL=required); `verified` and `mfa` filter by a proven address and a second factor.",
    limit: "RL_DEFAULT",
    auth: ADMIN,
    errors: [],
    request: {
      query: z.object({
        q: z.string().trim().min(1).max(100).optional().openapi({ example: "ada" }),
        role: z.enum(["student", "instructor", "admin"]).or(z.string().max(50)).optional(),
        status: z.enum(STATUSES).optional(),
        requested_role: z.enum(["instructor"]).optional(),
        verified: flag("Only accounts whose address is proven (true) or not yet (false)"),
        mfa: flag("Only accounts with a second factor on (true) or off (false)"),
        cursor: cursorField,
        limit: limitField,
      }),
    },
    responses: {
      200: json(
        z
          .object({ status: z.literal("success"), users: z.array(AdminUserSchema).max(LIST_MAX), next_cursor: nextCursor })
          .openapi("AdminUserList", { example: { status: "success", users: [EXAMPLE_ADMIN_USER], next_cursor: null } }),
        "One page of accounts",
      ),
    },
  });

  const SESSION_EXAMPLE = {
    id: "8b0f6a52-5c1d-4e7a-9d3b-1f2e3a4b5c6d",
    created_at: "2026-01-05T09:30:00.000Z",
    last_used_at: "2026-01-05T10:12:41.000Z",
    expires_at: "2026-02-04T09:30:00.000Z",
    user_agent: "Mozilla/5.0 (X11; Linux x86_64)",
    ip: "203.0.113.7",
  };
  const AdminSessionSchema = z.object(sessionFields()).openapi("AdminSession", { example: SESSION_EXAMPLE });

  const FACTOR_EXAMPLE = {
    kind: "totp",
    status: "active",
    created_at: "2026-01-05T09:31:00.000Z",
    confirmed_at: "2026-01-05T09:31:40.000Z",
    last_used_at: "2026-01-05T10:12:30.000Z",
  };
  const FactorSchema = z
    .object({
      kind: z.enum(["totp"]).openapi({ description: "`totp` (an authenticator app)" }),
      status: z.enum(["pending", "active"]).openapi({ description: "`pending` until confirmed with a code, then `active`" }),
      created_at: timestamp(),
      confirmed_at: timestamp().nullable(),
      last_used_at: timestamp().nullable().openapi({ description: "Start of the 30-second step of the newest accepted code" }),
    })
    .openapi("AdminFactor", { example: FACTOR_EXAMPLE });

  const getRoute = route({
    method: "get",
    path: "/admin/users/{id}",
    tags: TAGS,
    summary: "One account: its state, live sessions, last login, identities and second factors",
    description:
      "`last_login_at` is the newest login on record (within AUDIT_RETENTION), or null. `identities` are the linked Google and " +
      "Apple sign-ins; `factors` the second factors with their state and dates (never a secret).",
    limit: "RL_DEFAULT",
    auth: ADMIN,
    errors: ["user_not_found"],
    request: { params: idParams },
    responses: {
      200: json(
        z
          .object({
            status: z.literal("success"),
            user: AdminUserSchema.extend({ last_login_at: timestamp().nullable() }),
            sessions: z.array(AdminSessionSchema).max(1000),
            identities: z.array(IdentitySchema).max(100),
            factors: z.array(FactorSchema).max(10),
            recovery_codes_remaining: int32(0, 100),
          })
          .openapi("AdminUserDetail", {
            example: {
              status: "success",
              user: { ...EXAMPLE_ADMIN_USER, last_login_at: "2026-01-05T09:30:00.000Z" },
              sessions: [SESSION_EXAMPLE],
              identities: [],
              factors: [FACTOR_EXAMPLE],
              recovery_codes_remaining: 9,
            },
          }),
        "The account",
      ),
    },
  });

  const PatchBody = z
    .object({
      role: z.enum(ASSIGNABLE_ROLES, { error: issue("validation.admin_role_invalid") }).optional(),
      status: z.enum(ASSIGNABLE_STATUSES, { error: issue("validation.admin_status_invalid") }).optional(),
      reason: z
        .string()
        .trim()
        .min(1)
        .max(500)
        .optional()
        .openapi({ description: "Why (kept in the audit row as `note`; dropped when the account is anonymised)" }),
    })
    .refine((b) => b.role !== undefined || b.status !== undefined, { message: issue("validation.admin_change_empty"), path: ["role"] })
    .openapi("AdminUserUpdate", { example: { status: "suspended", reason: "Spam reported by three students" } });

  const patchRoute = route({
    method: "patch",
    path: "/admin/users/{id}",
    tags: TAGS,
    summary: "Change an account's role or status (suspend, re-activate)",
    description:
      "Needs a login within RECENT_AUTH_MAX_AGE. `status: suspended` ends every session at once (access and refresh tokens fail " +
      "on their next use) and refuses sign-in with account_suspended; `active` lifts it. A lower role also ends every session. " +
      "Setting a role settles a pending instructor request (granted or declined). `admin` cannot be given here " +
      "(npm run create-admin), and no admin can change their own role or status (admin_self_change). Accounts being deleted " +
      "cannot be changed (account_being_deleted).",
    limit: "RL_DEFAULT",
    auth: ADMIN_CHANGE,
    errors: ["user_not_found", "admin_self_change", "account_being_deleted"],
    request: { params: idParams, body: jsonBody(PatchBody, "What to change") },
    responses: {
      200: json(
        z.object({ status: z.literal("success"), message: sentence(), user: AdminUserSchema }).openapi("AdminUserUpdated", {
          example: {
            status: "success",
            message: t("en", "success.admin_account_updated"),
            user: { ...EXAMPLE_ADMIN_USER, status: "suspended" },
          },
        }),
        "Updated",
      ),
    },
  });

  const revokeRoute = route({
    method: "post",
    path: "/admin/users/{id}/revoke-sessions",
    tags: TAGS,
    summary: "End every session of an account",
    description: "Needs a login within RECENT_AUTH_MAX_AGE. Its access and refresh tokens fail on their next use.",
    limit: "RL_DEFAULT",
    auth: ADMIN_CHANGE,
    errors: ["user_not_found"],
    request: { params: idParams },
    responses: {
      200: json(
        z
          .object({
            status: z.literal("success"),
            message: sentence(),
            sessions_ended: z.number().int().min(0).max(1_000_000).openapi({ format: "int32" }),
          })
          .openapi("AdminSessionsRevoked", {
            example: { status: "success", message: t("en", "success.admin_sessions_ended"), sessions_ended: 2 },
          }),
        "Sessions ended",
      ),
    },
  });

  const resetRoute = route({
    method: "post",
    path: "/admin/users/{id}/send-password-reset",
    tags: TAGS,
    summary: "Mail the account a password reset code",
    description:
      "Needs a login within RECENT_AUTH_MAX_AGE. The same code and mail as POST /forgot-password, within the same per-account " +
      "send throttle (429 with Retry-After when a code was sent recently). The admin never sees the code.",
    limit: "RL_DEFAULT",
    auth: ADMIN_CHANGE,
    errors: ["user_not_found", "account_being_deleted"],
    request: { params: idParams },
    responses: {
      202: {
        ...json(MessageSchema, "Accepted; the mail goes out in the background"),
        content: {
          "application/json": { schema: MessageSchema, example: { status: "success", message: t("en", "success.admin_reset_sent") } },
        },
      },
    },
  });

  const deletionResponse = (name: string, description: string, message: string, status: string) =>
    json(
      z.object({ status: z.literal("success"), message: sentence(), user: AdminUserSchema }).openapi(name, {
        example: { status: "success", message, user: { ...EXAMPLE_ADMIN_USER, status, deletion_due_at: null } },
      }),
      description,
    );

  const startDeletionRoute = route({
    method: "post",
    path: "/admin/users/{id}/deletion",
    tags: TAGS,
    summary: "Schedule an account's deletion (on its owner's behalf)",
    description:
      "Needs a login within RECENT_AUTH_MAX_AGE. As DELETE /account does for the owner: every session ends, sign-in answers " +
      "account_deletion_pending, the owner is mailed a restore code, and the purge anonymises the account at `deletion_due_at` " +
      "(ACCOUNT_DELETION_GRACE). Only an active account (account_not_active); not the caller's own (admin_self_change).",
    limit: "RL_DEFAULT",
    auth: ADMIN_CHANGE,
    errors: ["user_not_found", "admin_self_change", "account_being_deleted", "account_not_active"],
    request: { params: idParams },
    responses: {
      200: deletionResponse("AdminDeletionStarted", "Scheduled", t("en", "success.admin_deletion_started"), "deletion_pending"),
    },
  });

  const cancelDeletionRoute = route({
    method: "delete",
    path: "/admin/users/{id}/deletion",
    tags: TAGS,
    summary: "Cancel an account's pending deletion",
    description:
      "Needs a login within RECENT_AUTH_MAX_AGE. The account is active again (its ended sessions stay ended) and the mailed " +
      "restore code stops working. Only while the deletion is pending (account_not_being_deleted).",
    limit: "RL_DEFAULT",
    auth: ADMIN_CHANGE,
    errors: ["user_not_found", "account_not_being_deleted"],
    request: { params: idParams },
    responses: { 200: deletionResponse("AdminDeletionCancelled", "Cancelled", t("en", "success.admin_deletion_cancelled"), "active") },
  });

  const EXAMPLE_EVENT = {
    id: 48213,
    at: "2026-01-05T09:30:00.000Z",
    event: "admin_user_updated",
    outcome: "success",
    user_id: "3f1c2a3e-8a4b-4c1e-9f0a-2b7d5c6e8f90",
    user_email: "ada@example.com",
    actor_id: "0b7e6c1d-2a3f-4b5c-8d9e-0f1a2b3c4d5e",
    actor_email: "grace@example.com",
    ip: "203.0.113.7",
    user_agent: "Mozilla/5.0 (X11; Linux x86_64)",
    request_id: "5d0c7a4e-1f2b-4c3d-9e8f-7a6b5c4d3e2f",
    detail: { status_from: "active", status_to: "suspended", sessions_ended: 2 },
  };
  const email = z.string().email().max(255).nullable();
  const AuditEntrySchema = z
    .object({
      id: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER).openapi({ format: "int64" }),
      at: timestamp(),
      event: z.enum(AUDIT_EVENTS).or(z.string().max(64)),
      outcome: z.string().max(16),
      user_id: uuid().nullable().openapi({ description: "The account the event is about" }),
      user_email: email.openapi({ description: "That account's current address (null when there is none)" }),
      actor_id: uuid().nullable().openapi({ description: "The administrator who acted, for admin API events" }),
      actor_email: email.openapi({ description: "That administrator's current address" }),
      ip: z.string().max(64).nullable(),
      user_agent: z.string().max(512).nullable(),
      request_id: z.string().max(64).nullable(),
      detail: z
        .record(z.string().max(64), z.union([z.string().max(2048), z.number(), z.boolean(), z.null()]))
        .nullable()
        .openapi({ description: "What happened (docs/abuse.md#audit-log); never a password, code or token" }),
    })
    .openapi("AuditEvent", { example: EXAMPLE_EVENT });

  const auditRoute = route({
    method: "get",
    path: "/admin/audit",
    tags: TAGS,
    summary: "The audit log",
    description:
      `Newest first, ${LIST_DEFAULT} per page (\`limit\` up to ${LIST_MAX}), keyset cursors as for the user list. \`user_id\`: events ` +
      "about an account; `actor_id`: the admin API calls of an administrator; `type`: one event type (docs/abuse.md#audit-log); " +
      "`since` and `until`: events at or after, and before, these times. Each event carries the current addresses of the " +
      "accounts it names (`user_email`, `actor_email`). " +
      "Rows older than AUDIT_RETENTION are purged.",
    limit: "RL_DEFAULT",
    auth: ADMIN,
    errors: [],
    request: {
      query: z.object({
        user_id: uuid(issue("validation.uuid", { field: "user_id" })).optional(),
        actor_id: uuid(issue("validation.uuid", { field: "actor_id" })).optional(),
        type: z.enum(AUDIT_EVENTS, { error: issue("validation.audit_type_invalid") }).optional(),
        since: timestamp().optional().openapi({ description: "Events at or after this time (ISO 8601)" }),
        until: timestamp().optional().openapi({ description: "Events before this time (ISO 8601)" }),
        cursor: cursorField,
        limit: limitField,
      }),
    },
    responses: {
      200: json(
        z
          .object({ status: z.literal("success"), events: z.array(AuditEntrySchema).max(LIST_MAX), next_cursor: nextCursor })
          .openapi("AuditEventList", { example: { status: "success", events: [EXAMPLE_EVENT], next_cursor: null } }),
        "One page of events",
      ),
    },
  });

  return new OpenAPIHono<AppEnv>()
    .openapi(listRoute, async (c) => {
      const q = c.req.valid("query");
      const filters = {
        q: q.q,
        role: q.role,
        status: q.status,
        requestedRole: q.requested_role,
        verified: asFlag(q.verified),
        mfa: asFlag(q.mfa),
        cursor: q.cursor,
        limit: q.limit,
      };
      const page = await listUsers(c.get("deps"), c.get("meta"), c.get("auth"), filters);
      return c.json({ status: "success" as const, users: page.users, next_cursor: page.nextCursor }, 200);
    })
    .openapi(getRoute, async (c) => {
      const found = await getUser(c.get("deps"), c.get("meta"), c.get("auth"), c.req.valid("param").id);
      return c.json({ status: "success" as const, ...found, identities: found.identities.map(publicIdentity) }, 200);
    })
    .openapi(patchRoute, async (c) => {
      const user = await updateUser(c.get("deps"), c.get("meta"), c.get("auth"), c.req.valid("param").id, c.req.valid("json"));
      return c.json({ status: "success" as const, message: say(c, "success.admin_account_updated"), user }, 200);
    })
    .openapi(revokeRoute, async (c) => {
      const ended = await revokeUserSessions(c.get("deps"), c.get("meta"), c.get("auth"), c.req.valid("param").id);
      return c.json({ status: "success" as const, message: say(c, "success.admin_sessions_ended"), sessions_ended: ended }, 200);
    })
    .openapi(resetRoute, async (c) => {
      await sendUserPasswordReset(c.get("deps"), c.get("meta"), c.get("auth"), c.req.valid("param").id);
      return c.json({ status: "success" as const, message: say(c, "success.admin_reset_sent") }, 202);
    })
    .openapi(startDeletionRoute, async (c) => {
      const user = await startUserDeletion(c.get("deps"), c.get("meta"), c.get("auth"), c.req.valid("param").id);
      return c.json({ status: "success" as const, message: say(c, "success.admin_deletion_started"), user }, 200);
    })
    .openapi(cancelDeletionRoute, async (c) => {
      const user = await cancelUserDeletion(c.get("deps"), c.get("meta"), c.get("auth"), c.req.valid("param").id);
      return c.json({ status: "success" as const, message: say(c, "success.admin_deletion_cancelled"), user }, 200);
    })
    .openapi(auditRoute, async (c) => {
      const q = c.req.valid("query");
      const at = (v: string | undefined) => (v === undefined ? undefined : new Date(v));
      const filters = {
        userId: q.user_id,
        actorId: q.actor_id,
        type: q.type,
        since: at(q.since),
        until: at(q.until),
        cursor: q.cursor,
        limit: q.limit,
      };
      const page = await listAudit(c.get("deps"), c.get("meta"), c.get("auth"), filters);
      return c.json({ status: "success" as const, events: page.events, next_cursor: page.nextCursor }, 200);
    });
}
