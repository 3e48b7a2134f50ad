import { and, isNotNull, lt, or, sql } from "drizzle-orm";
import { passwordResetCodes, refreshTokens, sessions, throttles } from "../db/schema";
import type { Deps } from "../deps";

/**
 * Housekeeping run by the cron trigger: delete ended sessions (revoked, or past their absolute
 * or idle expiry; their refresh tokens go with them), consumed refresh tokens older than the
 * idle lifetime, dead reset codes, and throttle rows idle for longer than any delay they hold.
 * Live sessions, live tokens and active throttles are kept.
 */
export async function purgeExpired(deps: Deps) {
  const now = deps.now();
  const idleCutoff = new Date(now.getTime() - deps.config.refresh.idleTtl * 1000);
  const endedSessions = await deps.db
    .delete(sessions)
    .where(or(isNotNull(sessions.revokedAt), lt(sessions.expiresAt, now), lt(sessions.idleExpiresAt, now)))
    .returning({ id: sessions.id });
  const consumedTokens = await deps.db
    .delete(refreshTokens)
    .where(and(isNotNull(refreshTokens.consumedAt), lt(refreshTokens.consumedAt, idleCutoff)))
    .returning({ id: refreshTokens.id });
  const resetCodes = await deps.db
    .delete(passwordResetCodes)
    .where(or(isNotNull(passwordResetCodes.consumedAt), lt(passwordResetCodes.expiresAt, now)))
    .returning({ id: passwordResetCodes.id });
  const staleThrottles = await deps.db
    .delete(throttles)
    .where(
      and(
        lt(throttles.lastAt, new Date(now.getTime() - 24 * 3600 * 1000)),
        or(sql`${throttles.blockedUntil} is null`, lt(throttles.blockedUntil, now)),
        lt(throttles.failures, deps.config.throttle.lockoutFailures),
      ),
    )
    .returning({ key: throttles.key });
  return {
    sessions: endedSessions.length,
    refreshTokens: consumedTokens.length,
    resetCodes: resetCodes.length,
    throttles: staleThrottles.length,
  };
}
