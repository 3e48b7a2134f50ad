import { z } from "@hono/zod-openapi";

/**
 * The zod schemas that validate requests and shape responses. The OpenAPI document at
 * /openapi.json is generated from these same objects.
 */
export const ErrorSchema = z
  .object({
    status: z.literal("error"),
    message: z.string(),
    code: z.string(),
    issues: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  })
  .openapi("Error", { example: { status: "error", message: "Invalid email or password.", code: "invalid_credentials" } });

export const UserSchema = z
  .object({
    id: z.string().uuid(),
    full_name: z.string(),
    email: z.string(),
    role: z.enum(["student", "instructor", "admin"]).or(z.string()),
    avatar: z.string().nullable(),
  })
  .openapi("User", {
    example: {
      id: "3f1c2a3e-8a4b-4c1e-9f0a-2b7d5c6e8f90",
      full_name: "Ada Lovelace",
      email: "ada@example.com",
      role: "student",
      avatar: null,
    },
  });

const EXAMPLE_ACCESS = "eyJhbGciOiJFZERTQSIsInR5cCI6IkpXVCIsImtpZCI6ImVkZHNhLWV4YW1wbGUifQ.eyJzdWIiOiIzZjFjMmEzZSJ9.c2lnbmF0dXJl";

export const TokenPairSchema = z.object({
  access_token: z.string().openapi({ example: EXAMPLE_ACCESS }),
  refresh_token: z.string().openapi({ example: "Zk9xY2ZQbGZ0c2V4YW1wbGVyZWZyZXNodG9rZW4xMjM0" }),
  token_type: z.literal("Bearer"),
  expires_in: z.number().int().openapi({ example: 900 }),
});

export const EXAMPLE_USER = {
  id: "3f1c2a3e-8a4b-4c1e-9f0a-2b7d5c6e8f90",
  full_name: "Ada Lovelace",
  email: "ada@example.com",
  role: "student",
  avatar: null,
};

export const EXAMPLE_TOKENS = {
  access_token: EXAMPLE_ACCESS,
  refresh_token: "Zk9xY2ZQbGZ0c2V4YW1wbGVyZWZyZXNodG9rZW4xMjM0",
  token_type: "Bearer" as const,
  expires_in: 900,
};

export const AuthResponseSchema = z
  .object({ status: z.literal("success"), message: z.string(), user: UserSchema })
  .merge(TokenPairSchema)
  .openapi("AuthResponse", { example: { status: "success", message: "Logged in.", user: EXAMPLE_USER, ...EXAMPLE_TOKENS } });

export const MessageSchema = z
  .object({ status: z.literal("success"), message: z.string() })
  .openapi("Message", { example: { status: "success", message: "Done." } });

const email = z
  .string({ error: "Email is required." })
  .trim()
  .min(1, "Email is required.")
  .max(255, "Email must be at most 255 characters.")
  .email("Enter a valid email address.")
  .openapi({ example: "ada@example.com" });

/** Login accepts any non-empty password up to the maximum: older accounts may hold short ones. */
const anyPassword = z
  .string({ error: "Password is required." })
  .min(1, "Password is required.")
  .max(1024, "Password must be at most 256 characters.")
  .openapi({ example: "correct horse battery staple" });

/** The policy (8 to 256 characters after NFKC) is checked by the domain, which also checks breaches. */
export const newPassword = z
  .string({ error: "Password is required." })
  .max(1024, "Password must be at most 256 characters.")
  .openapi({ example: "correct horse battery staple", minLength: 8, maxLength: 256 });

export const RegisterBody = z
  .object({
    full_name: z
      .string({ error: "Full name is required." })
      .trim()
      .min(1, "Full name is required.")
      .max(100, "Full name must be at most 100 characters.")
      .openapi({ example: "Ada Lovelace" }),
    email,
    password: newPassword,
    role: z
      .enum(["student", "instructor"], { error: "Role must be student or instructor." })
      .default("student")
      .openapi({ example: "student" }),
  })
  .openapi("RegisterRequest", {
    example: { full_name: "Ada Lovelace", email: "ada@example.com", password: "correct horse battery staple", role: "student" },
  });

export const LoginBody = z
  .object({ email, password: anyPassword })
  .openapi("LoginRequest", { example: { email: "ada@example.com", password: "correct horse battery staple" } });

export const RefreshBody = z
  .object({ refresh_token: z.string({ error: "refresh_token is required." }).min(1, "refresh_token is required.").max(512) })
  .openapi("RefreshRequest", { example: { refresh_token: "Zk9xY2ZQbGZ0c2V4YW1wbGVyZWZyZXNodG9rZW4xMjM0" } });

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

/** Error responses for the given statuses, each with a typical body as its documented example. */
export const errorResponses = (...statuses: number[]) => Object.fromEntries(statuses.map((s) => [s, errorResponse(s)]));

export const errorResponse = (status: number, description = ERROR_DESCRIPTIONS[status] ?? "Error") => {
  const [code, message] = ERROR_EXAMPLES[status] ?? ["error", "Request failed."];
  return {
    description,
    content: { "application/json": { schema: ErrorSchema, example: { status: "error" as const, code, message } } },
  };
};

const ERROR_EXAMPLES: Record<number, [code: string, message: string]> = {
  400: ["validation_failed", "Enter a valid email address."],
  401: ["invalid_token", "Your session is invalid. Please log in again."],
  403: ["forbidden", "You are not allowed to do this."],
  404: ["not_found", "Not found."],
  405: ["method_not_allowed", "Method GET is not allowed here. Use POST."],
  409: ["email_taken", "An account with this email already exists."],
  413: ["payload_too_large", "The request body is too large."],
  415: ["unsupported_media_type", "Unsupported content type: send application/json."],
  429: ["too_many_requests", "Too many attempts. Please wait and try again."],
  500: ["internal_error", "Something went wrong on our side. Please try again."],
  502: ["upstream_error", "An upstream service failed. Please try again."],
  503: ["service_unavailable", "The service is temporarily unavailable. Please try again shortly."],
};

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: "Malformed JSON or failed validation",
  401: "Missing, invalid or expired credentials",
  403: "Forbidden",
  404: "Not found",
  405: "Method not allowed (see Allow)",
  409: "Conflict",
  413: "Body too large",
  415: "Unsupported content type",
  429: "Too many requests (see Retry-After)",
  500: "Internal error",
  502: "Upstream failure",
  503: "Service unavailable",
};
