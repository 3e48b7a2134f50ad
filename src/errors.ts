import { DEFAULT_LOCALE, type Locale } from "./i18n/locales";
import { type Message, type MessageKey, render } from "./i18n/messages";
import { boundedText } from "./lib/encoding";

/**
 * The error catalog: every code the API can answer, declared once with its HTTP status. Its
 * message is `error.<code>` in the message catalogs (src/i18n/catalogs/, English first), answered
 * in the request's language; the code never changes. Code raises errors by name
 * (`throw apiError("invalid_credentials")`); routes list the codes they can answer and their
 * OpenAPI responses are derived from this table (src/routes/route.ts); docs/errors.md is checked
 * against it by a test, and tsc fails below on a code without its message.
 *
 * A new feature adds its codes here, in its own group, and `error.<code>` to each catalog.
 */
export const ERROR_CATALOG = {
  // Requests (answered by the app-wide middleware as well as by routes)
  validation_failed: { status: 400 },
  malformed_json: { status: 400 },
  malformed_form: { status: 400 },
  unauthorized: { status: 401 },
  not_found: { status: 404 },
  method_not_allowed: { status: 405 },
  payload_too_large: { status: 413 },
  unsupported_media_type: { status: 415 },
  // Every 429 (per-client rate limits, login throttle, code resend and guess delays): the message
  // says which; Retry-After says how long.
  too_many_requests: { status: 429 },
  internal_error: { status: 500 },
  service_unavailable: { status: 503 },
  // Too many password hashes queued in this isolate (HASH_QUEUE_MAX_WAIT): answered at once, nothing changed.
  server_busy: { status: 503 },

  // Accounts and login
  email_taken: { status: 409 },
  invalid_credentials: { status: 401 },
  password_reset_required: { status: 403 },
  account_suspended: { status: 403 },

  // New passwords
  password_too_common: { status: 400 },
  password_breached: { status: 400 },
  password_check_unavailable: { status: 503 },
  invalid_current_password: { status: 401 },
  password_change_conflict: { status: 409 },

  // Tokens and sessions
  invalid_token: { status: 401 },
  token_expired: { status: 401 },
  invalid_refresh_token: { status: 401 },
  session_not_found: { status: 404 },

  // Service clients (src/auth/services/): HTTP Basic with client_id:client_secret
  invalid_client: { status: 401 },
  insufficient_scope: { status: 403 },
  service_client_not_found: { status: 404 },

  // Webhooks (src/auth/webhooks/): a bad URL or event type is validation_failed naming the field
  webhook_not_found: { status: 404 },
  webhook_delivery_not_found: { status: 404 },
  webhook_disabled: { status: 409 },

  // One-time codes (every purpose: password reset, email verification, ...)
  invalid_otp: { status: 400 },
  otp_expired: { status: 400 },
  otp_used: { status: 400 },
  otp_attempts_exceeded: { status: 400 },

  // Email verification and email change
  email_unverified: { status: 403 },
  email_revert_conflict: { status: 409 },

  // Two-factor sign-in (src/auth/mfa/)
  mfa_token_invalid: { status: 401 },
  invalid_mfa_code: { status: 401 },
  mfa_code_used: { status: 401 },
  mfa_code_required: { status: 403 },
  recent_login_required: { status: 403 },
  mfa_enrollment_required: { status: 403 },
  mfa_already_enabled: { status: 409 },
  mfa_not_enabled: { status: 409 },
  mfa_enrollment_not_started: { status: 409 },

  // Sign in with Google and Apple (src/auth/oauth/): each refused ID token has its own code
  id_token_malformed: { status: 401 },
  id_token_bad_signature: { status: 401 },
  id_token_unknown_key: { status: 401 },
  id_token_wrong_issuer: { status: 401 },
  id_token_wrong_audience: { status: 401 },
  id_token_expired: { status: 401 },
  id_token_not_yet_valid: { status: 401 },
  nonce_missing: { status: 401 },
  nonce_mismatch: { status: 401 },
  oauth_email_missing: { status: 400 },
  oauth_state_invalid: { status: 400 },
  oauth_redirect_not_allowed: { status: 400 },
  oauth_provider_error: { status: 400 },
  oauth_code_rejected: { status: 400 },
  oauth_exchange_code_invalid: { status: 401 },
  oauth_browser_mismatch: { status: 400 },
  oauth_intent_mismatch: { status: 400 },
  id_token_email_invalid: { status: 401 },
  id_token_replayed: { status: 401 },
  provider_unavailable: { status: 503 },
  account_exists_unverified_link: { status: 409 },
  account_exists_reset_required: { status: 409 },
  identity_already_linked: { status: 409 },
  identity_not_found: { status: 404 },
  last_sign_in_method: { status: 409 },

  // Passkeys (src/auth/passkeys/)
  passkey_challenge_invalid: { status: 401 },
  passkey_invalid: { status: 401 },
  passkey_unknown: { status: 401 },
  passkey_counter_regressed: { status: 401 },
  passkey_user_verification_required: { status: 401 },
  passkey_already_registered: { status: 409 },
  passkey_not_found: { status: 404 },
  phishing_resistant_required: { status: 403 },

  // Account management: the admin API, deletion and restore (src/auth/admin/, src/auth/account/deletion.ts)
  admin_required: { status: 403 },
  admin_mfa_required: { status: 403 },
  admin_self_change: { status: 403 },
  user_not_found: { status: 404 },
  account_being_deleted: { status: 409 },
  account_not_active: { status: 409 },
  account_not_being_deleted: { status: 409 },
  account_deletion_pending: { status: 403 },
  account_deleted: { status: 403 },
  deletion_code_required: { status: 403 },
  setup_token_invalid: { status: 400 },

  // Bot defence: Cloudflare Turnstile (src/auth/bot-defence/, docs/bot-defence.md); the 403 and 400 carry `site_key` and `action`
  captcha_required: { status: 403 },
  captcha_invalid: { status: 400 },
  captcha_unavailable: { status: 503 },

  // Profile and avatars
  email_mismatch: { status: 403 },
  unsupported_image_type: { status: 415 },
  image_too_large_pixels: { status: 413 },
  image_processing_unavailable: { status: 503 },
  storage_error: { status: 502 },
  storage_unavailable: { status: 503 },
} as const satisfies Record<string, { status: ErrorStatus }>;

