import { z } from "@hono/zod-openapi";
import { EMAIL_MAX } from "../auth/account/users";
import { PASSWORD_MAX } from "../auth/password/hash";
import { ERROR_CATALOG, type ErrorCode, type Issue, MAX_ISSUES, MAX_MESSAGE, MAX_PATH } from "../errors";
import { SUPPORTED_LOCALES } from "../i18n/locales";
import { isMessageKey, type Message, type MessageKey, msg, type ParamsArg, t } from "../i18n/messages";

/**
 * The zod schemas that validate requests and shape responses. The OpenAPI document at
 * /openapi.json is generated from these same objects, and `npm run lint:api` audits it
 * (Spectral + OWASP): every string has a maxLength (and, where it has one, a format or
 * pattern), every integer a format and bounds, every array a maxItems. The helpers below
 * bring those with them.
 */

/**
 * A validation message for a zod schema: a catalog key (and its parameters), carried through zod as
 * the issue's message and rendered in the request's language by zodIssue below.
 */
export function issue<K extends MessageKey>(key: K, ...params: ParamsArg<K>): string {
  return params.length ? `${key}${PARAMS}${JSON.stringify(params[0])}` : key;
}
const PARAMS = "\u001f";

type ZodIssue = { code: string; path: PropertyKey[]; message: string; origin?: string; maximum?: unknown; minimum?: unknown };

/** The value at a path of the validated input (undefined when it is not there). */
const valueAt = (input: unknown, path: PropertyKey[]) =>
  path.reduce<unknown>((v, k) => (v && typeof v === "object" ? (v as Record<PropertyKey, unknown>)[k] : undefined), input);

/**
 * A zod issue as an API issue: the schema's own message (a key from issue() above), else a
 * catalog message for the kind of problem, naming the field.
 */
export function zodIssue(i: ZodIssue, input: unknown): Issue {
  const path = i.path.map(String).join(".") || "(body)";
  const [key, params] = i.message.split(PARAMS);
  if (isMessageKey(key)) return { path, message: { key, params: params ? JSON.parse(params) : undefined } as Message };
  if (!i.path.length) return { path, message: msg("validation.body_invalid") };
  const field = path;
  const bound = (v: unknown) => String(v);
  if (i.code === "invalid_type" && valueAt(input, i.path) === undefined) return { path, message: msg("validation.required", { field }) };
  if (i.code === "too_big" && i.origin === "string") return { path, message: msg("validation.too_long", { field, max: bound(i.maximum) }) };
  if (i.code === "too_small" && i.origin === "string")
    return { path, message: msg("validation.too_short", { field, min: bound(i.minimum) }) };
  if (i.code === "too_big" && i.origin === "array") return { path, message: msg("validation.too_many", { field, max: bound(i.maximum) }) };
  if (i.code === "too_big" && i.origin === "number") return { path, message: msg("validation.too_big", { field, max: bound(i.maximum) }) };
  if (i.code === "too_small" && i.origin === "number")
    return { path, message: msg("validation.too_small", { field, min: bound(i.minimum) }) };
  return { path, message: msg("validation.invalid", { field }) };
}

/** A UUID (format uuid, 36 characters). */
export const uuid = (message?: string) => z.string().uuid(message).max(36);
/** An ISO 8601 timestamp as the API answers it (`2026-01-05T09:30:00.000Z`). */
export const timestamp = () => z.string().datetime().max(30);
/** A sentence for people (messages); programs read `code` or `status`. */
export const sentence = () => z.string().max(500);
/** An integer with its bounds, as a 32-bit integer in the document. */
export const int32 = (min: number, max: number) => z.number().int().min(min).max(max).openapi({ format: "int32" });
/**
 * An integer query parameter: decimal digits only (no sign, spaces, exponent, or the hex, octal
 * and binary notations Number() would read), then its bounds; documented as an integer.
 */
export const queryInt = (min: number, max: number, format: "int32" | "int64") =>
  z
    .preprocess((v) => (typeof v === "string" && /^\d{1,16}$/.test(v) ? Number(v) : v), z.number().int().min(min).max(max))
    .openapi({ type: "integer", format, minimum: min, maximum: max });
/** base64url text (tokens, key material), without padding. */
const base64url = (max: number) =>
  z
    .string()
    .max(max)
    .regex(/^[A-Za-z0-9_-]*$/);

const ERROR_CODES = Object.keys(ERROR_CATALOG) as [ErrorCode, ...ErrorCode[]];

