import { boundedText } from "./lib/encoding";

/**
 * The error catalog: every code the API can answer, declared once with its HTTP status and
 * default message. Code raises errors by name (`throw apiError("invalid_credentials")`); routes
 * list the codes they can answer and their OpenAPI responses are derived from this table
 * (src/routes/route.ts); docs/errors.md is checked against it by a test.
 *
 * A new feature adds its codes here, in its own group.
 */
export const ERROR_CATALOG = {
  // Requests (answered by the app-wide middleware as well as by routes)
  validation_failed: { status: 400, message: "Some fields are invalid." },
  malformed_json: { status: 400, message: "The request body is not valid JSON." },
  malformed_form: { status: 400, message: "The request body is not valid multipart form data." },
  unauthorized: { status: 401, message: "Authentication required: send Authorization: Bearer <token>." },
  not_found: { status: 404, message: "Not found." },
  method_not_allowed: { status: 405, message: "Method not allowed." },
  payload_too_large: { status: 413, message: "The request body is too large." },
  unsupported_media_type: { status: 415, message: "Unsupported content type: send application/json." },
  // Every 429 (per-client rate limits, login throttle, code resend and guess delays): the message
  // says which; Retry-After says how long.
  too_many_requests: { status: 429, message: "Too many requests. Please slow down and try again shortly." },
  internal_error: { status: 500, message: "Something went wrong on our side. Please try again." },
  service_unavailable: { status: 503, message: "The service is temporarily unavailable. Please try again shortly." },
  // Too many password hashes queued in this isolate (HASH_QUEUE_MAX_WAIT): answered at once, nothing changed.
  server_busy: { status: 503, message: "The service is busy right now. Please try again in a few seconds." },

  // Accounts and login
  email_taken: { status: 409, message: "An account with this email already exists." },
  invalid_credentials: { status: 401, message: "Invalid email or password." },
  password_reset_required: {
    status: 403,
    message: "This account is locked after too many failed attempts. Reset your password to log in again.",
  },
  account_suspended: { status: 403, message: "This account is suspended. Contact support if you think this is a mistake." },

  // New passwords
  password_too_common: {
    status: 400,
    message: "This password is one of the most common passwords and is easy to guess. Choose another one.",
  },
  password_breached: {
    status: 400,
    message: "This password has appeared in a known data breach, so attackers try it first. Choose a password you have not used elsewhere.",
  },
  password_check_unavailable: {
    status: 503,
    message: "We could not check this password against known breaches right now. Please try again shortly.",
  },
  invalid_current_password: { status: 401, message: "Your current password is incorrect." },
  password_change_conflict: {
    status: 409,
    message: "Your password was changed by another request at the same time. Log in again with the current password.",
  },

  // Tokens and sessions
  invalid_token: { status: 401, message: "Your session is invalid. Please log in again." },
  token_expired: { status: 401, message: "Your session has expired. Please log in again." },
  invalid_refresh_token: { status: 401, message: "Your session has ended. Please log in again." },
  session_not_found: { status: 404, message: "No active session with this id." },

  // Service clients (src/auth/services/): HTTP Basic with client_id:client_secret
  invalid_client: {
    status: 401,
    message: "Service client authentication failed: send Authorization: Basic base64(client_id:client_secret) of a live client.",
  },
  insufficient_scope: { status: 403, message: "This service client does not have the scope this call needs." },
  service_client_not_found: { status: 404, message: "No live service client with this id." },

  // One-time codes (every purpose: password reset, email verification, ...)
  invalid_otp: { status: 400, message: "The code is incorrect. Check the code in the email or request a new one." },
  otp_expired: { status: 400, message: "This code has expired. Request a new code." },
  otp_used: { status: 400, message: "This code has already been used. Request a new code." },
  otp_attempts_exceeded: {
    status: 400,
    message: "Too many wrong codes were entered, so this code no longer works. Request a new code.",
  },

  // Email verification and email change
  email_unverified: {
    status: 403,
    message: "Verify your email address to continue: enter the code we emailed you, or request a new one.",
  },
  email_revert_conflict: {
    status: 409,
    message: "Your previous email address now belongs to another account, so it cannot be restored. Contact support.",
  },

  // Two-factor sign-in (src/auth/mfa/)
  mfa_token_invalid: { status: 401, message: "This sign-in has expired or was already completed. Log in again." },
  invalid_mfa_code: {
    status: 401,
    message: "The code is incorrect. Enter the current code from your authenticator app, or a recovery code.",
  },
  mfa_code_used: { status: 401, message: "This code was already used. Wait for the next code from your authenticator app." },
  mfa_code_required: {
    status: 403,
    message: "This account uses two-factor sign-in: send mfa_code, a current authenticator or recovery code.",
  },
  recent_login_required: { status: 403, message: "For your security, log in again (or verify your second factor) before doing this." },
  mfa_enrollment_required: {
    status: 403,
    message: "Your account must turn on two-factor sign-in before it can do anything else: enroll an authenticator app.",
  },
  mfa_already_enabled: {
    status: 409,
    message: "Two-factor sign-in is already on for this account. Turn it off first to enroll a new app.",
  },
  mfa_not_enabled: { status: 409, message: "Two-factor sign-in is not on for this account." },
  mfa_enrollment_not_started: { status: 409, message: "There is no enrollment to confirm. Start with POST /auth/mfa/totp/enroll." },

  // Sign in with Google and Apple (src/auth/oauth/): each refused ID token has its own code
  id_token_malformed: { status: 401, message: "The ID token is not a well-formed token from this provider." },
  id_token_bad_signature: { status: 401, message: "The ID token's signature does not verify." },
  id_token_unknown_key: { status: 401, message: "The ID token is signed with a key the provider does not publish." },
  id_token_wrong_issuer: { status: 401, message: "The ID token was issued by another provider." },
  id_token_wrong_audience: { status: 401, message: "The ID token was issued to another app." },
  id_token_expired: { status: 401, message: "The ID token has expired. Sign in with the provider again." },
  id_token_not_yet_valid: { status: 401, message: "The ID token is not valid yet. Check the device's clock." },
  nonce_missing: {
    status: 401,
    message: "A nonce is missing: send the raw nonce whose SHA-256 the app gave the provider's SDK (docs/social-sign-in.md).",
  },
  nonce_mismatch: { status: 401, message: "The nonce does not match the ID token. Sign in with the provider again." },
  oauth_email_missing: {
    status: 400,
    message: "The provider did not share an email address. Allow access to your email and try again.",
  },
  oauth_state_invalid: { status: 400, message: "This sign-in has expired or was already used. Start again." },
  oauth_redirect_not_allowed: { status: 400, message: "redirect_to is not one of the allowed addresses (OAUTH_REDIRECT_ALLOWLIST)." },
  oauth_provider_error: { status: 400, message: "The provider did not complete the sign-in (it was cancelled or refused)." },
  oauth_code_rejected: { status: 400, message: "The provider refused the authorization code. Start again." },
  oauth_exchange_code_invalid: { status: 401, message: "This sign-in code has expired or was already used. Start again." },
  oauth_browser_mismatch: {
    status: 400,
    message: "This sign-in was started in another browser, or this browser did not keep its cookie. Start again in this browser.",
  },
  oauth_intent_mismatch: {
    status: 400,
    message:
      "This code was issued for another use: a sign-in code cannot link an identity, and a linking code works only at POST /auth/oauth/{provider}/link from the session that started it. Start again.",
  },
  id_token_email_invalid: {
    status: 401,
    message: "The ID token's email is not a valid email address. Sign in another way, or with an account that has one.",
  },
  id_token_replayed: { status: 401, message: "This ID token was already used. Sign in with the provider again." },
  provider_unavailable: { status: 503, message: "The sign-in provider cannot be reached right now. Please try again shortly." },
  account_exists_unverified_link: {
    status: 409,
    message:
      "An account with this email already exists. Log in with its password and link this sign-in method from there (POST /auth/oauth/{provider}/link).",
  },
  account_exists_reset_required: {
    status: 409,
    message:
      "An account with this email already exists, and its password was set before the address was verified. Reset the password by email (forgot password), then sign in again; or log in with the password and link this sign-in method from there.",
  },
  identity_already_linked: { status: 409, message: "This sign-in identity already belongs to another account." },
  identity_not_found: { status: 404, message: "No linked sign-in identity with this id." },
  last_sign_in_method: {
    status: 409,
    message: "This is the account's last way to sign in. Set a password (reset it by email) or link another identity first.",
  },

  // Passkeys (src/auth/passkeys/)
  passkey_challenge_invalid: {
    status: 401,
    message: "This passkey request has expired, was already used or belongs to another sign-in. Start again.",
  },
  passkey_invalid: {
    status: 401,
    message: "The passkey's answer could not be verified (wrong site, wrong signature or a malformed response). Try again.",
  },
  passkey_unknown: {
    status: 401,
    message: "This passkey is not registered with this account (it may have been removed). Sign in another way or use another passkey.",
  },
  passkey_counter_regressed: {
    status: 401,
    message:
      "This passkey's signature counter went backwards, a sign that it may have been copied. Sign in another way and check your passkeys.",
  },
  passkey_user_verification_required: {
    status: 401,
    message: "This sign-in needs a second kind of proof: use the passkey with its PIN, fingerprint or face (user verification).",
  },
  passkey_already_registered: { status: 409, message: "This passkey is already registered." },
  passkey_not_found: { status: 404, message: "No passkey with this id on this account." },
  phishing_resistant_required: {
    status: 403,
    message:
      "Your account must sign in with a passkey: this session may only add a passkey and sign out. Add a passkey, then sign in with it.",
  },

  // Account management: the admin API, deletion and restore (src/auth/admin/, src/auth/account/deletion.ts)
  admin_required: { status: 403, message: "This needs an administrator account." },
  admin_mfa_required: {
    status: 403,
    message: "Administrator actions need a session signed in with two-factor sign-in: log in again and verify your second factor.",
  },
  admin_self_change: {
    status: 403,
    message: "You cannot change your own role or status. Ask another administrator.",
  },
  user_not_found: { status: 404, message: "No account with this id." },
  account_being_deleted: {
    status: 409,
    message: "This account is being deleted or was deleted: it can no longer be changed.",
  },
  account_not_active: {
    status: 409,
    message: "Only an active account can be scheduled for deletion: reactivate it first.",
  },
  account_not_being_deleted: { status: 409, message: "This account is not scheduled for deletion." },
  account_deletion_pending: {
    status: 403,
    message: "This account is scheduled for deletion. To keep it, restore it with the code we emailed you.",
  },
  account_deleted: { status: 403, message: "This account was deleted." },
  deletion_code_required: {
    status: 403,
    message: "To delete an account without a password, enter the code we have emailed to your address (send it as code).",
  },
  setup_token_invalid: {
    status: 400,
    message: "This setup token is invalid, used or expired. Run npm run create-admin again for a new one.",
  },

  // Bot defence: Cloudflare Turnstile (src/auth/bot-defence/, docs/bot-defence.md); the 403 and 400 carry `site_key` and `action`
  captcha_required: {
    status: 403,
    message: "Please complete the security check, then send the request again with its token (turnstile_token).",
  },
  captcha_invalid: {
    status: 400,
    message: "The security check failed or has expired. Please complete it again.",
  },
  captcha_unavailable: {
    status: 503,
    message: "We cannot run the security check right now. Please try again shortly.",
  },

  // Profile and avatars
  email_mismatch: {
    status: 403,
    message: "The email does not match the logged-in account. You can only update your own profile.",
  },
  unsupported_image_type: { status: 415, message: "The avatar must be a complete PNG, JPEG or WebP image." },
  image_too_large_pixels: { status: 413, message: "The avatar's dimensions are too large." },
  image_processing_unavailable: {
    status: 503,
    message: "Avatar processing is unavailable right now. Please try again shortly.",
  },
  storage_error: { status: 502, message: "Avatar storage refused the request. Please try again later." },
  storage_unavailable: { status: 503, message: "Avatar storage is unreachable. Please try again shortly." },
} as const satisfies Record<string, { status: ErrorStatus; message: string }>;

