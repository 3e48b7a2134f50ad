import { and, eq, sql } from "drizzle-orm";
import { throttles, type User, users } from "../db/schema";
import type { Deps, RequestMeta } from "../deps";
import { AppError, errors } from "../errors";
import { registrationAttemptMessage } from "../mail/registration-attempt";
import { audit } from "./audit";
import { assertAcceptableNewPassword } from "./new-password";
import { dummyHash, hashPassword, verifyPassword } from "./password";
import { startSession, type TokenPair } from "./sessions";
import { clearThrottle, loginGate, recordLoginFailure, type ThrottleState, throttleKey } from "./throttle";

export type Role = "student" | "instructor" | "admin";

export interface PublicUser {
  id: string;
  full_name: string;
  email: string;
  role: string;
  avatar: string | null;
}

export const publicUser = (u: User): PublicUser => ({
  id: u.id,
  full_name: u.fullName,
  email: u.email,
  role: u.role,
  avatar: u.avatar,
});

/** Emails are stored trimmed and lower-cased; lookups compare lower(email). */
export const normalizeEmail = (email: string) => email.trim().toLowerCase();

export async function findUserByEmail(deps: Deps, email: string): Promise<User | undefined> {
  const [u] = await deps.db
    .select()
    .from(users)
    .where(sql`lower(${users.email}) = ${normalizeEmail(email)}`)
    .limit(1);
  return u;
}

export const emailTaken = () => new AppError(409, "email_taken", "An account with this email already exists.");

export type RegisterOutcome =
  | { kind: "created"; user: User; tokens: TokenPair }
  /** REGISTER_ENUMERATION_SAFE: the same answer whether the email was free or taken; no tokens. */
  | { kind: "accepted" };

/**
 * Create an account. By default a taken email answers 409 (existing clients rely on it) and a
 * new account gets a session at once. With REGISTER_ENUMERATION_SAFE=true both cases answer
 * alike without tokens ("accepted"): a new account logs in with POST /login, and the owner of a
 * taken email is told by mail instead (see README, "Abuse resistance").
 */
export async function register(
  deps: Deps,
  meta: RequestMeta,
  input: { fullName: string; email: string; password: string; role: "student" | "instructor" },
): Promise<RegisterOutcome> {
  await assertAcceptableNewPassword(deps, input.password);
  const email = normalizeEmail(input.email);
  const hash = await hashPassword(input.password, deps.config.scrypt);
  const [user] = await deps.db
    .insert(users)
    .values({ id: crypto.randomUUID(), fullName: input.fullName.trim(), email, password: hash, role: input.role, createdAt: deps.now() })
    .onConflictDoNothing()
    .returning();
  const safe = deps.config.registerEnumerationSafe;
  if (!user) {
    const owner = safe ? await findUserByEmail(deps, email) : undefined;
    await audit(deps, meta, "registered", "failure", owner?.id ?? null, { reason: "email_taken" });
    if (!safe) throw emailTaken();
    if (owner) notifyRegistrationAttempt(deps, owner);
    return { kind: "accepted" };
  }
  if (safe) {
    await audit(deps, meta, "registered", "success", user.id);
    return { kind: "accepted" };
  }
  // Pipelined on the request's one connection: one round trip for both.
  const [, tokens] = await Promise.all([audit(deps, meta, "registered", "success", user.id), startSession(deps, meta, user)]);
  return { kind: "created", user, tokens };
}

/**
 * REGISTER_ENUMERATION_SAFE: tell the owner of a taken email that someone tried to register
 * with it, in the background so the answer's timing does not depend on the mail.
 */
function notifyRegistrationAttempt(deps: Deps, owner: User): void {
  const message = registrationAttemptMessage({ appName: deps.config.mail.appName, to: owner.email });
  deps.waitUntil(deps.mailer.send(message));
}

