import { and, eq, inArray, isNotNull, lt, or, sql } from "drizzle-orm";
import { UNCACHED } from "../db/client";
import {
  auditEvents,
  mfaChallenges,
  mfaFactors,
  oauthExchangeCodes,
  oauthStates,
  oauthUsedTokens,
  oneTimeCodes,
  refreshTokens,
  sessions,
  throttles,
  users,
} from "../db/schema";
import type { Deps, RequestMeta } from "../deps";
import { describeError } from "../log";
import { ownAvatarKey, parseAvatarKey } from "../storage/avatar-keys";
import { anonymiseDueAccounts } from "./account-deletion";

/**
 * Housekeeping run by the cron trigger: delete ended sessions (revoked, or past their absolute
 * or idle expiry; their refresh tokens go with them), consumed refresh tokens older than the
 * idle lifetime, dead one-time codes, used or expired MFA challenges, enrollments never confirmed
 * within a day, throttle rows idle for longer than any delay they hold, and expired social
 * sign-in states, exchange codes and records of used ID tokens. Live sessions, live tokens and active throttles are kept.
 * Then anonymises accounts whose deletion grace period is over (src/auth/account-deletion.ts),
 * deletes audit rows past AUDIT_RETENTION, and sweeps avatar objects nobody references
 * (sweepOrphanAvatars); a storage fault there is logged and does not fail the purge.
 */
export async function purgeExpired(deps: Deps, meta: RequestMeta) {
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
  // Social sign-in: a used state or exchange code is deleted at once; these never came back.
  const oauthStatesGone = await deps.db.delete(oauthStates).where(lt(oauthStates.expiresAt, now)).returning({ h: oauthStates.stateHash });
  const exchangeGone = await deps.db
    .delete(oauthExchangeCodes)
    .where(lt(oauthExchangeCodes.expiresAt, now))
    .returning({ h: oauthExchangeCodes.codeHash });
  // Native ID tokens accepted once: once a token has expired it is refused anyway.
  const usedTokensGone = await deps.db
    .delete(oauthUsedTokens)
    .where(lt(oauthUsedTokens.expiresAt, now))
    .returning({ k: oauthUsedTokens.key });
  let anonymised = 0;
  try {
    anonymised = await anonymiseDueAccounts(deps, meta);
  } catch (err) {
    deps.log("error", "anonymisation failed", describeError(err));
  }
  const auditRows = await purgeOldAudit(deps);
  let orphanAvatars = 0;
  try {
    orphanAvatars = await sweepOrphanAvatars(deps);
  } catch (err) {
    deps.log("error", "avatar sweep failed", describeError(err));
  }
  return {
    anonymised,
    auditRows,
    sessions: endedSessions.length,
    mfaChallenges: challenges.length,
    pendingFactors: abandoned.length,
    refreshTokens: consumedTokens.length,
    codes: codes.length,
    throttles: staleThrottles.length,
    oauthStates: oauthStatesGone.length,
    oauthExchangeCodes: exchangeGone.length,
    oauthUsedTokens: usedTokensGone.length,
    orphanAvatars,
  };
}

/**
 * AUDIT_RETENTION: audit rows older than it are deleted in batches of AUDIT_PURGE_BATCH, each its
 * own short statement (row locks only, nothing waits on it for long), at most AUDIT_PURGE_BATCHES
 * per run; a backlog (the first run after a deploy, say) shrinks by that much per run. 500,000
 * rows an hour keeps up with several million audit rows a day.
 */
const AUDIT_PURGE_BATCH = 5000;
const AUDIT_PURGE_BATCHES = 100;

export async function purgeOldAudit(deps: Deps): Promise<number> {
  const cutoff = new Date(deps.now().getTime() - deps.config.AUDIT_RETENTION * 1000);
  const e = auditEvents;
  let deleted = 0;
  for (let batch = 1; ; batch++) {
    const rows = await deps.db.execute<{ id: number }>(sql`
      delete from ${e} where ${e.id} in (select id from ${e} where ${e.at} < ${cutoff.toISOString()}::timestamptz limit ${AUDIT_PURGE_BATCH})
      returning ${e.id}`);
    deleted += rows.length;
    if (rows.length < AUDIT_PURGE_BATCH) break;
    if (batch >= AUDIT_PURGE_BATCHES) {
      deps.log("warn", "audit retention stopped after its batch budget; the rest waits for the next run", { deleted });
      break;
    }
  }
  return deleted;
}

/**
 * Budget of one run (a cron invocation has a subrequest limit): pages of 1000 keys listed and
 * objects deleted. What is left waits for the next run (logged).
 */
const SWEEP_MAX_PAGES = 100;
const SWEEP_MAX_DELETES = 500;

/**
 * Delete this service's avatar objects (exact key pattern, src/storage/avatar-keys.ts) older than
 * AVATAR_ORPHAN_MIN_AGE that their user's row does not reference: uploads whose outcome was
 * unknown (a PUT that landed after the request gave up), replaced sizes whose delete failed, and
 * avatars of deleted users. The age keeps it clear of uploads in flight, whose row is updated
 * right after their objects are written. Other keys are never touched.
 */
export async function sweepOrphanAvatars(deps: Deps): Promise<number> {
  const cutoff = deps.now().getTime() - deps.config.AVATAR_ORPHAN_MIN_AGE * 1000;
  let deleted = 0;
  let startAfter: string | undefined;
  for (let page = 1; ; page++) {
    const { objects, more } = await deps.storage.list("avatars/", startAfter);
    const old = objects.flatMap((o) => {
      const k = o.lastModified.getTime() < cutoff ? parseAvatarKey(o.key) : null;
      return k ? [{ key: o.key, ...k }] : [];
    });
    if (old.length) {
      const ids = [...new Set(old.map((o) => o.userId))];
      // Decides what is deleted: read past Hyperdrive's cache.
      const rows = await deps.db.select({ id: users.id, avatar: users.avatar, fresh: UNCACHED }).from(users).where(inArray(users.id, ids));
      const current = new Map(rows.map((r) => [r.id, ownAvatarKey(r.avatar && deps.storage.keyFromUrl(r.avatar), r.id)?.uploadId]));
      for (const o of old) {
        if (current.get(o.userId) === o.uploadId) continue;
        if (deleted >= SWEEP_MAX_DELETES) {
          deps.log("warn", "avatar sweep stopped after its delete budget; the rest waits for the next run", { deleted });
          return deleted;
        }
        await deps.storage.delete(o.key);
        deleted++;
      }
    }
    if (!more) break;
    if (page >= SWEEP_MAX_PAGES) {
      deps.log("warn", "avatar sweep stopped after its page budget; the rest waits for the next run", { pages: page });
      break;
    }
    startAfter = objects[objects.length - 1].key;
  }
  if (deleted) deps.log("info", "swept unreferenced avatar objects", { count: deleted });
  return deleted;
}
