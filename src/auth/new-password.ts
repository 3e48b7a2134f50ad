import type { Deps } from "../deps";
import { AppError } from "../errors";
import { checkBreached, isCommonPassword } from "./breached";
import { passwordPolicyProblem } from "./password";

/**
 * Everything a password must pass where it is set (register, reset, change): the length
 * policy (8 to 256 characters after NFKC), the bundled list of the most common passwords
 * (offline, always on) and the Pwned Passwords range API (BREACHED_PASSWORD_CHECK).
 */
export async function assertAcceptableNewPassword(deps: Deps, password: string, field = "password"): Promise<void> {
  const problem = passwordPolicyProblem(password);
  if (problem) throw new AppError(400, "validation_failed", problem, { issues: [{ path: field, message: problem }] });

  if (isCommonPassword(password)) {
    const message = "This password is one of the most common passwords and is easy to guess. Choose another one.";
    throw new AppError(400, "password_too_common", message, { issues: [{ path: field, message }] });
  }

  const result = await checkBreached(deps, password);
  if (result.status === "breached") {
    const message =
      "This password has appeared in a known data breach, so attackers try it first. Choose a password you have not used elsewhere.";
    throw new AppError(400, "password_breached", message, { issues: [{ path: field, message }] });
  }
  if (result.status === "unavailable" && deps.config.breached.mode === "fail-closed")
    throw new AppError(
      503,
      "password_check_unavailable",
      "We could not check this password against known breaches right now. Please try again shortly.",
      { retryAfter: 5 },
    );
}
