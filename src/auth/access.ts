import type { Deps } from "../deps";
import type { Authenticated } from "./sessions";

/**
 * What a protected route asks of its caller beyond a live session. Routes declare it once
 * (src/routes/route.ts, `auth: {...}`); every rule about who may call what lives here, so a new
 * rule (verified email, MFA enrollment, recent login, admin) is one field and one check.
 */
export interface AccessPolicy {
  /** Nothing beyond a live session of an active account. */
  readonly session?: true;
}

export const SESSION: AccessPolicy = { session: true };

/** Throws the catalog error of the first rule the caller does not meet. */
export function assertAccess(_deps: Deps, _auth: Authenticated, _policy: AccessPolicy): void {
  // A live session of an active account is checked by authenticate(); no further rules yet.
}
