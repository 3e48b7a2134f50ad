import type { Deps } from "../deps";
import { AppError } from "../errors";
import { passwordPolicyProblem } from "./password";

/**
 * Everything a password must pass where it is set (register, reset, change): length policy
 * (8 to 256 characters after NFKC) and, in another step, the breached/common-password checks.
 */
export async function assertAcceptableNewPassword(_deps: Deps, password: string, field = "password"): Promise<void> {
  const problem = passwordPolicyProblem(password);
  if (problem) throw new AppError(400, "validation_failed", problem, { issues: [{ path: field, message: problem }] });
}
