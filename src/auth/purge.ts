import { and, getTableName, inArray, isNotNull, lt, or, sql } from "drizzle-orm";
import type { PgTable } from "drizzle-orm/pg-core";
import { UNCACHED } from "../db/client";
import {
  oauthExchangeCodes,
  oauthStates,
  oauthUsedTokens,
  refreshTokens,
  serviceClients,
  throttles,
  turnstileTokens,
  users,
  webhookEndpoints,
} from "../db/schema";
import type { Deps, RequestMeta } from "../deps";
import { describeError } from "../log";
import { ownAvatarKey, parseAvatarKey } from "../storage/avatar-keys";
import { anonymiseDueAccounts } from "./account/deletion";
import { OWNED_DATA } from "./account/owned-data";
import { purgeRevokedClients } from "./services/clients";

/**
 * Tables of transient state that belong to no account (no `user_id`), with what is dead in them.
 * Together with the owned-data registry (src/auth/account/owned-data.ts) this is every table the
 * purge touches; a test checks that every table of the schema is in one list or the other.
 */
export const TRANSIENT_DATA: readonly { table: PgTable; purge: (deps: Deps, now: Date) => Promise<number> }[] = [
  {
    // Consumed refresh tokens older than the idle lifetime (reuse detection needs them until then).
    table: refreshTokens,
    purge: async (deps, now) =>
      (
        await deps.db
          .delete(refreshTokens)
          .where(
            and(
              isNotNull(refreshTokens.consumedAt),
              lt(refreshTokens.consumedAt, new Date(now.getTime() - deps.config.REFRESH_IDLE_TTL * 1000)),
            ),
          )
          .returning({ id: refreshTokens.id })
      ).length,
  },
  {
    // Idle for longer than any delay they hold. A locked login stays locked until a reset clears it.
    table: throttles,
    purge: async (deps, now) =>
      (
        await deps.db
          .delete(throttles)
          .where(
            and(
              lt(throttles.lastAt, new Date(now.getTime() - 24 * 3600 * 1000)),
              or(sql`${throttles.blockedUntil} is null`, lt(throttles.blockedUntil, now)),
              or(sql`${throttles.key} not like 'login:%'`, lt(throttles.failures, deps.config.LOGIN_LOCKOUT_FAILURES)),
            ),
          )
          .returning({ key: throttles.key })
      ).length,
  },
  {
    // Social sign-in: a used state or exchange code is deleted at once; these never came back.
    table: oauthStates,
    purge: async (deps, now) =>
      (await deps.db.delete(oauthStates).where(lt(oauthStates.expiresAt, now)).returning({ h: oauthStates.stateHash })).length,
  },
  {
    // Claimed Turnstile tokens past any token's lifetime (src/auth/bot-defence/turnstile.ts).
    table: turnstileTokens,
    purge: async (deps, now) =>
      (await deps.db.delete(turnstileTokens).where(lt(turnstileTokens.expiresAt, now)).returning({ h: turnstileTokens.tokenHash })).length,
  },
  {
    table: oauthExchangeCodes,
    purge: async (deps, now) =>
      (await deps.db.delete(oauthExchangeCodes).where(lt(oauthExchangeCodes.expiresAt, now)).returning({ h: oauthExchangeCodes.codeHash }))
        .length,
  },
  {
    // Native ID tokens accepted once (src/auth/oauth/replay.ts): once a token has expired it is refused anyway.
    table: oauthUsedTokens,
    purge: async (deps, now) =>
      (await deps.db.delete(oauthUsedTokens).where(lt(oauthUsedTokens.expiresAt, now)).returning({ k: oauthUsedTokens.key })).length,
  },
  {
    // Service clients revoked 90 days ago (live ones are configuration, never purged).
    table: serviceClients,
    purge: purgeRevokedClients,
  },
  {
    // Webhook endpoints are configuration: an administrator deletes them (their deliveries go with
    // their events, src/auth/account/owned-data.ts). Nothing here dies by age.
    table: webhookEndpoints,
    purge: async () => 0,
  },
];

/**
 * Housekeeping run by the cron trigger: the dead rows of every table that has any (each table's
 * rule is declared with it: ended sessions, dead codes, used challenges, abandoned enrollments,
 * audit rows past AUDIT_RETENTION, consumed refresh tokens, idle throttles, expired social sign-in
 * states...). Then anonymises accounts whose deletion grace period is over
 * (src/auth/account/deletion.ts) and sweeps avatar objects nobody references
 * (sweepOrphanAvatars). A fault in one step is logged and does not stop the others.
 */
export async function purgeExpired(deps: Deps, meta: RequestMeta) {
  const now = deps.now();
  const counts: Record<string, number> = {};
  const step = async (name: string, run: () => Promise<number>) => {
    try {
      counts[name] = await run();
    } catch (err) {
      deps.log("error", "purge step failed; retried next run", { step: name, ...describeError(err) });
    }
  };
  for (const d of [...OWNED_DATA, ...TRANSIENT_DATA]) {
    const purge = d.purge;
    if (purge) await step(getTableName(d.table), () => purge(deps, now));
  }
  await step("anonymised", () => anonymiseDueAccounts(deps, meta));
  await step("orphan_avatars", () => sweepOrphanAvatars(deps));
  return counts;
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
async function sweepOrphanAvatars(deps: Deps): Promise<number> {
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
