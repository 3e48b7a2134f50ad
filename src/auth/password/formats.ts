import { hex, randomBytes } from "../../lib/encoding";

/**
 * The forms a stored password takes, known without hashing anything (so the ways-in registry's SQL
 * and the rules that read it need not load the hash code).
 */

/** Ours: `$scrypt$ln=<log2 N>,r=<r>,p=<p>$<salt b64>$<key b64>`. */
export const SCRYPT_FORMAT = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9+/]{16,})\$([A-Za-z0-9+/]{32,})$/;

/**
 * An account without a password (created by a social sign-in) stores Django's "unusable password"
 * form, `!` and random characters, which the shared table's other services also read as "no
 * password". Nothing verifies against it; a password reset replaces it.
 */
export const UNUSABLE_PASSWORD_PREFIX = "!";
export const unusablePassword = () => `${UNUSABLE_PASSWORD_PREFIX}${hex(randomBytes(20))}`;

/**
 * The stored values a right password can match (scrypt in our format, Django pbkdf2_sha256,
 * bcrypt), as one regular expression that means the same in JavaScript and in PostgreSQL, so the
 * ways-in registry's SQL ("holds a usable password") and hasUsablePassword agree exactly.
 */
export const USABLE_PASSWORD_PATTERN = `${SCRYPT_FORMAT.source}|^pbkdf2_sha256\\$|^\\$2[a-z]?\\$`;
const USABLE_PASSWORD = new RegExp(USABLE_PASSWORD_PATTERN);

/**
 * The stored value is a hash that a right password can match: one of the schemes verifyPassword
 * reads (scrypt, Django pbkdf2_sha256, bcrypt), not the unusable marker nor anything unknown.
 * What counts as a way to sign in when an identity is unlinked.
 */
export const hasUsablePassword = (stored: string) => !stored.startsWith(UNUSABLE_PASSWORD_PREFIX) && USABLE_PASSWORD.test(stored);
