import { and, count, eq, isNull } from "drizzle-orm";
import { authSecret } from "../../config";
import type { Db } from "../../db/client";
import { UNCACHED } from "../../db/client";
import { mfaRecoveryCodes } from "../../db/schema";
import type { Deps } from "../../deps";
import { hmacHex } from "../../lib/encoding";

/**
 * Recovery codes: 10 per account, each 12 symbols of Crockford's base32 (60 random bits), shown
 * as `xxxx-xxxx-xxxx`. The alphabet has no i, l, o or u, and typing is forgiving: case, spaces and
 * hyphens are ignored, and i/l read as 1, o as 0. Stored only as HMAC-SHA-256 keyed with
 * AUTH_SECRET and bound to the user; each works once (one conditional UPDATE).
 */
const RECOVERY_CODE_COUNT = 10;
const ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz";
const LENGTH = 12;

/** One code: 12 random bytes, 5 bits of each (256 is a multiple of 32: no bias). */
function generateRecoveryCode(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(LENGTH));
  let s = "";
  for (const b of bytes) s += ALPHABET[b & 31];
  return `${s.slice(0, 4)}-${s.slice(4, 8)}-${s.slice(8)}`;
}

export const generateRecoveryCodes = () => Array.from({ length: RECOVERY_CODE_COUNT }, generateRecoveryCode);

/** The canonical form of a typed code, or null if it cannot be one. */
export function normalizeRecoveryCode(typed: string): string | null {
  const s = typed
    .toLowerCase()
    .replace(/[\s-]+/g, "")
    .replace(/[il]/g, "1")
    .replace(/o/g, "0");
  if (s.length !== LENGTH) return null;
  for (const c of s) if (!ALPHABET.includes(c)) return null;
  return s;
}

/** The stored form of a code (any spelling of it): keyed, bound to the user. */
export const recoveryCodeHash = (deps: Deps, userId: string, canonical: string) =>
  hmacHex(authSecret(deps.config), `mfa-recovery:${userId}:${canonical}`);

/** Replace the user's codes with a new set (on the caller's transaction). */
export async function replaceRecoveryCodes(deps: Deps, tx: Db, userId: string, codes: string[]): Promise<void> {
  const now = deps.now();
  const rows = await Promise.all(
    codes.map(async (code) => ({
      id: crypto.randomUUID(),
      userId,
      codeHash: await recoveryCodeHash(deps, userId, normalizeRecoveryCode(code)!),
      createdAt: now,
    })),
  );
  await tx.delete(mfaRecoveryCodes).where(eq(mfaRecoveryCodes.userId, userId));
  await tx.insert(mfaRecoveryCodes).values(rows);
}

/**
 * Use a code: one conditional UPDATE, so of any number of concurrent uses of one code exactly one
 * finds it unused. True when this call used it.
 */
export async function useRecoveryCode(db: Db, userId: string, hash: string, now: Date): Promise<boolean> {
  const used = await db
    .update(mfaRecoveryCodes)
    .set({ usedAt: now })
    .where(and(eq(mfaRecoveryCodes.userId, userId), eq(mfaRecoveryCodes.codeHash, hash), isNull(mfaRecoveryCodes.usedAt)))
    .returning({ id: mfaRecoveryCodes.id });
  return used.length > 0;
}

/** How many unused codes the user has left. */
export async function remainingRecoveryCodes(deps: Deps, userId: string): Promise<number> {
  const [row] = await deps.db
    .select({ n: count(), fresh: UNCACHED })
    .from(mfaRecoveryCodes)
    .where(and(eq(mfaRecoveryCodes.userId, userId), isNull(mfaRecoveryCodes.usedAt)));
  return Number(row?.n ?? 0);
}
