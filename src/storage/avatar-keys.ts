/**
 * The keys this service writes, and the only ones it ever deletes:
 *   avatars/<user id>/<upload id>-<size>.<ext>   one object per standard size (current scheme)
 *   avatars/<user id>/<upload id>.<ext>          one object per upload (before re-encoding)
 * <upload id> is 128 random bits in hex, so keys are unguessable and never reused. Anything else
 * in the bucket or in users.avatar (the old service's `avatars/<email>_avatar.png`, another
 * user's folder) is not ours to delete.
 */
import { hex, randomBytes } from "../lib/encoding";

const UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}";
const OWN_KEY = new RegExp(`^avatars/(${UUID})/([0-9a-f]{32})(?:-([1-9][0-9]{0,3}))?\\.(webp|jpg|png)$`);

export interface AvatarKey {
  userId: string;
  uploadId: string;
  size: number | null;
}

export const newUploadId = () => hex(randomBytes(16));

export const avatarPrefix = (userId: string) => `avatars/${userId}/`;

export const variantKey = (userId: string, uploadId: string, size: number, ext: string) => `avatars/${userId}/${uploadId}-${size}.${ext}`;

/** The parts of a key in this service's exact pattern, or null for any other key. */
export function parseAvatarKey(key: string): AvatarKey | null {
  const m = OWN_KEY.exec(key);
  return m ? { userId: m[1], uploadId: m[2], size: m[3] ? Number(m[3]) : null } : null;
}

/** A key this service wrote for this user (never another user's folder). */
export function ownAvatarKey(key: string | null, userId: string): AvatarKey | null {
  const parsed = key ? parseAvatarKey(key) : null;
  return parsed && parsed.userId === userId.toLowerCase() ? parsed : null;
}
