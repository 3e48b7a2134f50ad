import { OpenAPIHono, z } from "@hono/zod-openapi";
import { ENROLLMENT, SESSION } from "../auth/access";
import { requestDeletion, restoreAccount } from "../auth/account/deletion";
import { exportAccount } from "../auth/account/export";
import { EXPORT_MAX_EVENTS } from "../auth/account/owned-data";
import { register } from "../auth/account/register";
import { publicUser } from "../auth/account/users";
import { completeAdminSetup } from "../auth/admin/setup";
import type { AppEnv } from "../context";
import { preferredLocale } from "../i18n/locales";
import { t } from "../i18n/messages";
import { route, say } from "./route";
import {
  AuthResponseSchema,
  anyPasswordField,
  EXAMPLE_USER,
  emailField,
  issue,
  json,
  jsonBody,
  MessageSchema,
  mfaCodeField,
  newPassword,
  otpField,
  RegisterBody,
  sentence,
  timestamp,
  UserSchema,
  uuid,
} from "./schemas";
export function accountRoutes() {
  /**
   * Accounts: registration, the caller (/me), deletion (and its restore), the data export, and the
   * setup of an account made by create-admin (docs/admin.md).
   */
  const TAGS = ["Account"];

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
      "it gets no session yet: 202 and a message instead of tokens. `locale` (else the request's Accept-Language, else not set) " +
      "is the language of the account's mails (docs/languages.md).",
    limit: "RL_REGISTER",
    captcha: { action: "register", when: "always" },
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

  const meRoute = route({
    method: "get",
    path: "/me",
    tags: ["Auth"],
    summary: "The authenticated user",
    description: "The user of the access token's session; the session must still be live (logout takes effect here at once).",
    limit: "RL_DEFAULT",
    // Open to every session that still has to enroll something (a second factor, a passkey).
    auth: { ...ENROLLMENT, passkeyEnrollment: true },
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

  const DeleteBody = z
    .object({
      current_password: anyPasswordField.optional(),
      mfa_code: mfaCodeField,
      code: otpField.optional().openapi({ description: "An account without a password: the code the first call mailed to its address" }),
    })
    .openapi("DeleteAccountRequest", { example: { current_password: "correct horse battery staple" } });

  const deleteRoute = route({
    method: "delete",
    path: "/account",
    tags: TAGS,
    summary: "Delete the caller's account (restorable during a grace period)",
    description:
      "Needs a login within RECENT_AUTH_MAX_AGE and the current password (checked through the login throttle); with two-factor " +
      "sign-in on, `mfa_code` too. An account without a password (social sign-in only) proves itself with a code mailed to its " +
      "address instead: the first call without `code` mails one and answers 403 deletion_code_required; send it back as `code` " +
      "(with `mfa_code` when MFA is on). Every session ends, sign-in answers 403 account_deletion_pending, and a code mailed to the address restores the " +
      "account (POST /auth/account/restore) until `deletion_due_at` (ACCOUNT_DELETION_GRACE, 14 days). Then the scheduled purge " +
      "anonymises it: the row stays for other services' references, without email, name, password, avatar or sessions.",
    limit: "RL_LOGIN",
    auth: { ...SESSION, recentLogin: true },
    errors: [
      "invalid_current_password",
      "password_reset_required",
      "mfa_code_required",
      "invalid_mfa_code",
      "mfa_code_used",
      "account_being_deleted",
      "deletion_code_required",
      "invalid_otp",
      "otp_expired",
      "otp_used",
      "otp_attempts_exceeded",
      "server_busy",
    ],
    request: {
      body: jsonBody(
        DeleteBody,
        "The current password, or the mailed code for an account without one (and mfa_code with two-factor sign-in)",
      ),
    },
    responses: {
      202: json(
        z.object({ status: z.literal("success"), message: sentence(), deletion_due_at: timestamp() }).openapi("AccountDeletionScheduled", {
          example: { status: "success", message: t("en", "success.deletion_scheduled"), deletion_due_at: "2026-01-19T09:30:00.000Z" },
        }),
        "Scheduled; every session ended",
      ),
    },
  });

  const RestoreBody = z
    .object({ email: emailField, code: otpField })
    .openapi("RestoreAccountRequest", { example: { email: "ada@example.com", code: "042917" } });

  const restoreRoute = route({
    method: "post",
    path: "/account/restore",
    tags: TAGS,
    summary: "Cancel a deletion with the mailed code",
    description:
      "Until the account's deletion is due. The guess limits of every code apply (OTP_FREE_FAILURES per account before delays). " +
      "Starts no session: log in again.",
    limit: "RL_EMAIL_CODES",
    errors: ["invalid_otp", "otp_expired", "otp_used", "otp_attempts_exceeded"],
    request: { body: jsonBody(RestoreBody, "The account's email and the mailed code") },
    responses: {
      200: {
        ...json(MessageSchema, "Restored"),
        content: {
          "application/json": { schema: MessageSchema, example: { status: "success", message: t("en", "success.account_restored") } },
        },
      },
    },
  });

  const detailSchema = z.record(z.string().max(64), z.union([z.string().max(2048), z.number(), z.boolean(), z.null()])).nullable();

  const ExportSchema = z
    .object({
      status: z.literal("success"),
      exported_at: timestamp(),
      profile: UserSchema.extend({
        status: z.string().max(50),
        created_at: timestamp().nullable(),
        email_verified_at: timestamp().nullable(),
        password_changed_at: timestamp().nullable(),
      }),
      mfa: z.object({
        totp: z.enum(["off", "pending", "active"]).or(z.string().max(16)),
        enrolled_at: timestamp().nullable(),
        confirmed_at: timestamp().nullable(),
        recovery_codes_remaining: z.number().int().min(0).max(100).openapi({ format: "int32" }),
      }),
      sessions: z
        .array(
          z.object({
            id: uuid(),
            created_at: timestamp(),
            last_used_at: timestamp(),
            expires_at: timestamp(),
            revoked_at: timestamp().nullable(),
            user_agent: z.string().max(512).nullable(),
            ip: z.string().max(64).nullable(),
            amr: z.array(z.string().max(16)).max(8),
          }),
        )
        .max(100_000),
      identities: z
        .array(
          z.object({
            id: uuid(),
            provider: z.string().max(32),
            email: z.string().max(255).nullable(),
            email_verified: z.boolean().openapi({ description: "What the provider said of the address when the identity was linked" }),
            linked_at: timestamp(),
            last_used_at: timestamp().nullable(),
          }),
        )
        .max(100)
        .openapi({ description: "Linked Google/Apple identities (the provider's user id is not shown)" }),
      passkeys: z
        .array(
          z.object({
            id: uuid(),
            name: z.string().max(64),
            created_at: timestamp(),
            last_used_at: timestamp().nullable(),
            device_type: z.enum(["single_device", "multi_device"]),
            backed_up: z.boolean(),
            transports: z.array(z.string().max(16)).max(8),
            aaguid: z.string().max(36),
          }),
        )
        .max(1000)
        .openapi({ description: "Passkeys (their public keys and credential ids are not shown)" }),
      audit_events: z
        .array(
          z.object({
            at: timestamp(),
            event: z.string().max(64),
            outcome: z.string().max(16),
            ip: z.string().max(64).nullable(),
            user_agent: z.string().max(512).nullable(),
            by_administrator: z.boolean().openapi({ description: "An administrator did this (their address and device are left out)" }),
            detail: detailSchema,
          }),
        )
        .max(EXPORT_MAX_EVENTS),
      audit_events_truncated: z.boolean().openapi({ description: `More than ${EXPORT_MAX_EVENTS} events: the oldest are left out` }),
    })
    .openapi("AccountExport", {
      example: {
        status: "success",
        exported_at: "2026-01-05T10:00:00.000Z",
        profile: {
          ...EXAMPLE_USER,
          status: "active",
          created_at: "2025-09-01T08:00:00.000Z",
          email_verified_at: "2025-09-01T08:05:00.000Z",
          password_changed_at: null,
        },
        mfa: { totp: "off", enrolled_at: null, confirmed_at: null, recovery_codes_remaining: 0 },
        identities: [],
        passkeys: [],
        sessions: [
          {
            id: "8b0f6a52-5c1d-4e7a-9d3b-1f2e3a4b5c6d",
            created_at: "2026-01-05T09:30:00.000Z",
            last_used_at: "2026-01-05T09:58:00.000Z",
            expires_at: "2026-02-04T09:30:00.000Z",
            revoked_at: null,
            user_agent: "Mozilla/5.0 (X11; Linux x86_64)",
            ip: "203.0.113.7",
            amr: ["pwd"],
          },
        ],
        audit_events: [
          {
            at: "2026-01-05T09:30:00.000Z",
            event: "login_succeeded",
            outcome: "success",
            ip: "203.0.113.7",
            user_agent: "Mozilla/5.0 (X11; Linux x86_64)",
            by_administrator: false,
            detail: { method: "pwd", amr: "pwd" },
          },
        ],
        audit_events_truncated: false,
      },
    });

  const exportRoute = route({
    method: "get",
    path: "/account/export",
    tags: TAGS,
    summary: "Download what this service holds about the caller",
    description:
      "The profile, the stored sessions, the second factor's state (never its secret) and the account's own audit events " +
      `(newest ${EXPORT_MAX_EVENTS}, within AUDIT_RETENTION), as one JSON document. Needs a login within RECENT_AUTH_MAX_AGE; ` +
      "ACCOUNT_EXPORT_DAILY_LIMIT (3) exports per account in 24 hours, then 429 with Retry-After.",
    limit: "RL_DEFAULT",
    auth: { ...SESSION, recentLogin: true },
    errors: [],
    responses: { 200: json(ExportSchema, "The caller's data") },
  });

  const SetupBody = z
    .object({
      token: z
        .string({ error: issue("validation.setup_token_required") })
        .min(1, issue("validation.setup_token_required"))
        .max(128)
        .regex(/^[A-Za-z0-9_-]+$/, issue("validation.setup_token_format")),
      new_password: newPassword,
    })
    .openapi("AdminSetupRequest", {
      example: { token: "Q2hhbmdlIHRoaXMgdG9rZW4gdG8gdGhlIHByaW50ZWQgb25l", new_password: "a long new admin passphrase" },
    });

  const setupRoute = route({
    method: "post",
    path: "/account/setup",
    tags: TAGS,
    summary: "Set the password of an account made by npm run create-admin, with its setup token",
    description:
      "Public: the token printed by `npm run create-admin` (valid 72 hours by default, works once) authenticates the request. It sets " +
      "the password of that admin account, ends its sessions and counts its address as verified (the operator vouched for it). It " +
      "never grants a role. Next: log in (the session may only enroll MFA), enroll and confirm an authenticator app, log in again " +
      "with it (docs/admin.md#the-first-admin).",
    limit: "RL_PASSWORD_RESET",
    errors: ["setup_token_invalid", "password_too_common", "password_breached", "password_check_unavailable", "server_busy"],
    request: { body: jsonBody(SetupBody, "The setup token and the admin's password") },
    responses: {
      200: {
        ...json(MessageSchema, "Password set"),
        content: {
          "application/json": { schema: MessageSchema, example: { status: "success", message: t("en", "success.admin_setup_done") } },
        },
      },
    },
  });

  return new OpenAPIHono<AppEnv>()
    .openapi(registerRoute, async (c) => {
      const body = c.req.valid("json");
      const outcome = await register(c.get("deps"), c.get("meta"), {
        fullName: body.full_name,
        email: body.email,
        password: body.password,
        role: body.role,
        // Chosen, else the language the request asks in; null when it names none we support.
        locale: body.locale ?? preferredLocale(c.req.header("accept-language")) ?? null,
      });
      if (outcome.kind !== "created") {
        // REGISTER_ENUMERATION_SAFE: one answer for a new and a taken email; REQUIRE_VERIFIED_EMAIL: no session yet.
        const message = say(c, outcome.kind === "accepted" ? "success.register_accepted" : "success.register_verify");
        return c.json({ status: "success" as const, message }, 202);
      }
      const { user, tokens } = outcome;
      return c.json({ status: "success" as const, message: say(c, "success.account_created"), user: publicUser(user), ...tokens }, 201);
    })
    .openapi(meRoute, (c) => c.json({ status: "success" as const, user: publicUser(c.get("auth").user) }, 200))
    .openapi(deleteRoute, async (c) => {
      const body = c.req.valid("json");
      const { dueAt } = await requestDeletion(c.get("deps"), c.get("meta"), c.get("auth"), {
        currentPassword: body.current_password,
        mfaCode: body.mfa_code,
        code: body.code,
      });
      return c.json(
        { status: "success" as const, message: say(c, "success.deletion_scheduled"), deletion_due_at: dueAt.toISOString() },
        202,
      );
    })
    .openapi(restoreRoute, async (c) => {
      await restoreAccount(c.get("deps"), c.get("meta"), c.req.valid("json"));
      return c.json({ status: "success" as const, message: say(c, "success.account_restored") }, 200);
    })
    .openapi(exportRoute, async (c) => {
      const data = await exportAccount(c.get("deps"), c.get("meta"), c.get("auth"));
      c.header("Content-Disposition", 'attachment; filename="account-export.json"');
      // The sections come from the owned-data registry (src/auth/account/owned-data.ts); ExportSchema documents them.
      return c.json({ status: "success" as const, ...data } as z.output<typeof ExportSchema>, 200);
    })
    .openapi(setupRoute, async (c) => {
      const body = c.req.valid("json");
      await completeAdminSetup(c.get("deps"), c.get("meta"), body.token, body.new_password);
      return c.json({ status: "success" as const, message: say(c, "success.admin_setup_done") }, 200);
    });
}
