import type { Deps } from "../../deps";
import { apiError, fieldError } from "../../errors";
import { checkBreached, isCommonPassword } from "./breached";
import { passwordPolicyProblem } from "./hash";

/**
 * Everything a password must pass where it is set (register, reset, change): the length
 * policy (8 to 256 characters after NFKC), the bundled list of the most common passwords
 * (offline, always on) and the Pwned Passwords range API (BREACHED_PASSWORD_CHECK).
 */
export async function assertAcceptableNewPassword(deps: Deps, password: string, field = "password"): Promise<void> {
  assertPasswordShape(password, field);
  await assertNotBreached(deps, password, field);
}

/** The checks that need nothing but the password (length, the bundled list): 400 before any other work. */
export function assertPasswordShape(password: string, field = "password"): void {
  const problem = passwordPolicyProblem(password);
  if (problem) throw fieldError("validation_failed", field, problem);
  if (isCommonPassword(password)) throw fieldError("password_too_common", field);
}

/** The Pwned Passwords lookup (a request to the range API). */
export async function assertNotBreached(deps: Deps, password: string, field = "password"): Promise<void> {
  const result = await checkBreached(deps, password);
  if (result.status === "breached") throw fieldError("password_breached", field);
  if (result.status === "unavailable" && deps.config.BREACHED_PASSWORD_CHECK === "fail-closed")
    throw apiError("password_check_unavailable", { retryAfter: 5 });
}
