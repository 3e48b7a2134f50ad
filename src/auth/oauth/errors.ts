/**
 * Why a social sign-in was refused. The route layer maps each kind to an error code of the
 * catalog; the token-shaped kinds are the caller's fault (401), `provider_unavailable` is not.
 */
export const OAUTH_ERROR_KINDS = [
  "malformed", // not a JWT, a claim of the wrong type, a required claim missing
  "bad_signature", // signature does not verify, or an algorithm outside the allow-list
  "unknown_key", // no published key has this kid, even after a (rate-limited) refetch
  "wrong_issuer",
  "wrong_audience", // aud (or azp) is none of the configured client ids
  "expired",
  "not_yet_valid", // iat or nbf beyond the clock skew in the future
  "nonce_missing", // a nonce was needed on one side and absent on the other
  "nonce_mismatch",
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
