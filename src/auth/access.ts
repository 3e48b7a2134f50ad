import type { Deps } from "../deps";
import type { ErrorCode } from "../errors";
import { apiError } from "../errors";
import { mustVerifyEmail } from "./email-verification";
import type { Authenticated } from "./sessions";

/**
 * What a protected route asks of its caller beyond a live session. Routes declare it once
 * (src/routes/route.ts, `auth: {...}`); every rule about who may call what lives here, so a new
 * rule (MFA enrollment, recent login, admin) is one field and one check.
 */
export interface AccessPolicy {
  /** Nothing beyond a live session of an active account. */
  readonly session?: true;
  /**
   * By default an account REQUIRE_VERIFIED_EMAIL holds back gets 403 email_unverified; "allow"
   * lets it call the route anyway (signing out grants nothing).
   */
  readonly unverifiedEmail?: "allow";
}

export const SESSION: AccessPolicy = { session: true };
/** A live session, verified email or not: for signing out. */
export const ANY_SESSION: AccessPolicy = { session: true, unverifiedEmail: "allow" };

/** The codes assertAccess can answer for a policy (documented on the route). */
export const accessCodes = (policy: AccessPolicy): ErrorCode[] => (policy.unverifiedEmail === "allow" ? [] : ["email_unverified"]);

/** Throws the catalog error of the first rule the caller does not meet. */
export function assertAccess(deps: Deps, auth: Authenticated, policy: AccessPolicy): void {
  // auth.user is the row authenticate() just read, so verifying takes effect on the next request.
  if (policy.unverifiedEmail !== "allow" && mustVerifyEmail(deps.config, auth.user)) throw apiError("email_unverified");
}
