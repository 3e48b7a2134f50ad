import { z } from "zod";
import { hex, randomBytes } from "./lib/encoding";
import { parseCidrs } from "./lib/ip";
import { isSecureOrLoopback } from "./lib/url";

/**
 * Every setting of the Worker, declared once: its parser, default, bounds and a one-line
 * description (`.describe`). The Config type is inferred from this schema; cross-field rules
 * are in `superRefine` below. docs/settings.md documents every key (a test checks both ways).
 *
 * Settings come from wrangler.toml [vars], secrets (`wrangler secret put`) and, for
 * `npm run dev`, .dev.vars.
 */
export interface Env {
  HYPERDRIVE: Hyperdrive;
  /** Cloudflare Images (wrangler.toml `[images]`); without it avatar uploads answer 503. */
  IMAGES?: ImagesBinding;
  /** The webhook deliveries' Cloudflare Queue (wrangler.toml `[[queues.producers]]`); without it no webhook is delivered. */
  WEBHOOK_QUEUE?: Queue;
  [key: string]: unknown;
}

const DURATION = /^(\d+)\s*(ms|s|m|h|d)?$/;
const UNIT_SECONDS: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400 };

/** "900", "900s", "15m", "30d" -> seconds. */
function parseDuration(value: string): number {
  const m = DURATION.exec(value.trim());
  if (!m) throw new Error(`not a duration: ${value}`);
  return Math.floor(Number(m[1]) * UNIT_SECONDS[m[2] ?? "s"]);
}

/** An unset or blank value means "use the default". */
const blank = (v: unknown) => (typeof v === "string" && v.trim() === "" ? undefined : v);

/** A duration in seconds ("900", "15m", "7d"), between `min` and `max` seconds. */
const duration = (fallback: string, min = 0, max = 10 * 365 * 86400) =>
  z.preprocess(
    blank,
    z
      .string()
      .default(fallback)
      .transform((v, ctx) => {
        try {
          return parseDuration(v);
        } catch {
          ctx.addIssue({ code: "custom", message: `expected a duration such as 900, 15m, 7d; got "${v}"` });
          return z.NEVER;
        }
      })
      .pipe(z.number().int().min(min, `must be at least ${min} s`).max(max, `must be at most ${max} s`)),
  );
const int = (fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER) =>
  z.preprocess(blank, z.coerce.number().int().min(min).max(max).default(fallback));
const bool = (fallback: boolean) =>
  z.preprocess(
    blank,
    z
      .union([z.boolean(), z.string()])
      .default(fallback)
      .transform((v) => (typeof v === "boolean" ? v : ["1", "true", "yes", "on"].includes(v.toLowerCase()))),
  );
const optionalString = z.preprocess(blank, z.string().trim().optional());
const text = (fallback: string) => z.preprocess(blank, z.string().trim().min(1).default(fallback));
const list = z.preprocess(
  blank,
  z
    .string()
    .default("")
    .transform((v) =>
      v
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean),
    ),
);
const cidrs = z.preprocess(
  blank,
  z
    .string()
    .default("")
    .transform((v, ctx) => {
      try {
        return parseCidrs(v);
      } catch (err) {
        ctx.addIssue({ code: "custom", message: (err as Error).message });
        return z.NEVER;
      }
    }),
);
/** A comma-separated list with a default; `none` is the empty list (a blank value means the default). */
const listOr = (fallback: string) =>
  z.preprocess(
    blank,
    z
      .string()
      .default(fallback)
      .transform((v) =>
        v.trim().toLowerCase() === "none"
          ? []
          : v
              .split(",")
              .map((s) => s.trim())
              .filter(Boolean),
      ),
  );
/** An OpenID discovery URL: https, or plain http to this machine only (the local stand-in provider). */
const discoveryUrl = (fallback: string) =>
  z.preprocess(
    blank,
    z.string().trim().url().default(fallback).refine(isSecureOrLoopback, "must be an https URL (plain http only to localhost)"),
  );

/**
 * Which requests get the per-request log line (src/middleware/request.ts): `errors` (a 4xx or 5xx
 * answer, or a request that logged a warning or an error), `all`, `none`, or `sampled:N` (the errors
 * and one in N of the rest). Parsed into what the middleware checks per request.
 */
