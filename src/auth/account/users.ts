import { sql } from "drizzle-orm";
import { z } from "zod";
import { UNCACHED } from "../../db/client";
import { type User, users } from "../../db/schema";
import type { Deps, RequestMeta } from "../../deps";
import { isLocale, type Locale } from "../../i18n/locales";

/** The user object every answer carries (login, register, /me, profile). */
export interface PublicUser {
  id: string;
  full_name: string;
  email: string;
  role: string;
  avatar: string | null;
  /** The address was proven by a mailed code (verification, reset, email change). */
  email_verified: boolean;
  /** INSTRUCTOR_APPROVAL=required: the role asked for at registration and not yet decided by an admin; else null. */
  requested_role: string | null;
  /** The language of the account's mails; null when not chosen (or a value this service does not support). */
  locale: Locale | null;
}

export const publicUser = (
  u: Pick<User, "id" | "fullName" | "email" | "role" | "avatar" | "emailVerifiedAt" | "requestedRole" | "locale">,
): PublicUser => ({
  id: u.id,
  full_name: u.fullName,
  email: u.email,
  role: u.role,
  avatar: u.avatar,
  email_verified: u.emailVerifiedAt !== null,
  requested_role: u.requestedRole,
  locale: isLocale(u.locale) ? u.locale : null,
});

/**
 * The language of a mail to an account: the account's locale, else the request's (Accept-Language),
 * so an account that never chose one gets its mails in the language its app asks in.
 */
export const mailLocale = (user: Pick<User, "locale">, meta: Pick<RequestMeta, "locale">): Locale =>
  isLocale(user.locale) ? user.locale : meta.locale;

/** Emails are stored trimmed and lower-cased; lookups compare lower(email). */
export const normalizeEmail = (email: string) => email.trim().toLowerCase();

/** The longest address an account holds (the column, and registration's rule). */
export const EMAIL_MAX = 255;
/** The address rule of registration (src/routes/schemas.ts `email`): zod's email format, at most EMAIL_MAX characters. */
const EMAIL_ADDRESS = z.string().max(EMAIL_MAX).email();
export const isEmailAddress = (email: string) => EMAIL_ADDRESS.safeParse(email).success;

/** The account with this email, read fresh (never from Hyperdrive's cache). */
export async function findUserByEmail(deps: Deps, email: string): Promise<User | undefined> {
  const [row] = await deps.db
    .select({ user: users, fresh: UNCACHED })
    .from(users)
    .where(sql`lower(${users.email}) = ${normalizeEmail(email)}`)
    .limit(1);
  return row?.user;
}