export const ErrorSchema = z
  .object({
    status: z.literal("error"),
    message: z.string().max(MAX_MESSAGE),
    code: z.enum(ERROR_CODES).openapi({ description: "Stable machine-readable code (docs/errors.md)" }),
    issues: z
      .array(z.object({ path: z.string().max(MAX_PATH), message: z.string().max(MAX_MESSAGE) }))
      .max(MAX_ISSUES)
      .optional(),
    site_key: z
      .string()
      .max(64)
      .regex(/^[A-Za-z0-9_-]+$/)
      .optional()
      .openapi({
        description: "captcha_required and captcha_invalid: the Turnstile site key to render the widget with (docs/bot-defence.md)",
      }),
    action: z
      .string()
      .max(32)
      .regex(/^[a-z_]+$/)
      .optional()
      .openapi({ description: "captcha_required and captcha_invalid: the widget's action for this route" }),
    credential_id: z
      .string()
      .max(1366)
      .regex(/^[A-Za-z0-9_-]+$/)
      .optional()
      .openapi({ description: "passkey_unknown: the credential id to pass to PublicKeyCredential.signalUnknownCredential()" }),
  })
  .openapi("Error", { example: { status: "error", message: t("en", "error.invalid_credentials"), code: "invalid_credentials" } });

export const EXAMPLE_USER = {
  id: "3f1c2a3e-8a4b-4c1e-9f0a-2b7d5c6e8f90",
  full_name: "Ada Lovelace",
  email: "ada@example.com",
  role: "student",
  avatar: null,
  email_verified: true,
  requested_role: null,
  locale: "hi",
};

/** The account's language (mails, docs/languages.md): one of SUPPORTED_LOCALES. */
export const localeField = z
  .enum(SUPPORTED_LOCALES, { error: issue("validation.locale_invalid", { locales: SUPPORTED_LOCALES.join(", ") }) })
  .openapi({ example: "hi", description: `The language of the account's mails: ${SUPPORTED_LOCALES.join(", ")}` });

export const UserSchema = z
  .object({
    id: uuid(),
    full_name: z.string().max(100),
    email: z.string().email().max(255),
    // An account written by another service may hold a role this API does not know.
    role: z.enum(["student", "instructor", "admin"]).or(z.string().max(50)),
    avatar: z.string().max(2048).nullable().openapi({ description: "Public URL of the avatar, or null" }),
    email_verified: z.boolean().openapi({ description: "The address was proven by a mailed code (docs/email-verification.md)" }),
    requested_role: z
      .enum(["instructor"])
      .or(z.string().max(50))
      .nullable()
      .openapi({ description: "INSTRUCTOR_APPROVAL=required: the role asked for at registration, until an admin decides (docs/admin.md)" }),
    locale: z.enum(SUPPORTED_LOCALES).nullable().openapi({
      description:
        "The language of the account's mails (docs/languages.md); null: not chosen, mails follow the Accept-Language of the request that causes them",
    }),
  })
  .openapi("User", { example: EXAMPLE_USER });

const EXAMPLE_ACCESS = "eyJhbGciOiJFZERTQSIsInR5cCI6IkpXVCIsImtpZCI6ImVkZHNhLWV4YW1wbGUifQ.eyJzdWIiOiIzZjFjMmEzZSJ9.c2lnbmF0dXJl";

export const TokenPairSchema = z.object({
  access_token: z
    .string()
    .max(8192)
    .regex(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/)
    .openapi({ example: EXAMPLE_ACCESS, description: "A JWS in compact form (docs/tokens-and-sessions.md)" }),
  refresh_token: base64url(512).openapi({
    example: "Zk9xY2ZQbGZ0c2V4YW1wbGVyZWZyZXNodG9rZW4xMjM0",
    description: "Opaque; send it to /refresh",
  }),
  token_type: z.literal("Bearer"),
  // ACCESS_TOKEN_TTL: 60 s to 90 days.
  expires_in: int32(60, 90 * 86400).openapi({ example: 900, description: "Seconds until the access token expires" }),
});

export const EXAMPLE_TOKENS = {
  access_token: EXAMPLE_ACCESS,
  refresh_token: "Zk9xY2ZQbGZ0c2V4YW1wbGVyZWZyZXNodG9rZW4xMjM0",
  token_type: "Bearer" as const,
  expires_in: 900,
};

export const AuthResponseSchema = z
  .object({ status: z.literal("success"), message: sentence(), user: UserSchema })
  .merge(TokenPairSchema)
  .openapi("AuthResponse", {
    example: { status: "success", message: t("en", "success.logged_in"), user: EXAMPLE_USER, ...EXAMPLE_TOKENS },
  });

/** The right password on an account with two-factor sign-in: no session yet (continue at POST /auth/mfa/verify). */
const MfaRequiredSchema = z
  .object({
    status: z.literal("mfa_required"),
    message: z.string().max(200),
    mfa_token: z.string().max(128).openapi({ description: "Single-use, valid `expires_in` seconds; send it to POST /auth/mfa/verify" }),
    // MFA_TOKEN_TTL: 1 to 15 minutes.
    expires_in: int32(60, 900),
    methods: z
      .array(z.enum(["totp", "recovery_code", "passkey"]))
      .max(3)
      .openapi({ description: "The second factors the account holds: what POST /auth/mfa/verify accepts for this token" }),
  })
  .openapi("MfaRequired", {
    example: {
      status: "mfa_required",
      message: t("en", "success.mfa_required"),
      mfa_token: "pQ8hW3x0rYk2uVd9sLq1cN5mTb7eZf4aJg6iKo0yXw8",
      expires_in: 300,
      methods: ["totp", "recovery_code"],
    },
  });