export type ErrorStatus = 400 | 401 | 403 | 404 | 405 | 409 | 410 | 413 | 415 | 422 | 429 | 500 | 502 | 503;
export type ErrorCode = keyof typeof ERROR_CATALOG;

/** The default message of a code: `error.<code>` (a code without one fails to compile here). */
function defaultMessage(code: ErrorCode): Message {
  const key: MessageKey = `error.${code}`;
  return { key } as Message;
}

export interface Issue {
  path: string;
  message: Message;
}

export interface ErrorOptions {
  /** Replaces the code's message: a more specific sentence (`error.<code>.<case>` or `validation.<...>`). */
  message?: Message;
  issues?: Issue[];
  /** Seconds; sent as Retry-After (rounded up, at least 1). */
  retryAfter?: number;
  headers?: Record<string, string>;
  /** What the client needs to render the challenge (captcha_required, captcha_invalid). */
  challenge?: Challenge;
  /** More members of the error body, for a client to act on (passkey_unknown: the `credential_id` to signal as unknown). */
  fields?: Record<string, string>;
}

/** The Turnstile widget a client renders to answer captcha_required: its public site key and action. */
export type Challenge = { site_key: string; action: string };

/**
 * The one error type of the API. Its status, code and message become the JSON error body, the
 * message in the request's language; `message` (for logs) is English.
 */
export class AppError extends Error {
  readonly status: ErrorStatus;
  readonly retryAfter: number | undefined;
  /** What the answer says, rendered in the answer's locale. */
  readonly text: Message;
  constructor(
    readonly code: ErrorCode,
    readonly options: ErrorOptions = {},
  ) {
    const text = options.message ?? defaultMessage(code);
    super(render(DEFAULT_LOCALE, text));
    this.text = text;
    this.status = ERROR_CATALOG[code].status;
    this.retryAfter = options.retryAfter === undefined ? undefined : Math.max(1, Math.ceil(options.retryAfter));
  }
}

/** `throw apiError("invalid_credentials")`: an AppError by its catalog name. */
export const apiError = (code: ErrorCode, options?: ErrorOptions) => new AppError(code, options);

/** 400 validation_failed with the field issues; one issue's message becomes the message. */
export const validationError = (issues: Issue[]) =>
  new AppError("validation_failed", { issues, message: issues.length === 1 ? issues[0].message : undefined });

/** A problem with one field, as validation_failed or another 400 code (the field is named in `issues`). */
export const fieldError = (code: ErrorCode, path: string, message: Message = defaultMessage(code)) =>
  new AppError(code, { message, issues: [{ path, message }] });

/** What an error body may echo (the Error schema, src/routes/schemas.ts): paths and messages can quote client input. */
export const MAX_ISSUES = 50;
export const MAX_PATH = 200;
export const MAX_MESSAGE = 500;

/**
 * The one JSON error shape, in a locale: {status:"error", message, code, issues?}, plus the members
 * a client acts on for some codes (`extra`: site_key and action of captcha_required, credential_id
 * of passkey_unknown). Issues and messages are bounded and stripped of control characters and lone
 * surrogates here, once for every error, whatever raised it.
 */
export function errorBody(
  locale: Locale,
  code: ErrorCode,
  message: Message = defaultMessage(code),
  issues?: Issue[],
  extra?: Record<string, string>,
) {
  return {
    ...extra,
    status: "error" as const,
    message: boundedText(render(locale, message), MAX_MESSAGE),
    code,
    ...(issues
      ? {
          issues: issues
            .slice(0, MAX_ISSUES)
            .map((i) => ({ path: boundedText(i.path, MAX_PATH), message: boundedText(render(locale, i.message), MAX_MESSAGE) })),
        }
      : {}),
  };
}
