import type { Config } from "../config";
import type { Deps } from "../deps";
import { apiError, type ErrorCode } from "../errors";
import { mustVerifyEmail } from "./account/email-verification";
import type { Authenticated } from "./sessions/sessions";

/**
 * What a protected route asks of its caller beyond a live session. Routes declare it once
 * (src/routes/route.ts, `auth: {...}`); every rule about who may call what lives here, so a new
 * rule (an admin role, say) is one field and one check.
 */
export interface AccessPolicy {
  /** Nothing beyond a live session of an active account. */
  readonly session?: true;
  /**
   * By default an account REQUIRE_VERIFIED_EMAIL holds back gets 403 email_unverified; "allow"
   * lets it call the route anyway (signing out grants nothing).
   */
  readonly unverifiedEmail?: "allow";
  /**
   * The route weakens or re-keys the account (turning MFA off, new recovery codes, enrolling,
   * deleting the account, admin changes): the session's login or MFA verify must be at most
   * RECENT_AUTH_MAX_AGE old, else 403 recent_login_required (log in again).
   */
  readonly recentLogin?: true;
  /**
   * The route is open to an account that must enroll a second factor first (its role is in
   * REQUIRE_MFA_ROLES and it has no active factor): the MFA enrollment routes, /me, logout.
   * Every other route refuses such an account with 403 mfa_enrollment_required.
   */
  readonly enrollment?: true;
  /**
   * The route is open to a session that must still sign in with a passkey (the account's role is
   * in REQUIRE_PHISHING_RESISTANT_ROLES and the session is not phishing-resistant, by the ways-in
   * registry): adding a passkey, /me, logout. Every other route refuses it with 403
   * phishing_resistant_required.
   */
  readonly passkeyEnrollment?: true;
  /**
   * The admin API: the account's role is `admin` (read fresh by authenticate(), so a demotion takes
   * effect on the next request), else 403 admin_required; and the session is multi-factor by the
   * ways-in registry (two kinds of factor: a password and an authenticator code, say), else 403
   * admin_mfa_required (log in again with the second factor).
   */
  readonly admin?: true;
}

export const SESSION: AccessPolicy = { session: true };
/** Routes an account that must enroll may use. */
export const ENROLLMENT: AccessPolicy = { session: true, enrollment: true };
/** Adding a passkey: open to an account that must enroll a second factor, or sign in with a passkey. */
export const PASSKEY_ENROLLMENT: AccessPolicy = { session: true, enrollment: true, passkeyEnrollment: true };
/** A live session, whatever it still has to do (verify the email, enroll MFA, add a passkey): for signing out. */
export const ANY_SESSION: AccessPolicy = { session: true, unverifiedEmail: "allow", enrollment: true, passkeyEnrollment: true };
/** The admin API's reads; its changes add `recentLogin: true` (ADMIN_CHANGE). */
export const ADMIN: AccessPolicy = { session: true, admin: true };
export const ADMIN_CHANGE: AccessPolicy = { session: true, admin: true, recentLogin: true };

/** The policy's admin rule, by itself: the code of the refusal, or null (audited by the auth middleware). */
function adminRefusal(auth: Authenticated): "admin_required" | "admin_mfa_required" | null {
  if (auth.user.role !== "admin") return "admin_required";
  if (!auth.assurance.multiFactor) return "admin_mfa_required";
  return null;
}

/**
 * The policy can refuse an account that must enroll a second factor first, so authenticate() reads
 * whether the account holds one: a route open to such accounts (`enrollment`) never asks, nor does
 * any route when no role must use MFA.
 */
export const needsMfaState = (config: Config, policy: AccessPolicy) => !policy.enrollment && config.REQUIRE_MFA_ROLES.length > 0;

/** The role must use MFA (REQUIRE_MFA_ROLES) and the account holds no second factor yet (by the ways-in registry). */
function mustEnrollMfa(deps: Deps, auth: Authenticated): boolean {
  if (!deps.config.REQUIRE_MFA_ROLES.includes(auth.user.role)) return false;
  if (auth.mfaEnabled === null) throw new Error("the account's second factors were not read for a policy that needs them");
  return !auth.mfaEnabled;
}

/** The role must sign in phishing-resistantly (REQUIRE_PHISHING_RESISTANT_ROLES) and this session did not (by the ways-in registry). */
const mustUsePasskey = (deps: Deps, auth: Authenticated) =>
  !auth.assurance.phishingResistant && deps.config.REQUIRE_PHISHING_RESISTANT_ROLES.includes(auth.user.role);

/** The session's sign-in (login or MFA verify) happened within RECENT_AUTH_MAX_AGE. */
export const isRecentLogin = (deps: Deps, auth: Authenticated) =>
  deps.now().getTime() - auth.authTime.getTime() <= deps.config.RECENT_AUTH_MAX_AGE * 1000;

/** Throws the catalog error of the first rule the caller does not meet. */
export function assertAccess(deps: Deps, auth: Authenticated, policy: AccessPolicy): void {
  // auth.user is the row authenticate() just read, so verifying takes effect on the next request.
  if (policy.unverifiedEmail !== "allow" && mustVerifyEmail(deps.config, auth.user)) throw apiError("email_unverified");
  if (!policy.enrollment && mustEnrollMfa(deps, auth)) throw apiError("mfa_enrollment_required");
  if (!policy.passkeyEnrollment && mustUsePasskey(deps, auth)) throw apiError("phishing_resistant_required");
  const notAdmin = policy.admin ? adminRefusal(auth) : null;
  if (notAdmin) throw apiError(notAdmin);
  if (policy.recentLogin && !isRecentLogin(deps, auth)) throw apiError("recent_login_required");
}

/** The catalog codes a policy can answer (added to the route's documented errors by route()). */
export function accessCodes(policy: AccessPolicy): ErrorCode[] {
  return [
    ...(policy.unverifiedEmail === "allow" ? [] : (["email_unverified"] as const)),
    ...(policy.enrollment ? [] : (["mfa_enrollment_required"] as const)),
    ...(policy.passkeyEnrollment ? [] : (["phishing_resistant_required"] as const)),
    ...(policy.admin ? (["admin_required", "admin_mfa_required"] as const) : []),
    ...(policy.recentLogin ? (["recent_login_required"] as const) : []),
  ];
}