/** Users whose malformed stored hash this isolate already logged: one line per user, not per attempt. */
const reportedMalformed = new Set<string>();
function reportMalformedHash(deps: Deps, user: User, scheme: string): void {
  if (reportedMalformed.has(user.id)) return;
  if (reportedMalformed.size >= 10_000) reportedMalformed.clear();
  reportedMalformed.add(user.id);
  deps.log("warn", "stored password hash is malformed or of an unknown scheme", { userId: user.id, scheme });
}

/**
 * The account (if any) and the throttle state of its key, in one round trip; the query is the
 * same whether or not the account exists.
 */
async function loginState(deps: Deps, email: string, key: string): Promise<{ user: User | null; throttle: ThrottleState | null }> {
  const [row] = await deps.db
    .select({ user: users, failures: throttles.failures, blockedUntil: throttles.blockedUntil })
    .from(sql`(select 1) as one`)
    .leftJoin(users, sql`lower(${users.email}) = ${email}`)
    .leftJoin(throttles, eq(throttles.key, key))
    .limit(1);
  return {
    user: row?.user ?? null,
    throttle: row && row.failures !== null ? { failures: row.failures, blockedUntil: row.blockedUntil } : null,
  };
}

/**
 * Email + password login. Unknown email and wrong password answer the same 401 after the
 * same work (a verify against a dummy hash). Consecutive failures per email are throttled in
 * Postgres: growing delays, and a required reset after LOGIN_LOCKOUT_FAILURES.
 */
export async function login(
  deps: Deps,
  meta: RequestMeta,
  input: { email: string; password: string },
): Promise<{ user: User; tokens: TokenPair }> {
  const email = normalizeEmail(input.email);
  const key = await throttleKey(deps, "login", email);
  const { user, throttle } = await loginState(deps, email, key);
  const gate = loginGate(deps, throttle);
  if (gate.state === "locked") {
    await audit(deps, meta, "login_throttled", "blocked", null, { reason: "locked" });
    throw new AppError(
      403,
      "password_reset_required",
      "This account is locked after too many failed attempts. Reset your password to log in again.",
    );
  }
  if (gate.state === "delayed") {
    await audit(deps, meta, "login_throttled", "blocked", null, { reason: "delay" });
    throw errors.tooMany(gate.retryAfter, "Too many failed attempts. Please wait before trying again.");
  }
  const result = await verifyPassword(input.password, user?.password ?? (await dummyHash(deps.config.scrypt)), deps.config.scrypt, {
    pbkdf2WebCryptoMaxIterations: deps.config.legacy.pbkdf2WebCryptoMaxIterations,
  });
  if (user && result.malformed) {
    reportMalformedHash(deps, user, result.scheme);
    // The same work as a wrong password, so the answer's timing does not single out the account.
    await verifyPassword(input.password, await dummyHash(deps.config.scrypt), deps.config.scrypt);
  }
  if (!user || !result.ok) {
    const failures = await recordLoginFailure(deps, key);
    await audit(deps, meta, "login_failed", "failure", user?.id ?? null, {
      failures,
      ...(user && result.malformed ? { reason: "unusable_stored_hash" } : {}),
    });
    throw errors.invalidCredentials();
  }
  if (throttle) await clearThrottle(deps, key);
  let current = user;
  if (result.needsRehash) {
    const fresh = await hashPassword(input.password, deps.config.scrypt);
    // Conditioned on the old hash: of two concurrent logins, one rewrites and the other no-ops.
    const [updated] = await deps.db
      .update(users)
      .set({ password: fresh })
      .where(and(eq(users.id, user.id), eq(users.password, user.password)))
      .returning();
    if (updated) {
      current = updated;
      await audit(deps, meta, "password_rehashed", "success", user.id, { from: result.scheme });
    }
  }
  // Pipelined on the request's one connection: one round trip for both.
  const [, tokens] = await Promise.all([audit(deps, meta, "login_succeeded", "success", user.id), startSession(deps, meta, current)]);
  return { user: current, tokens };
}