export interface RequestLogPolicy {
  /** Lines for errors and requests that logged a warning. */
  errors: boolean;
  /** One in this many other requests gets a line: 1 every one, 0 none. */
  oneIn: number;
}
const REQUEST_LOG_MODES: Record<string, RequestLogPolicy> = {
  all: { errors: true, oneIn: 1 },
  errors: { errors: true, oneIn: 0 },
  none: { errors: false, oneIn: 0 },
};
const requestLog = (fallback: string) =>
  z.preprocess(
    blank,
    z
      .string()
      .default(fallback)
      .transform((v, ctx): RequestLogPolicy => {
        const mode = v.trim().toLowerCase();
        const fixed = REQUEST_LOG_MODES[mode];
        if (fixed) return fixed;
        const sampled = /^sampled:(\d{1,7})$/.exec(mode);
        const n = sampled ? Number(sampled[1]) : 0;
        if (n >= 2) return { errors: true, oneIn: n };
        ctx.addIssue({ code: "custom", message: `expected all, errors, none or sampled:N (N from 2 to 9999999); got "${v}"` });
        return z.NEVER;
      }),
  );

/** Schemes redirect_to may never use: they run code or read local files instead of opening a page. */
const UNSAFE_SCHEMES = new Set(["javascript:", "data:", "vbscript:", "file:", "blob:"]);

/**
 * Whether Intl knows a time zone. Tried by formatting with it: the runtime's list of zones names
 * canonical ids only (Asia/Calcutta, not Asia/Kolkata), so it cannot be searched.
 */
function isTimeZone(timeZone: string): boolean {
  try {
    new Intl.DateTimeFormat("en", { timeZone });
    return true;
  } catch {
    return false;
  }
}

/** An Android app's origin in a passkey ceremony: the base64url SHA-256 of its signing certificate. */
const ANDROID_ORIGIN = /^android:apk-key-hash:[A-Za-z0-9_-]{43}$/;
const LOOPBACK = new Set(["localhost", "127.0.0.1"]);

/**
 * What is wrong with WEBAUTHN_RP_ID and WEBAUTHN_ORIGINS together: the RP id is a host name; each
 * origin is written exactly as a browser sends it (scheme, host, port; no path, no trailing slash),
 * https on the RP id or a subdomain of it, plain http only on localhost or 127.0.0.1, or an
 * Android app's `android:apk-key-hash:` origin. A bad origin is a configuration error here, not a
 * failure of every passkey ceremony later.
 */
function webauthnProblems(rpId: string, origins: string[]): string[] {
  const problems: string[] = [];
  if (!/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/.test(rpId))
    problems.push(`WEBAUTHN_RP_ID "${rpId}" must be a lower-case host name (example.com), without scheme or port`);
  if (origins.length === 0) problems.push("must list at least one origin when WEBAUTHN_RP_ID is set");
  for (const o of origins) {
    if (ANDROID_ORIGIN.test(o)) continue;
    const u = URL.canParse(o) ? new URL(o) : null;
    if (!u || u.origin !== o) {
      problems.push(`${o} is not an origin as a browser sends it (scheme://host[:port], no path, no trailing slash)`);
    } else if (u.protocol === "http:" && !LOOPBACK.has(u.hostname)) {
      problems.push(`${o}: plain http only on localhost or 127.0.0.1`);
    } else if (u.protocol !== "http:" && u.protocol !== "https:") {
      problems.push(`${o}: https, http on localhost, or android:apk-key-hash:<hash>`);
    } else if (u.hostname !== "127.0.0.1" && u.hostname !== rpId && !u.hostname.endsWith(`.${rpId}`)) {
      problems.push(`${o} is not on WEBAUTHN_RP_ID ${rpId} (the host must be it or a subdomain of it)`);
    }
  }
  return problems;
}

const choice = <const T extends readonly [string, ...string[]]>(values: T, fallback: T[number]) =>
  z.preprocess(blank, z.enum(values).default(fallback));

