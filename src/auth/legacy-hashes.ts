/**
 * Legacy password hashes written by the services this API replaces (Django pbkdf2_sha256,
 * bcrypt). Returns null when the string is not a legacy format at all.
 */
export interface LegacyResult {
  ok: boolean;
  malformed?: boolean;
  scheme: string;
}

export async function verifyLegacyHash(_password: string, _stored: string): Promise<LegacyResult | null> {
  return null;
}
