import { and, eq, isNotNull, lt, or, sql } from "drizzle-orm";
import { mfaChallenges, mfaFactors, oneTimeCodes, refreshTokens, sessions, throttles } from "../db/schema";
import type { Deps } from "../deps";

/**
 * Housekeeping run by the cron trigger: delete ended sessions (revoked, or past their absolute
 * or idle expiry; their refresh tokens go with them), consumed refresh tokens older than the
 * idle lifetime, dead one-time codes, used or expired MFA challenges, enrollments never confirmed
 * within a day, and throttle rows idle for longer than any delay they hold.
 * Live sessions, live tokens and active throttles are kept.
 */
export async function purgeExpired(deps: Deps) {
  const now = deps.now();
  const idleCutoff = new Date(now.getTime() - deps.config.REFRESH_IDLE_TTL * 1000);
  const endedSessions = await deps.db
    .delete(sessions)
    .where(or(isNotNull(sessions.revokedAt), lt(sessions.expiresAt, now), lt(sessions.idleExpiresAt, now)))
    .returning({ id: sessions.id });
  const consumedTokens = await deps.db
    .delete(refreshTokens)
    .where(and(isNotNull(refreshTokens.consumedAt), lt(refreshTokens.consumedAt, idleCutoff)))
    .returning({ id: refreshTokens.id });
  // Every purpose: a code is dead once used or expired.
  const codes = await deps.db
    .delete(oneTimeCodes)
    .where(or(isNotNull(oneTimeCodes.consumedAt), lt(oneTimeCodes.expiresAt, now)))
    .returning({ id: oneTimeCodes.id });
  const staleThrottles = await deps.db
    .delete(throttles)
    .where(
      and(
        lt(throttles.lastAt, new Date(now.getTime() - 24 * 3600 * 1000)),
        or(sql`${throttles.blockedUntil} is null`, lt(throttles.blockedUntil, now)),
        // A locked login stays locked until a reset clears it; every other key only expires.
        or(sql`${throttles.key} not like 'login:%'`, lt(throttles.failures, deps.config.LOGIN_LOCKOUT_FAILURES)),
      ),
    )
    .returning({ key: throttles.key });
  const challenges = await deps.db
    .delete(mfaChallenges)
    .where(or(isNotNull(mfaChallenges.consumedAt), lt(mfaChallenges.expiresAt, now)))
    .returning({ id: mfaChallenges.id });
  const abandoned = await deps.db
    .delete(mfaFactors)
    .where(and(eq(mfaFactors.status, "pending"), lt(mfaFactors.createdAt, new Date(now.getTime() - 24 * 3600 * 1000))))
    .returning({ id: mfaFactors.id });
  return {
    sessions: endedSessions.length,
    mfaChallenges: challenges.length,
    pendingFactors: abandoned.length,
    refreshTokens: consumedTokens.length,
    codes: codes.length,
    throttles: staleThrottles.length,
  };
}
