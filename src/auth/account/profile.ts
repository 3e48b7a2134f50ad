import { eq, sql } from "drizzle-orm";
import { users } from "../../db/schema";
import type { Deps, RequestMeta } from "../../deps";
import { apiError, validationError } from "../../errors";
import type { Locale } from "../../i18n/locales";
import { msg } from "../../i18n/messages";
import { describeError } from "../../log";
import { makeAvatarVariants } from "../../storage/avatar-images";
import { newUploadId, ownAvatarKey, variantKey } from "../../storage/avatar-keys";
import { audit } from "../audit";
import { event, recordEvent } from "../events/outbox";
import { self, type UserField } from "../events/types";
import type { Authenticated } from "../sessions/sessions";
import { normalizeEmail, type PublicUser, publicUser } from "./users";

export interface ProfileInput {
  fullName?: string;
  avatar?: { bytes: Uint8Array };
  /** Sent by the existing web client; must be the caller's own email, never selects the user. */
  email?: string;
  /** The language of the account's mails (docs/languages.md). */
  locale?: Locale;
}

export const tooLarge = (maxBytes: number) =>
  apiError("payload_too_large", { message: msg("error.payload_too_large.avatar", bytes(maxBytes)) });

/** 5242880 -> 5 MiB, 2048 -> 2 KiB, 1000 -> 1000 bytes. */
const bytes = (n: number) =>
  n % (1024 * 1024) === 0
    ? { amount: n / (1024 * 1024), unit: "MiB" }
    : n % 1024 === 0
      ? { amount: n / 1024, unit: "KiB" }
      : { amount: n, unit: "bytes" };

export interface ProfileResult {
  user: PublicUser;
  /** When this request stored a new avatar: the URL of each standard size, by size in px. */
  avatarSizes?: Record<string, string>;
}

/**
 * Change the caller's name, avatar and/or language (the locale of its mails). The user comes
 * from the token only. An avatar is re-encoded at each standard size (src/storage/avatar-images.ts), stored under fresh keys
 * (src/storage/avatar-keys.ts) before the row changes, removed again if the row cannot be
 * updated, and the replaced avatar's objects are deleted afterwards (only if this service wrote
 * them for this user).
 */
export async function updateProfile(deps: Deps, meta: RequestMeta, auth: Authenticated, input: ProfileInput): Promise<ProfileResult> {
  const me = auth.user;
  if (input.email !== undefined && normalizeEmail(input.email) !== normalizeEmail(me.email)) {
    await audit(deps, meta, "profile_updated", "blocked", me.id, { reason: "email_mismatch" });
    throw apiError("email_mismatch");
  }
  const fullName = input.fullName?.trim();
  if (fullName !== undefined && (fullName.length < 1 || fullName.length > 100))
    throw validationError([{ path: "full_name", message: msg("validation.full_name_length") }]);
  if (fullName === undefined && !input.avatar && input.locale === undefined)
    throw validationError([{ path: "(body)", message: msg("validation.profile_empty") }]);

  let newKeys: string[] = [];
  let avatarUrl: string | undefined;
  let avatarSizes: Record<string, string> | undefined;
  if (input.avatar) {
    const { bytes } = input.avatar;
    const max = deps.config.AVATAR_MAX_BYTES;
    if (bytes.byteLength > max) throw tooLarge(max);
    deps.storage.assertConfigured();
    const variants = await makeAvatarVariants(deps.images, deps.config, deps.log, bytes);
    const uploadId = newUploadId();
    const keys = variants.map((v) => variantKey(me.id, uploadId, v.size, v.ext));
    const puts = await Promise.allSettled(variants.map((v, i) => deps.storage.put(keys[i], v.bytes, v.mime)));
    const failed = puts.find((p): p is PromiseRejectedResult => p.status === "rejected");
    if (failed) {
      // A write that timed out may still land later; one that succeeded is there now. Delete them
      // in the background; what even that misses, the purge sweeps (src/auth/purge.ts).
      const unknown = keys.filter((_, i) => !refused(puts[i]));
      if (unknown.length) deps.waitUntil(removeWithRetry(deps, unknown));
      throw failed.reason;
    }
    newKeys = keys;
    avatarUrl = deps.storage.publicUrl(keys[0]);
    avatarSizes = Object.fromEntries(variants.map((v, i) => [String(v.size), deps.storage.publicUrl(keys[i])]));
  }

  let row: { user: PublicUser; previousAvatar: string | null } | undefined;
  try {
    row = await saveProfile(deps, me.id, { fullName, avatar: avatarUrl, locale: input.locale });
  } catch (err) {
    await removeAllQuietly(deps, newKeys, "new avatar after a failed profile update");
    throw err;
  }
  if (!row) {
    await removeAllQuietly(deps, newKeys, "new avatar of a deleted user");
    throw apiError("invalid_token");
  }

  if (newKeys.length && row.previousAvatar && row.previousAvatar !== avatarUrl) await removePrevious(deps, me.id, row.previousAvatar);
  await audit(deps, meta, "profile_updated", "success", me.id, {
    full_name: fullName !== undefined,
    avatar: newKeys.length > 0,
    ...(input.locale !== undefined ? { locale: input.locale } : {}),
  });
  return { user: row.user, ...(avatarSizes ? { avatarSizes } : {}) };
}

