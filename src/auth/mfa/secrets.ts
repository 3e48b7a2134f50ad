import { authSecret, type Config } from "../../config";
import { sealer } from "../../lib/seal";

/**
 * TOTP secrets at rest: sealed with AES-256-GCM under a key derived from AUTH_SECRET for this one
 * purpose (src/lib/seal.ts), bound to their user, so a row copied onto another account does not
 * decrypt.
 */
const totp = sealer({ salt: "edge-auth-api/mfa", info: "edge-auth-api mfa totp-secret aes-256-gcm v1" });

const boundTo = (userId: string) => `totp:${userId}`;

export const encryptSecret = (config: Config, userId: string, secret: Uint8Array): Promise<string> =>
  totp.seal(authSecret(config), boundTo(userId), secret);

/** The secret of a stored value; throws if it was altered, moved to another user or sealed under another key. */
export const decryptSecret = (config: Config, userId: string, stored: string): Promise<Uint8Array> =>
  totp.open(authSecret(config), boundTo(userId), stored);
