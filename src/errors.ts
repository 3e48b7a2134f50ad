/** The one error type of the API. Its status, code and message become the JSON error body. */
export class AppError extends Error {
  constructor(
    readonly status: 400 | 401 | 403 | 404 | 405 | 409 | 413 | 415 | 422 | 429 | 500 | 502 | 503,
    readonly code: string,
    message: string,
    readonly extra: { issues?: Issue[]; retryAfter?: number; headers?: Record<string, string> } = {},
  ) {
    super(message);
  }
}

export interface Issue {
  path: string;
  message: string;
}

export const errors = {
  validation: (issues: Issue[]) =>
    new AppError(400, "validation_failed", issues.length === 1 ? issues[0].message : "Some fields are invalid.", {
      issues,
    }),
  unauthorized: (message = "Authentication required.") => new AppError(401, "unauthorized", message),
  invalidToken: () => new AppError(401, "invalid_token", "Your session is invalid. Please log in again."),
  tokenExpired: () => new AppError(401, "token_expired", "Your session has expired. Please log in again."),
  invalidCredentials: () => new AppError(401, "invalid_credentials", "Invalid email or password."),
  tooMany: (retryAfter: number, message = "Too many attempts. Please wait and try again.") =>
    new AppError(429, "too_many_requests", message, { retryAfter: Math.max(1, Math.ceil(retryAfter)) }),
  dbUnavailable: () => new AppError(503, "service_unavailable", "The service is temporarily unavailable. Please try again shortly."),
};
