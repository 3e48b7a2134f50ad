import { eq, sql } from "drizzle-orm";
import { users } from "../db/schema";
import type { Deps, RequestMeta } from "../deps";
import { apiError, validationError } from "../errors";
import { describeError } from "../log";
import { sniffImage } from "../storage/sniff";
import { audit } from "./audit";
import { hex, randomBytes } from "./encoding";
import type { Authenticated } from "./sessions";
import { normalizeEmail, type PublicUser, publicUser } from "./users";

export interface ProfileInput {
  fullName?: string;
  avatar?: { bytes: Uint8Array };
  /** Sent by the existing web client; must be the caller's own email, never selects the user. */
  email?: string;
}

export const tooLarge = (maxBytes: number) =>
  apiError("payload_too_large", { message: `The avatar must be at most ${formatBytes(maxBytes)}.` });

const formatBytes = (n: number) =>
  n % (1024 * 1024) === 0 ? `${n / (1024 * 1024)} MiB` : n % 1024 === 0 ? `${n / 1024} KiB` : `${n} bytes`;

/** `avatars/<user id>/<random 128-bit hex>.<ext>`: unique per upload, unguessable. */
export const avatarKey = (userId: string, ext: string) => `avatars/${userId}/${hex(randomBytes(16))}.${ext}`;

/**
 * Change the caller's name and/or avatar. The user comes from the token only. An avatar's type
 * is decided by its bytes; it is stored under a fresh key before the row changes, removed again
 * if the row cannot be updated, and the replaced avatar's object is deleted afterwards.
 */
export async function updateProfile(deps: Deps, meta: RequestMeta, auth: Authenticated, input: ProfileInput): Promise<PublicUser> {
  const me = auth.user;
  if (input.email !== undefined && normalizeEmail(input.email) !== normalizeEmail(me.email)) {
    await audit(deps, meta, "profile_updated", "blocked", me.id, { reason: "email_mismatch" });
    throw apiError("email_mismatch");
  }
  const fullName = input.fullName?.trim();
  if (fullName !== undefined && (fullName.length < 1 || fullName.length > 100))
    throw validationError([{ path: "full_name", message: "Full name must be 1 to 100 characters." }]);
  if (fullName === undefined && !input.avatar) throw validationError([{ path: "(body)", message: "Send full_name, avatar or both." }]);

  let newKey: string | undefined;
  let avatarUrl: string | undefined;
  if (input.avatar) {
    const { bytes } = input.avatar;
    const max = deps.config.AVATAR_MAX_BYTES;
    if (bytes.byteLength > max) throw tooLarge(max);
    const type = sniffImage(bytes);
    if (!type) throw apiError("unsupported_image_type");
    newKey = avatarKey(me.id, type.ext);
    await deps.storage.put(newKey, bytes, type.mime);
    avatarUrl = deps.storage.publicUrl(newKey);
  }

  let row: { user: PublicUser; previousAvatar: string | null } | undefined;
  try {
    row = await saveProfile(deps, me.id, fullName, avatarUrl);
  } catch (err) {
    if (newKey) await removeQuietly(deps, newKey, "new avatar after a failed profile update");
    throw err;
  }
  if (!row) {
    if (newKey) await removeQuietly(deps, newKey, "new avatar of a deleted user");
    throw apiError("invalid_token");
  }

  if (newKey && row.previousAvatar && row.previousAvatar !== avatarUrl) {
    const oldKey = deps.storage.keyFromUrl(row.previousAvatar);
    if (oldKey && oldKey !== newKey) await removeQuietly(deps, oldKey, "previous avatar");
  }
  await audit(deps, meta, "profile_updated", "success", me.id, { full_name: fullName !== undefined, avatar: Boolean(newKey) });
  return row.user;
}

/**
 * One statement: lock the row, read the avatar being replaced and write the new values, so of
 * two concurrent uploads each deletes exactly the object it replaced.
 */
async function saveProfile(deps: Deps, userId: string, fullName: string | undefined, avatar: string | undefined) {
  const before = deps.db.$with("before").as(
    deps.db
      .select({ id: users.id, previousAvatar: sql<string | null>`${users.avatar}`.as("previous_avatar") })
      .from(users)
      .where(eq(users.id, userId))
      .for("update"),
  );
  const [row] = await deps.db
    .with(before)
    .update(users)
    .set({ ...(fullName !== undefined ? { fullName } : {}), ...(avatar !== undefined ? { avatar } : {}) })
    .from(before)
    .where(eq(users.id, before.id))
    .returning({
      id: users.id,
      fullName: users.fullName,
      email: users.email,
      role: users.role,
      avatar: users.avatar,
      emailVerifiedAt: users.emailVerifiedAt,
      previousAvatar: before.previousAvatar,
    });
  if (!row) return undefined;
  const { previousAvatar, ...user } = row;
  return { user: publicUser(user), previousAvatar };
}

/** Deleting an object is best effort: a failure is logged, never fails the request. */
async function removeQuietly(deps: Deps, key: string, what: string) {
  try {
    await deps.storage.delete(key);
  } catch (err) {
    deps.log("warn", `could not delete ${what}`, { object: key, ...describeError(err) });
  }
}