/** Every sign-in answers one of these: tokens, or the MFA step. */
export const SignInResponseSchema = z.union([AuthResponseSchema, MfaRequiredSchema]).openapi("SignInResponse", {
  example: { status: "success", message: t("en", "success.logged_in"), user: EXAMPLE_USER, ...EXAMPLE_TOKENS },
});

export const MessageSchema = z
  .object({ status: z.literal("success"), message: sentence() })
  .openapi("Message", { example: { status: "success", message: "Done." } });

const email = z
  .string({ error: issue("validation.email_required") })
  .trim()
  .min(1, issue("validation.email_required"))
  .max(EMAIL_MAX, issue("validation.email_too_long"))
  .email(issue("validation.email_invalid"))
  .openapi({ example: "ada@example.com" });

/** Login accepts any non-empty password up to the maximum: older accounts may hold short ones. */
const anyPassword = z
  .string({ error: issue("validation.password_required") })
  .min(1, issue("validation.password_required"))
  .max(1024, issue("validation.password_too_long", { max: PASSWORD_MAX }))
  .openapi({ example: "correct horse battery staple" });

/** The policy (8 to 256 characters after NFKC) is checked by the domain, which also checks breaches. */
export const newPassword = z
  .string({ error: issue("validation.password_required") })
  .max(1024, issue("validation.password_too_long", { max: PASSWORD_MAX }))
  .openapi({ example: "correct horse battery staple", minLength: 8, maxLength: 256 });

export const RegisterBody = z
  .object({
    full_name: z
      .string({ error: issue("validation.full_name_required") })
      .trim()
      .min(1, issue("validation.full_name_required"))
      .max(100, issue("validation.full_name_too_long"))
      .openapi({ example: "Ada Lovelace" }),
    email,
    password: newPassword,
    role: z
      .enum(["student", "instructor"], { error: issue("validation.role_invalid") })
      .default("student")
      .openapi({ example: "student" }),
    locale: localeField
      .optional()
      .openapi({ description: "The language of the account's mails; without it, taken from Accept-Language (else not set)" }),
  })
  .openapi("RegisterRequest", {
    example: {
      full_name: "Ada Lovelace",
      email: "ada@example.com",
      password: "correct horse battery staple",
      role: "student",
      locale: "hi",
    },
  });

export const LoginBody = z
  .object({ email, password: anyPassword })
  .openapi("LoginRequest", { example: { email: "ada@example.com", password: "correct horse battery staple" } });

export const RefreshBody = z
  .object({
    refresh_token: z
      .string({ error: issue("validation.refresh_token_required") })
      .min(1, issue("validation.refresh_token_required"))
      .max(512),
  })
  .openapi("RefreshRequest", { example: { refresh_token: "Zk9xY2ZQbGZ0c2V4YW1wbGVyZWZyZXNodG9rZW4xMjM0" } });

const CODE_MESSAGE = issue("validation.code_format");

/** The code as typed (a string keeps leading zeros); a number from older clients is accepted and zero-padded. */
export const otpField = z
  .union(
    [
      z
        .string()
        .trim()
        .max(6)
        .regex(/^\d{6}$/, CODE_MESSAGE),
      int32(0, 999_999),
    ],
    { error: CODE_MESSAGE },
  )
  .transform((v) => (typeof v === "number" ? String(v).padStart(6, "0") : v))
  .openapi({ example: "042917", description: "The 6-digit code from the email" });

export const emailField = email;
export const anyPasswordField = anyPassword;

export const jsonBody = <T extends z.ZodType>(schema: T, description: string) => ({
  content: { "application/json": { schema } },
  required: true,
  description,
});

export const json = <T extends z.ZodType>(schema: T, description: string) => ({
  content: { "application/json": { schema } },
  description,
});

/** A current TOTP code or an unused recovery code, on accounts with two-factor sign-in (src/auth/mfa/step-up.ts). */
export const mfaCodeField = z
  .string()
  .trim()
  .min(1)
  .max(32)
  .optional()
  .openapi({ example: "123456", description: "Required when two-factor sign-in is on: a current authenticator code or a recovery code" });

/** The fields of a session as the API shows it (the owner's list adds `current`; the admin view does not). */
export const sessionFields = () => ({
  id: uuid(),
  created_at: timestamp(),
  last_used_at: timestamp(),
  expires_at: timestamp(),
  user_agent: z.string().max(512).nullable(),
  ip: z.string().max(64).nullable(),
});
