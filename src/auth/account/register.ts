import { sql } from "drizzle-orm";
import { type User, users } from "../../db/schema";
import type { Deps, RequestMeta } from "../../deps";
import { apiError } from "../../errors";
import type { Locale } from "../../i18n/locales";
import { registrationAttemptMessage } from "../../mail/registration-attempt";
import { envelope } from "../../mail/templates";
import { audit } from "../audit";
import { recordEventWith, userCreated } from "../events/outbox";
import { hashPassword, scryptParams } from "../password/hash";
import { withHashAdmission } from "../password/hash-admission";
import { assertNotBreached, assertPasswordShape } from "../password/new-password";
import type { TokenPair } from "../sessions/sessions";
import { completeSignIn } from "../sign-in/complete";
import { mailVerificationCode, mustVerifyEmail } from "./email-verification";
import { findUserByEmail, mailLocale, normalizeEmail } from "./users";

export type RegisterOutcome =
  | { kind: "created"; user: User; tokens: TokenPair }
  /** REGISTER_ENUMERATION_SAFE: the same answer whether the email was free or taken; no tokens. */
  | { kind: "accepted" }
  /** REQUIRE_VERIFIED_EMAIL covers the new account: created, but no session until the address is verified. */
  | { kind: "verify_email" };

/**
 * Create an account. By default a taken email answers 409 (existing clients rely on it) and a
 * new account gets a session at once. With REGISTER_ENUMERATION_SAFE=true both cases answer
 * alike without tokens ("accepted"): a new account logs in with POST /login, and the owner of a
 * taken email is told by mail instead (see docs/abuse.md). Every new account is mailed a
 * verification code in the background; when REQUIRE_VERIFIED_EMAIL covers it, it gets no
 * session until it is verified (docs/email-verification.md).
 */
export async function register(
  deps: Deps,
  meta: RequestMeta,
  input: { fullName: string; email: string; password: string; role: "student" | "instructor"; locale: Locale | null },
): Promise<RegisterOutcome> {
  assertPasswordShape(input.password);
  // Admitted to the hash queue before the breached-password lookup: a request it cannot take
  // answers 503 server_busy at once and has written (and asked) nothing.
  const hash = await withHashAdmission(deps.config, 1, async () => {
    await assertNotBreached(deps, input.password);
    return hashPassword(input.password, scryptParams(deps.config));
  });
  const email = normalizeEmail(input.email);
  // INSTRUCTOR_APPROVAL=required: instructors can reach students (chats), so the role waits for an admin.
  const pending = input.role === "instructor" && deps.config.INSTRUCTOR_APPROVAL === "required";
  const role = pending ? "student" : input.role;
  // The account and its user.created event in one statement (no transaction to open and commit):
  // a taken address inserts neither.
  const id = crypto.randomUUID();
  const created = deps.db.$with("created").as(
    deps.db
      .insert(users)
      .values({
        id,
        fullName: input.fullName.trim(),
        email,
        password: hash,
        role,
        requestedRole: pending ? input.role : null,
        locale: input.locale,
        createdAt: deps.now(),
      })
      .onConflictDoNothing()
      .returning(),
  );
  const event = deps.db.$with("created_event", {}).as(recordEventWith(sql`created`, userCreated(deps, { id, role }, "password")));
  const [user] = await deps.db.with(created, event).select().from(created);
  const safe = deps.config.REGISTER_ENUMERATION_SAFE;
  if (!user) {
    const owner = safe ? await findUserByEmail(deps, email) : undefined;
    await audit(deps, meta, "registered", "failure", owner?.id ?? null, { reason: "email_taken" });
    if (!safe) throw apiError("email_taken");
    if (owner) notifyRegistrationAttempt(deps, meta, owner);
    return { kind: "accepted" };
  }
  mailVerificationCode(deps, meta, user);
  const detail = pending ? { requested_role: input.role } : null;
  if (safe || mustVerifyEmail(deps.config, user)) {
    await audit(deps, meta, "registered", "success", user.id, detail);
    return { kind: safe ? "accepted" : "verify_email" };
  }
  const signedIn = await completeSignIn(deps, meta, user, {
    method: "password",
    grounds: { passwordChangedAt: user.passwordChangedAt },
    event: "registered",
    detail,
  });
  // A brand-new account has no second factor.
  if (signedIn.kind !== "session") throw new Error("a new account asked for a second factor");
  return { kind: "created", user, tokens: signedIn.tokens };
}

/**
 * REGISTER_ENUMERATION_SAFE: tell the owner of a taken email that someone tried to register
 * with it, in the background so the answer's timing does not depend on the mail. In the owner's
 * language; an owner who never chose one gets the request's (most often the owner, who forgot).
 */
export function notifyRegistrationAttempt(deps: Deps, meta: RequestMeta, owner: User): void {
  const message = registrationAttemptMessage(envelope(deps.config, owner.email, mailLocale(owner, meta)));
  deps.waitUntil(deps.mailer.send(message));
}
