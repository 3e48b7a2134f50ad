import { eq, sql } from "drizzle-orm";
import { throttles, type User, users } from "../../db/schema";
import type { Deps, RequestMeta } from "../../deps";
import { apiError } from "../../errors";
import { msg } from "../../i18n/messages";
import { normalizeEmail } from "../account/users";
import { type AuditEvent, audit } from "../audit";
import type { Authenticated } from "../sessions/sessions";
import { clearThrottle, loginPolicy, refusal, reservationStatement, throttleKey } from "../throttle";
import { dummyHash, scryptParams, type VerifyResult, verifyPassword } from "./hash";
import { withHashAdmission } from "./hash-admission";

/**
 * "Is this the account's password?": the one check behind login and every "confirm your current
 * password" (change-password, change-email, deletion, and every change to the ways in).
 */

/**
 * Reserve a login attempt for the email's throttle key and read the account, in one statement.
 * It is a write (the reservation), so it is never answered from Hyperdrive's cache, and the
 * account row it returns is the committed one. The query is the same whether or not the account
 * exists.
 */
async function reserveLogin(deps: Deps, key: string, email: string) {
  const now = deps.now();
  const policy = loginPolicy(deps.config);
  const reserved = deps.db.$with("reserved", { failures: sql<number>`failures` }).as(reservationStatement(key, policy, now));
  const [row] = await deps.db
    .with(reserved)
    .select({
      attempt: sql<number | null>`(select failures from reserved)`,
      failures: throttles.failures,
      blockedUntil: throttles.blockedUntil,
      windowStartedAt: throttles.windowStartedAt,
      user: users,
    })
    .from(sql`(select 1) as one`)
    .leftJoin(throttles, eq(throttles.key, key))
    .leftJoin(users, sql`lower(${users.email}) = ${email}`)
    .limit(1);
  const gate = row.attempt !== null ? ({ reserved: true, attempt: row.attempt } as const) : refusal(policy, now, row);
  return { gate, user: row.user };
}

const THROTTLED = msg("error.too_many_requests.login");

/** Users whose malformed stored hash this isolate already logged: one line per user, not per attempt. */
const reportedMalformed = new Set<string>();
function reportMalformedHash(deps: Deps, user: User, scheme: string): void {
  if (reportedMalformed.has(user.id)) return;
  if (reportedMalformed.size >= 10_000) reportedMalformed.clear();
  reportedMalformed.add(user.id);
  deps.log("warn", "stored password hash is malformed or of an unknown scheme", { userId: user.id, scheme });
}

export interface PasswordCheck {
  user: User;
  result: VerifyResult;
  /** The throttle key of the account's email (cleared on success). */
  key: string;
}

/**
 * The password check shared by login, change-password and every other "confirm your password":
 * the attempt is reserved in the account's login throttle before any hash runs. While the key is
 * delayed the answer is 429 with Retry-After, no hash runs and nothing is counted; at
 * LOGIN_LOCKOUT_FAILURES only a reset unlocks it. Unknown email and wrong password answer the
 * same 401 after the same work (a verify against a dummy hash). The caller clears the key after
 * a right password (pipelined with its next write). When the isolate's hash queue is full it
 * answers 503 server_busy before anything is reserved (src/auth/password/hash-admission.ts).
 */
export function checkPassword(deps: Deps, meta: RequestMeta, rawEmail: string, password: string): Promise<PasswordCheck> {
  // Admitted to the hash queue before the reservation: a request it cannot take counts no attempt.
  return withHashAdmission(deps.config, 1, () => verifyLogin(deps, meta, rawEmail, password));
}

async function verifyLogin(deps: Deps, meta: RequestMeta, rawEmail: string, password: string): Promise<PasswordCheck> {
  const email = normalizeEmail(rawEmail);
  const key = await throttleKey(deps, "login", email);
  const { gate, user } = await reserveLogin(deps, key, email);
  if (!gate.reserved) {
    await audit(deps, meta, "login_throttled", "blocked", user?.id ?? null, { reason: gate.locked ? "locked" : "delay" });
    if (gate.locked) throw apiError("password_reset_required");
    throw apiError("too_many_requests", { retryAfter: gate.retryAfter, message: THROTTLED });
  }
  const params = scryptParams(deps.config);
  const legacy = { pbkdf2WebCryptoMaxIterations: deps.config.PBKDF2_WEBCRYPTO_MAX_ITERATIONS };
  const result = await verifyPassword(password, user?.password ?? (await dummyHash(params)), params, legacy);
  if (user && result.malformed) {
    if (result.scheme !== "unusable") reportMalformedHash(deps, user, result.scheme);
    // The same work as a wrong password, so the answer's timing does not single out the account.
    await verifyPassword(password, await dummyHash(params), params);
  }
  if (!user || !result.ok) {
    await audit(deps, meta, "login_failed", "failure", user?.id ?? null, {
      failures: gate.attempt,
      ...(user && result.malformed ? { reason: result.scheme === "unusable" ? "no_password" : "unusable_stored_hash" } : {}),
    });
    throw apiError("invalid_credentials");
  }
  return { user, result, key };
}

/**
 * "Confirm your password" inside a session (change-password, change-email): checkPassword on the
 * caller's own account, a wrong password answered as invalid_current_password (audited as
 * `event`), and the throttle cleared after a right one.
 */
export async function confirmCurrentPassword(
  deps: Deps,
  meta: RequestMeta,
  auth: Authenticated,
  password: string,
  event: AuditEvent,
): Promise<PasswordCheck> {
  let checked: PasswordCheck;
  try {
    checked = await checkPassword(deps, meta, auth.user.email, password);
  } catch (err) {
    if ((err as { code?: string }).code !== "invalid_credentials") throw err;
    await audit(deps, meta, event, "failure", auth.user.id, { reason: "wrong_current_password" });
    throw apiError("invalid_current_password");
  }
  if (checked.user.id !== auth.user.id) throw apiError("invalid_token");
  await clearThrottle(deps, checked.key);
  return checked;
}