export type ErrorStatus = 400 | 401 | 403 | 404 | 405 | 409 | 410 | 413 | 415 | 422 | 429 | 500 | 502 | 503;
export type ErrorCode = keyof typeof ERROR_CATALOG;

export interface Issue {
  path: string;
  message: string;
}

export interface ErrorOptions {
  /** Replaces the catalog's message (a more specific sentence for the same code). */
  message?: string;
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

/** The one error type of the API. Its status, code and message become the JSON error body. */
export class AppError extends Error {
  readonly status: ErrorStatus;
  readonly retryAfter: number | undefined;
  constructor(
    readonly code: ErrorCode,
    readonly options: ErrorOptions = {},
  ) {
    super(options.message ?? ERROR_CATALOG[code].message);
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
export const fieldError = (code: ErrorCode, path: string, message: string = ERROR_CATALOG[code].message) =>
  new AppError(code, { message, issues: [{ path, message }] });

/** What an error body may echo (the Error schema, src/routes/schemas.ts): paths and messages can quote client input. */
export const MAX_ISSUES = 50;
export const MAX_PATH = 200;
export const MAX_MESSAGE = 500;

/**
 * The one JSON error shape: {status:"error", message, code, issues?}, plus the members a client acts
 * on for some codes (`extra`: site_key and action of captcha_required, credential_id of passkey_unknown).
 * Issues and messages are bounded and stripped of control characters and lone surrogates here, once
 * for every error, whatever raised it.
 */
export function errorBody(
  code: ErrorCode,
  message: string = ERROR_CATALOG[code].message,
  issues?: Issue[],
  extra?: Record<string, string>,
) {
  const bounded = issues
    ?.slice(0, MAX_ISSUES)
    .map((i) => ({ path: boundedText(i.path, MAX_PATH), message: boundedText(i.message, MAX_MESSAGE) }));
  return { ...extra, status: "error" as const, message: boundedText(message, MAX_MESSAGE), code, ...(bounded ? { issues: bounded } : {}) };
}
