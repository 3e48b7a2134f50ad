import { type AppError, apiError, type ErrorCode } from "../../errors";

/**
 * Why a social sign-in was refused. The route layer maps each kind to an error code of the
 * catalog; the token-shaped kinds are the caller's fault (401), `provider_unavailable` is not.
 */
const OAUTH_ERROR_KINDS = [
  "malformed", // not a JWT, a claim of the wrong type, a required claim missing
  "bad_signature", // signature does not verify, or an algorithm outside the allow-list
  "unknown_key", // no published key has this kid, even after a (rate-limited) refetch
  "wrong_issuer",
  "wrong_audience", // aud (or azp) is none of the configured client ids
  "expired",
  "not_yet_valid", // iat or nbf beyond the clock skew in the future
  "nonce_missing", // a nonce was needed on one side and absent on the other
  "nonce_mismatch",
  "email_invalid", // an email claim that is not an address by registration's rule (after NFKC, trimmed, lower-cased)
  "replayed", // a native ID token (its nonce, jti or the token itself) that was already accepted once
  "state_mismatch", // web flow: the callback's state is not the one we issued
  "provider_error", // web flow: the provider answered with an error (user denied, ...)
  "code_rejected", // web flow: the token endpoint refused the code (reused, wrong verifier, ...)
  "provider_unavailable", // discovery, JWKS or token endpoint unreachable or answering nonsense
] as const;

export type OAuthErrorKind = (typeof OAUTH_ERROR_KINDS)[number];

export class OAuthError extends Error {
  override readonly name = "OAuthError";
  constructor(
    readonly kind: OAuthErrorKind,
    message: string = kind,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export const isOAuthError = (err: unknown, kind?: OAuthErrorKind): err is OAuthError =>
  err instanceof OAuthError && (kind === undefined || err.kind === kind);

/** Each kind's catalog code (src/errors.ts): distinct for every token problem, so clients and logs can tell them apart. */
export const KIND_CODES = {
  malformed: "id_token_malformed",
  bad_signature: "id_token_bad_signature",
  unknown_key: "id_token_unknown_key",
  wrong_issuer: "id_token_wrong_issuer",
  wrong_audience: "id_token_wrong_audience",
  expired: "id_token_expired",
  not_yet_valid: "id_token_not_yet_valid",
  nonce_missing: "nonce_missing",
  nonce_mismatch: "nonce_mismatch",
  email_invalid: "id_token_email_invalid",
  replayed: "id_token_replayed",
  state_mismatch: "oauth_state_invalid",
  provider_error: "oauth_provider_error",
  code_rejected: "oauth_code_rejected",
  provider_unavailable: "provider_unavailable",
} as const satisfies Record<OAuthErrorKind, ErrorCode>;

/** Retry-After of provider_unavailable: about when a failed discovery or JWKS fetch is retried (cache.ts). */
const PROVIDER_RETRY_AFTER_S = 30;

/** The API error of a refusal. */
export const oauthApiError = (err: OAuthError): AppError =>
  apiError(KIND_CODES[err.kind], err.kind === "provider_unavailable" ? { retryAfter: PROVIDER_RETRY_AFTER_S } : undefined);
