import { and, eq, sql } from "drizzle-orm";
import { users, type User } from "../db/schema";
import type { Deps, RequestMeta } from "../deps";
import { AppError, errors } from "../errors";
import { audit } from "./audit";
import { assertAcceptableNewPassword } from "./new-password";
import { dummyHash, hashPassword, verifyPassword } from "./password";
import { type TokenPair, startSession } from "./sessions";
import { clearThrottle, loginGate, recordLoginFailure, throttleKey } from "./throttle";

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

export async function register(
  deps: Deps,
  meta: RequestMeta,
  input: { fullName: string; email: string; password: string; role: "student" | "instructor" },
): Promise<{ user: User; tokens: TokenPair }> {
  await assertAcceptableNewPassword(deps, input.password);
  const email = normalizeEmail(input.email);
  const hash = await hashPassword(input.password, deps.config.scrypt);
  const [user] = await deps.db
    .insert(users)
    .values({ id: crypto.randomUUID(), fullName: input.fullName.trim(), email, password: hash, role: input.role, createdAt: deps.now() })
    .onConflictDoNothing()
    .returning();
  if (!user) throw emailTaken();
  await audit(deps, meta, "registered", "success", user.id);
  return { user, tokens: await startSession(deps, meta, user) };
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
  const gate = await loginGate(deps, key);
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
  const user = await findUserByEmail(deps, email);
  const result = await verifyPassword(input.password, user?.password ?? (await dummyHash(deps.config.scrypt)), deps.config.scrypt);
  if (user && result.malformed) deps.log("warn", "stored password hash is malformed or of an unknown scheme", { userId: user.id, scheme: result.scheme });
  if (!user || !result.ok) {
    const failures = await recordLoginFailure(deps, key);
    await audit(deps, meta, "login_failed", "failure", user?.id ?? null, { failures });
    throw errors.invalidCredentials();
  }
  await clearThrottle(deps, key);
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
  await audit(deps, meta, "login_succeeded", "success", user.id);
  return { user: current, tokens: await startSession(deps, meta, current) };
}