export const settingsSchema = z
  .object({
    ENVIRONMENT: choice(["production", "development", "test"], "production").describe(
      "`production` refuses to start without AUTH_SECRET and signing keys; `development`/`test` generate throwaway ones.",
    ),
    BASE_PATH: z
      .preprocess(blank, z.string().default("/auth"))
      .transform((v) => `/${v.replace(/^\/+|\/+$/g, "")}`)
      .describe("Path prefix of the API routes (health, JWKS and docs stay at the root)."),

    // Secrets
    AUTH_SECRET: optionalString.describe(
      "Secret (32+ characters) keying code hashes, throttle keys and refresh-token successors. Required in production.",
    ),
    JWT_PRIVATE_KEYS: optionalString.describe(
      'Secret: private JWK set `{"keys":[...]}` (EdDSA or ES256, each with kid); the first signs, all verify.',
    ),
    JWT_SECRET: optionalString.describe("Secret (32+ characters) for legacy HS256 tokens (LEGACY_HS256=true)."),
    LEGACY_HS256: bool(false).describe("Sign access tokens with HS256 and JWT_SECRET, for services that verify with a shared secret."),

    // Tokens and sessions
    JWT_ALG: choice(["EdDSA", "ES256"], "EdDSA").describe("Algorithm of the keys generated for development and tests."),
    JWT_ISSUER: text("edge-auth-api").describe("`iss` of access tokens."),
    JWT_AUDIENCE: text("platform").describe("`aud` of access tokens."),
    JWT_CLOCK_SKEW: duration("30s", 0, 300).describe("Clock skew tolerated when checking `exp` and `nbf`."),
    ACCESS_TOKEN_TTL: duration("15m", 60, 90 * 86400).describe("Lifetime of access tokens (30d for clients that never refresh)."),
    REFRESH_TOKEN_TTL: duration("30d", 3600, 400 * 86400).describe("Absolute lifetime of a session (refresh-token family)."),
    REFRESH_IDLE_TTL: duration("7d", 60, 400 * 86400).describe("A session unused for this long ends."),
    REFRESH_REUSE_GRACE: duration("10s", 0, 120).describe(
      "A just-rotated refresh token presented again within this window gets the same successor instead of counting as reuse.",
    ),

    // Passwords
    SCRYPT_LOG_N: int(14, 10, 20).describe("scrypt cost: N = 2^SCRYPT_LOG_N."),
    SCRYPT_R: int(8, 1, 32).describe("scrypt block size r."),
    SCRYPT_P: int(5, 1, 16).describe("scrypt parallelism p."),
    PBKDF2_WEBCRYPTO_MAX_ITERATIONS: z
      .preprocess(blank, z.coerce.number().int().min(1).optional())
      .describe("Legacy Django hashes above this many iterations use pure-JS PBKDF2 (deployed Workers cap Web Crypto at 100,000)."),
    BREACHED_PASSWORD_CHECK: choice(["off", "fail-open", "fail-closed"], "fail-open").describe(
      "Check new passwords against Pwned Passwords (k-anonymity); fail-closed refuses when the service is unreachable.",
    ),
    PWNED_PASSWORDS_URL: z
      .preprocess(blank, z.string().url().default("https://api.pwnedpasswords.com"))
      .describe("Base URL of the Pwned Passwords range API."),
    PWNED_PASSWORDS_TIMEOUT_MS: int(1500, 50, 10000).describe("Timeout of one Pwned Passwords request."),
    HASH_QUEUE_MAX_WAIT: duration("5s", 0, 60).describe(
      "A request whose password hash would wait longer than this behind the isolate's queued hashes answers 503 server_busy at once, changing nothing.",
    ),

    // Requests
    JSON_BODY_LIMIT: int(16 * 1024, 256, 1024 * 1024).describe("Largest JSON request body in bytes."),
    CORS_ORIGINS: list.describe("Comma-separated browser origins allowed by CORS (none by default)."),
    LEGACY_ROOT_PATHS: bool(true).describe(
      "Also serve register, login, forgot-password, reset-password and update-profile at the root (/login, ...), as the old service did; deprecated aliases.",
    ),
    TRUSTED_PROXY_SECRET: optionalString.describe(
      "Secret (32+ characters) a gateway sends as X-Proxy-Secret; with TRUSTED_PROXY_IPS its X-Client-IP becomes the client address.",
    ),
    TRUSTED_PROXY_IPS: cidrs.describe(
      "Comma-separated IPv4/IPv6 addresses or CIDR ranges the gateway connects from; X-Client-IP is believed only from these, with the secret.",
    ),

    REQUEST_LOG: requestLog("errors").describe(
      "Which requests get the JSON request line: `errors` (4xx, 5xx, or a warning logged), `all`, `none`, or `sampled:N` (errors plus one in N others). Workers Logs keeps an invocation log of every request either way.",
    ),

    // Abuse resistance
    LOGIN_THROTTLE_FREE_FAILURES: int(4, 1, 100).describe("Consecutive failed logins per account before delays start."),
    LOGIN_THROTTLE_BASE_DELAY: duration("1s", 1, 3600).describe("First delay after the free failures; doubles per failure."),
    LOGIN_THROTTLE_MAX_DELAY: duration("15m", 1, 86400).describe("Cap of the login delay."),
    LOGIN_LOCKOUT_FAILURES: int(100, 10, 10000).describe("Consecutive failures after which only a password reset unlocks the account."),
    REGISTER_ENUMERATION_SAFE: bool(false).describe(
      "Register answers 202 alike for new and taken emails (the owner is mailed); off keeps the 409 existing clients expect.",
    ),

    // One-time codes (password reset and every other emailed code)
    OTP_TTL: duration("10m", 60, 600).describe("Lifetime of a password-reset code (1 to 10 minutes)."),
    OTP_RESEND_INTERVAL: duration("60s", 10, 3600).describe(
      "Wait between two codes for one account; doubles with each further code, up to OTP_RESEND_MAX_INTERVAL.",
    ),
    OTP_RESEND_MAX_INTERVAL: duration("1h", 10, 86400).describe("Cap of the growing wait between codes."),
    OTP_DAILY_LIMIT: int(10, 1, 100).describe("Codes mailed per account and purpose in 24 hours."),
    OTP_MAX_ATTEMPTS: int(5, 1, 10).describe("Wrong guesses that end one code."),
    OTP_FREE_FAILURES: int(5, 1, 50).describe("Wrong guesses per account (all codes, rolling 24 h) before each guess is delayed."),
    OTP_BASE_DELAY: duration("1s", 1, 3600).describe("First delay between guesses after the free failures; doubles per failure."),
    OTP_MAX_DELAY: duration("15m", 1, 86400).describe("Cap of the delay between guesses."),

    // Bot defence: Cloudflare Turnstile (src/auth/bot-defence/, docs/bot-defence.md)
    TURNSTILE_SECRET_KEY: optionalString.describe(
      "Secret: the Turnstile widget's secret key; set, register, forgot-password and sign-in codes need a token, and login and code verification under risk (unset: no challenge anywhere).",
    ),
    TURNSTILE_SITE_KEY: optionalString.describe(
      "The widget's public site key, sent with captcha_required so clients can render the widget; required with TURNSTILE_SECRET_KEY.",
    ),
    TURNSTILE_VERIFY_URL: z
      .preprocess(blank, z.string().trim().url().default("https://challenges.cloudflare.com/turnstile/v0/siteverify"))
      .refine(isSecureOrLoopback, "must be an https URL (plain http only to localhost)")
      .describe("Cloudflare's siteverify endpoint (npm run dev and the tests: the local stand-in)."),
    TURNSTILE_HOSTNAMES: list.describe(
      "Comma-separated hostnames a token may have been solved on (the web app's, the WebView page's); none: only Cloudflare's own check of the widget's domains.",
    ),
    TURNSTILE_TIMEOUT: duration("3s", 1, 30).describe(
      "siteverify gives up after this long; then 503 (or, with TURNSTILE_FAIL_OPEN, let through).",
    ),
    TURNSTILE_FAIL_OPEN: bool(false).describe(
      "When siteverify cannot be reached, let challenged requests through (audited) instead of answering 503 captcha_unavailable.",
    ),
    TURNSTILE_LOGIN_AFTER_FAILURES: int(3, 1, 100).describe(
      "Failed logins (or wrong codes) for an account or from a client address within TURNSTILE_RISK_WINDOW after which a token is required.",
    ),
    TURNSTILE_RISK_WINDOW: duration("1h", 60, 86400).describe(
      "Failures count toward TURNSTILE_LOGIN_AFTER_FAILURES for this long; a success resets the account's count.",
    ),

    // Sign-in by emailed code (src/auth/sign-in/email-code.ts)
    SIGN_IN_CODE: bool(true).describe(
      "Sign in with a 6-digit code mailed to the account's address (POST /auth/sign-in/code); false: its routes answer 404.",
    ),
    SIGN_IN_CODE_TTL: duration("10m", 60, 900).describe("Lifetime of a sign-in code (1 to 15 minutes)."),

    // Email verification and email change
    EMAIL_CODE_TTL: duration("15m", 60, 3600).describe(
      "Lifetime of an email verification, email change or account deletion code (1 to 60 minutes).",
    ),
    REQUIRE_VERIFIED_EMAIL: choice(["off", "instructors", "all"], "off").describe(
      "Accounts that must verify their email before they may sign in or call protected routes: none, every non-student (instructors and admins), or all.",
    ),

    // Two-factor sign-in (src/auth/mfa/)
    RECENT_AUTH_MAX_AGE: duration("10m", 60, 86400).describe(
      "Routes that change the ways in (MFA, recovery codes, linked identities) or delete the account need a login or MFA verify at most this old, else 403 recent_login_required.",
    ),
    REQUIRE_MFA_ROLES: listOr("admin").describe(
      "Comma-separated roles that must use MFA: without an active factor their tokens only reach the enrollment routes and /me (`none`: no role).",
    ),
    MFA_TOKEN_TTL: duration("5m", 60, 900).describe("Lifetime of the single-use mfa_token between a right password and the second factor."),
    MFA_FREE_FAILURES: int(5, 1, 100).describe(
      "Wrong second-factor codes per account before each further one waits a doubling delay (LOGIN_THROTTLE_BASE_DELAY to LOGIN_THROTTLE_MAX_DELAY).",
    ),

    // Passkeys (src/auth/passkeys/, docs/passkeys.md)
    WEBAUTHN_RP_ID: optionalString.describe(
      "The relying party id passkeys are bound to: the platform's domain (example.com), or localhost in development; unset: passkeys are off (their routes answer 404).",
    ),
    WEBAUTHN_RP_NAME: optionalString.describe("The name an authenticator shows next to a passkey (default: APP_NAME)."),
    WEBAUTHN_ORIGINS: list.describe(
      "Comma-separated origins a passkey ceremony may come from: https://host[:port] under WEBAUTHN_RP_ID, http://localhost[:port] or http://127.0.0.1[:port] in development, android:apk-key-hash:<hash> for the Android app.",
    ),
    REQUIRE_PHISHING_RESISTANT_ROLES: listOr("none").describe(
      "Comma-separated roles that must sign in with a passkey (with user verification): other sessions of theirs only reach passkey enrollment, /me and logout (`none`: no role).",
    ),

    // Sign in with Google and Apple (src/auth/oauth/, docs/social-sign-in.md)
    GOOGLE_CLIENT_IDS: list.describe(
      "Comma-separated Google OAuth client ids whose ID tokens are accepted (web, iOS, Android); none: Google sign-in is off (its routes answer 404).",
    ),
    GOOGLE_DISCOVERY_URL: discoveryUrl("https://accounts.google.com/.well-known/openid-configuration").describe(
      "Google's OpenID discovery document: issuer, keys and endpoints come from it.",
    ),
    GOOGLE_WEB_CLIENT_ID: optionalString.describe(
      "The web client of the redirect flow, one of GOOGLE_CLIENT_IDS (default: the first of them).",
    ),
    GOOGLE_CLIENT_SECRET: optionalString.describe("Secret: the web client's secret; without it Google's redirect flow is off (404)."),
    APPLE_CLIENT_IDS: list.describe(
      "Comma-separated Apple client ids whose ID tokens are accepted: the apps' bundle ids and the Services ID; none: Apple sign-in is off (404).",
    ),
    APPLE_DISCOVERY_URL: discoveryUrl("https://appleid.apple.com/.well-known/openid-configuration").describe(
      "Apple's OpenID discovery document: issuer, keys and endpoints come from it.",
    ),
    APPLE_SERVICES_ID: optionalString.describe(
      "The Services ID of Apple's redirect flow (one of APPLE_CLIENT_IDS); with APPLE_TEAM_ID, APPLE_KEY_ID and APPLE_PRIVATE_KEY it turns the flow on.",
    ),
    APPLE_TEAM_ID: optionalString.describe("The Apple Developer team id: `iss` of the client-secret JWT."),
    APPLE_KEY_ID: optionalString.describe("The id of the Sign in with Apple key: `kid` of the client-secret JWT."),
    APPLE_PRIVATE_KEY: optionalString.describe(
      "Secret: the Sign in with Apple key (the .p8 file, PKCS#8 PEM; `\\n` escapes accepted) that signs the client secret.",
    ),
    OAUTH_REDIRECT_ALLOWLIST: list.describe(
      "Comma-separated URLs the redirect flow may send the browser back to (`redirect_to`, compared exactly); none: the redirect flow is off.",
    ),
    OAUTH_CALLBACK_BASE_URL: optionalString.describe(
      "Public origin of this API as registered with the providers (https://api.example.com); the callback is it + BASE_PATH + /oauth/{provider}/callback. Default: the request's origin.",
    ),
    OAUTH_REQUIRE_NONCE: bool(true).describe(
      "Native ID tokens must carry the nonce the app sent (every platform SDK can set one); false: only where the platform always has one (Apple, Google iOS). Either way a token is accepted once.",
    ),

    // Account management (src/auth/admin/, src/auth/account/deletion.ts)
    INSTRUCTOR_APPROVAL: choice(["open", "required"], "open").describe(
      "`open`: registering as instructor makes an instructor; `required`: a student with requested_role instructor until an admin sets the role.",
    ),
    ACCOUNT_DELETION_GRACE: duration("14d", 3600, 90 * 86400).describe(
      "After DELETE /auth/account, the account can be restored with the mailed code for this long; then the purge anonymises it.",
    ),
    ACCOUNT_EXPORT_DAILY_LIMIT: int(3, 1, 50).describe("Data exports (GET /auth/account/export) per account in 24 hours."),
    AUDIT_RETENTION: duration("400d", 86400, 10 * 365 * 86400).describe(
      "Audit rows older than this are deleted by the scheduled purge, in bounded batches.",
    ),

    // Identity events for other services (src/auth/events/, docs/services.md)
    EVENT_RETENTION_DAYS: int(30, 1, 3650).describe(
      "Events (the feed, webhooks) older than this many days are deleted by the scheduled purge; a service must read them within it.",
    ),

    // Signed webhooks over a Cloudflare Queue (src/auth/webhooks/, docs/webhooks.md)
    WEBHOOK_TIMEOUT: duration("10s", 1, 60).describe("One delivery attempt gives up after this long (a failed attempt, retried)."),
    WEBHOOK_RETRY_INITIAL_DELAY: duration("10s", 1, 3600).describe(
      "Wait before retrying a failed delivery; doubles with each further failure, capped at 1 h.",
    ),
    WEBHOOK_RETRY_MAX_AGE: duration("24h", 10, 3 * 86400).describe(
      "A delivery is retried for this long from its first attempt, then given up (`failed`, the dead letter; an admin can retry it).",
    ),
    WEBHOOK_SECRET_GRACE: duration("24h", 0, 7 * 86400).describe(
      "After a secret rotation the old secret signs deliveries too, for this long (both `v1,` signatures in webhook-signature).",
    ),
    WEBHOOK_DISABLE_AFTER: int(5, 1, 10000).describe(
      "Deliveries given up in a row (no success between them) after which an endpoint is disabled and the admins are mailed.",
    ),

    // Mail
    RESEND_API_KEY: optionalString.describe("Secret: Resend API key."),
    RESEND_BASE_URL: optionalString.describe("Resend API base URL (the local mail capture in dev and tests)."),
    MAIL_FROM: text("Edge Auth <no-reply@example.com>").describe("Sender of every mail."),
    MAIL_TIMEOUT_MS: int(5000, 100, 30000).describe("Timeout of one mail send attempt."),
    MAIL_RETRIES: int(2, 0, 5).describe("Retries of a mail send after 429, 5xx or a network error."),
    APP_NAME: text("Edge Auth").describe("Product name used in mails."),
    MAIL_TIME_ZONE: text("Asia/Kolkata")
      .refine(isTimeZone, "must be an IANA time zone such as Asia/Kolkata or Europe/London")
      .describe("Time zone of the dates and times mails state (an IANA name); the runtime's own is UTC."),

    // Storage
    S3_ENDPOINT: optionalString.describe("S3-compatible endpoint (R2, MinIO); unset for AWS S3."),
    S3_REGION: optionalString.describe("S3 region (default: AWS_S3_REGION_NAME, else us-east-1)."),
    S3_BUCKET: optionalString.describe("Avatar bucket (default: AWS_STORAGE_BUCKET_NAME)."),
    S3_ACCESS_KEY_ID: optionalString.describe("Secret: S3 access key id (default: AWS_ACCESS_KEY_ID)."),
    S3_SECRET_ACCESS_KEY: optionalString.describe("Secret: S3 secret access key (default: AWS_SECRET_ACCESS_KEY)."),
    S3_FORCE_PATH_STYLE: bool(false).describe("Path-style bucket URLs (MinIO, s3rver)."),
    AWS_ACCESS_KEY_ID: optionalString.describe("The Django service's name for S3_ACCESS_KEY_ID (accepted as a fallback)."),
    AWS_SECRET_ACCESS_KEY: optionalString.describe("The Django service's name for S3_SECRET_ACCESS_KEY (accepted as a fallback)."),
    AWS_STORAGE_BUCKET_NAME: optionalString.describe("The Django service's name for S3_BUCKET (accepted as a fallback)."),
    AWS_S3_REGION_NAME: optionalString.describe("The Django service's name for S3_REGION (accepted as a fallback)."),
    AVATAR_MAX_BYTES: int(5 * 1024 * 1024, 1024, 50 * 1024 * 1024).describe("Largest avatar upload in bytes."),
    AVATAR_PUBLIC_BASE_URL: optionalString.describe("Public base URL of avatar objects (a CDN); default: the bucket's URL."),
    S3_TIMEOUT: duration("8s", 1, 60).describe("Every S3 call (put, delete, list) gives up after this long; an upload then answers 503."),

    // Avatar images (decoded and re-encoded by the Cloudflare Images binding IMAGES)
    IMAGES_TIMEOUT: duration("10s", 1, 60).describe("One Cloudflare Images transformation gives up after this long (503)."),
    AVATAR_MAX_PIXELS: int(40_000_000, 1, 100_000_000).describe("Uploads above this many pixels are refused from their header (413)."),
    AVATAR_MAX_SIDE: int(8000, 16, 16383).describe("Uploads wider or taller than this are refused from their header (413)."),
    AVATAR_SIZES: z
      .preprocess(blank, z.string().default("512,128"))
      .transform((v) => [
        ...new Set(
          v
            .split(",")
            .map((s) => s.trim())
            .filter(Boolean)
            .map(Number),
        ),
      ])
      .pipe(z.array(z.number().int().min(16).max(2048)).min(1).max(4))
      .describe("Stored sizes in px (1 to 4, each 16-2048); the first is the main one, `user.avatar`."),
    AVATAR_FIT: choice(["cover", "contain"], "cover").describe(
      "`cover`: a centre-cropped square of size x size; `contain`: the long side is size, aspect kept.",
    ),
    AVATAR_FORMAT: choice(["webp", "jpeg"], "webp").describe("Format of the stored avatars."),
    AVATAR_QUALITY: int(82, 1, 100).describe("Encoding quality of the stored avatars."),
    AVATAR_ORPHAN_MIN_AGE: duration("1h", 300, 30 * 86400).describe(
      "The purge deletes avatar objects this service wrote that no row references once older than this.",
    ),
  })
  .superRefine((s, ctx) => {
    const problem = (path: string, message: string) => ctx.addIssue({ code: "custom", path: [path], message });
    if (s.ENVIRONMENT === "production") {
      if (!s.AUTH_SECRET || s.AUTH_SECRET.length < 32) problem("AUTH_SECRET", "must be set (32+ characters) in production");
      if (!s.JWT_PRIVATE_KEYS && !(s.LEGACY_HS256 && s.JWT_SECRET))
        problem("JWT_PRIVATE_KEYS", "must be set in production (or LEGACY_HS256=true with JWT_SECRET)");
    }
    if (s.TRUSTED_PROXY_SECRET && s.TRUSTED_PROXY_SECRET.length < 32) problem("TRUSTED_PROXY_SECRET", "must have 32+ characters");
    if (s.TRUSTED_PROXY_SECRET && s.TRUSTED_PROXY_IPS.length === 0)
      problem("TRUSTED_PROXY_IPS", "must list the gateway's addresses when TRUSTED_PROXY_SECRET is set");
    if (s.TRUSTED_PROXY_IPS.length > 0 && !s.TRUSTED_PROXY_SECRET)
      problem("TRUSTED_PROXY_SECRET", "must be set (32+ characters) when TRUSTED_PROXY_IPS is set");
    if (s.LEGACY_HS256 && (!s.JWT_SECRET || s.JWT_SECRET.length < 32)) problem("JWT_SECRET", "LEGACY_HS256=true needs 32+ characters");
    // scrypt needs 128 * N * r bytes; a Worker has 128 MB in all.
    if (128 * 2 ** s.SCRYPT_LOG_N * s.SCRYPT_R > 64 * 1024 * 1024)
      problem("SCRYPT_LOG_N", "with SCRYPT_R needs more than 64 MiB (128 * N * r): too much for a Worker");
    if (s.LOGIN_THROTTLE_MAX_DELAY < s.LOGIN_THROTTLE_BASE_DELAY)
      problem("LOGIN_THROTTLE_MAX_DELAY", "must be at least LOGIN_THROTTLE_BASE_DELAY");
    if (s.OTP_MAX_DELAY < s.OTP_BASE_DELAY) problem("OTP_MAX_DELAY", "must be at least OTP_BASE_DELAY");
    if (s.OTP_RESEND_MAX_INTERVAL < s.OTP_RESEND_INTERVAL) problem("OTP_RESEND_MAX_INTERVAL", "must be at least OTP_RESEND_INTERVAL");
    // A new code may be requested before the last one expires, never only long after it.
    if (s.OTP_RESEND_INTERVAL > s.OTP_TTL) problem("OTP_RESEND_INTERVAL", "must not be longer than OTP_TTL");
    if (s.OTP_RESEND_INTERVAL > s.EMAIL_CODE_TTL) problem("OTP_RESEND_INTERVAL", "must not be longer than EMAIL_CODE_TTL");
    if (s.OTP_RESEND_INTERVAL > s.SIGN_IN_CODE_TTL) problem("OTP_RESEND_INTERVAL", "must not be longer than SIGN_IN_CODE_TTL");
    if (s.TURNSTILE_SECRET_KEY && !s.TURNSTILE_SITE_KEY) problem("TURNSTILE_SITE_KEY", "must be set with TURNSTILE_SECRET_KEY");
    // A delivery reads its event until it is given up: events must outlive the retries.
    if (s.WEBHOOK_RETRY_MAX_AGE >= s.EVENT_RETENTION_DAYS * 86400)
      problem("WEBHOOK_RETRY_MAX_AGE", "must be shorter than EVENT_RETENTION_DAYS");
    if (s.GOOGLE_WEB_CLIENT_ID && !s.GOOGLE_CLIENT_IDS.includes(s.GOOGLE_WEB_CLIENT_ID))
      problem("GOOGLE_WEB_CLIENT_ID", "must be one of GOOGLE_CLIENT_IDS");
    if (s.APPLE_SERVICES_ID && !s.APPLE_CLIENT_IDS.includes(s.APPLE_SERVICES_ID))
      problem("APPLE_SERVICES_ID", "must be one of APPLE_CLIENT_IDS");
    const appleWeb = {
      APPLE_SERVICES_ID: s.APPLE_SERVICES_ID,
      APPLE_TEAM_ID: s.APPLE_TEAM_ID,
      APPLE_KEY_ID: s.APPLE_KEY_ID,
      APPLE_PRIVATE_KEY: s.APPLE_PRIVATE_KEY,
    };
    if (Object.values(appleWeb).some(Boolean))
      for (const [k, v] of Object.entries(appleWeb))
        if (!v) problem(k, "Apple's redirect flow needs APPLE_SERVICES_ID, APPLE_TEAM_ID, APPLE_KEY_ID and APPLE_PRIVATE_KEY together");
    for (const u of s.OAUTH_REDIRECT_ALLOWLIST) {
      // An app's own scheme (com.example.app:/oauth) is allowed; plain http only to this machine.
      const parsed = URL.canParse(u) ? new URL(u) : null;
      if (!parsed || UNSAFE_SCHEMES.has(parsed.protocol) || (parsed.protocol === "http:" && !isSecureOrLoopback(u)))
        problem(
          "OAUTH_REDIRECT_ALLOWLIST",
          `${u} is not an allowed address: an absolute https URL, an app's own scheme, or http to localhost`,
        );
    }
    if (s.OAUTH_CALLBACK_BASE_URL && !(URL.canParse(s.OAUTH_CALLBACK_BASE_URL) && isSecureOrLoopback(s.OAUTH_CALLBACK_BASE_URL)))
      problem("OAUTH_CALLBACK_BASE_URL", "must be an https URL (plain http only to localhost)");
    if (s.WEBAUTHN_RP_ID) {
      for (const problemText of webauthnProblems(s.WEBAUTHN_RP_ID, s.WEBAUTHN_ORIGINS)) problem("WEBAUTHN_ORIGINS", problemText);
    } else if (s.WEBAUTHN_ORIGINS.length > 0) problem("WEBAUTHN_RP_ID", "must be set when WEBAUTHN_ORIGINS is");
  });

export type Config = z.output<typeof settingsSchema>;

export class ConfigError extends Error {}

const cache = new WeakMap<object, Config>();

/** The env's settings, parsed once per env object (one per isolate in production). */
export function getConfig(env: Env): Config {
  const hit = cache.get(env);
  if (hit) return hit;
  const parsed = settingsSchema.safeParse(env);
  if (!parsed.success) {
    const detail = parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ");
    throw new ConfigError(`invalid configuration: ${detail}`);
  }
  cache.set(env, parsed.data);
  return parsed.data;
}

/** A per-isolate secret for development and tests when AUTH_SECRET is unset (never in production). */
let devSecret: string | undefined;
export function authSecret(config: Config): string {
  if (config.AUTH_SECRET) return config.AUTH_SECRET;
  devSecret ??= hex(randomBytes(32));
  return devSecret;
}