/** S3 answered this write with an error (502): nothing was stored under its key. */
const refused = (p: PromiseSettledResult<void>) => p.status === "rejected" && (p.reason as { code?: string })?.code === "storage_error";

/**
 * Delete the replaced avatar, every size of it, but only if its key is in the exact pattern this
 * service writes for this user (src/storage/avatar-keys.ts). A value written by the old service
 * or pointing into another user's folder is left alone, and logged.
 */
async function removePrevious(deps: Deps, userId: string, previous: string) {
  const key = deps.storage.keyFromUrl(previous);
  const own = ownAvatarKey(key, userId);
  if (!key || !own) {
    deps.log("warn", "replaced avatar left in place: not an object this service wrote for this user", {
      userId,
      reason: key ? "foreign_key" : "not_in_bucket",
    });
    return;
  }
  const ext = key.slice(key.lastIndexOf(".") + 1);
  // Sizes no longer configured are left to the purge's sweep (it deletes unreferenced uploads).
  const family =
    own.size === null ? [key] : [...new Set([key, ...deps.config.AVATAR_SIZES.map((s) => variantKey(userId, own.uploadId, s, ext))])];
  await removeAllQuietly(deps, family, "previous avatar");
}

/** Two tries a second apart, each bounded by S3_TIMEOUT; logged if both fail (the purge sweeps them). */
async function removeWithRetry(deps: Deps, keys: string[]) {
  let left = keys;
  for (let attempt = 1; left.length && attempt <= 2; attempt++) {
    if (attempt > 1) await new Promise((r) => setTimeout(r, 1000));
    const results = await Promise.allSettled(left.map((k) => deps.storage.delete(k)));
    left = left.filter((_, i) => results[i].status === "rejected");
  }
  if (left.length) deps.log("warn", "could not delete the objects of a failed avatar upload; the purge will", { objects: left });
}

async function removeAllQuietly(deps: Deps, keys: string[], what: string) {
  await Promise.all(keys.map((k) => removeQuietly(deps, k, what)));
}

/**
 * One statement: lock the row, read the name and avatar being replaced and write the new values,
 * so of two concurrent uploads each deletes exactly the object it replaced; in its transaction,
 * the `user.updated` event naming the fields whose value changed (none: no event).
 */
async function saveProfile(deps: Deps, userId: string, change: { fullName?: string; avatar?: string; locale?: Locale }) {
  return deps.db.transaction(async (tx) => {
    const before = tx.$with("before").as(
      tx
        .select({
          id: users.id,
          previousAvatar: sql<string | null>`${users.avatar}`.as("previous_avatar"),
          previousName: sql<string>`${users.fullName}`.as("previous_name"),
          previousLocale: sql<string | null>`${users.locale}`.as("previous_locale"),
        })
        .from(users)
        .where(eq(users.id, userId))
        .for("update"),
    );
    const [row] = await tx
      .with(before)
      .update(users)
      .set({
        ...(change.fullName !== undefined ? { fullName: change.fullName } : {}),
        ...(change.avatar !== undefined ? { avatar: change.avatar } : {}),
        ...(change.locale !== undefined ? { locale: change.locale } : {}),
      })
      .from(before)
      .where(eq(users.id, before.id))
      .returning({
        id: users.id,
        fullName: users.fullName,
        email: users.email,
        role: users.role,
        avatar: users.avatar,
        emailVerifiedAt: users.emailVerifiedAt,
        requestedRole: users.requestedRole,
        locale: users.locale,
        previousAvatar: before.previousAvatar,
        previousName: before.previousName,
        previousLocale: before.previousLocale,
      });
    if (!row) return undefined;
    const { previousAvatar, previousName, previousLocale, ...user } = row;
    const fields: UserField[] = [
      ...(user.fullName !== previousName ? (["full_name"] as const) : []),
      ...(user.avatar !== previousAvatar ? (["avatar"] as const) : []),
      ...(user.locale !== previousLocale ? (["locale"] as const) : []),
    ];
    if (fields.length) await recordEvent(tx, event("user.updated", { userId, actor: self(userId), at: deps.now(), data: { fields } }));
    return { user: publicUser(user), previousAvatar };
  });
}

/** Deleting an object is best effort: a failure is logged, never fails the request. */
async function removeQuietly(deps: Deps, key: string, what: string) {
  try {
    await deps.storage.delete(key);
  } catch (err) {
    deps.log("warn", `could not delete ${what}`, { object: key, ...describeError(err) });
  }
}
