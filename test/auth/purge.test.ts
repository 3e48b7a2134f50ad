import { describe, expect, it } from "vitest";
import { sha256Hex } from "../../src/lib/encoding";
import { me, registerUser } from "../support/accounts";
import { DAY, MIN } from "../support/clock";
import { db } from "../support/db";
import { runScheduled } from "../support/worker";

describe("purge (scheduled handler)", () => {
  it("removes ended sessions, old consumed refresh tokens, dead reset codes and stale throttles, and nothing else", async () => {
    const u = await registerUser();
    const uid = u.user.id;
    const now = Date.now();
    const at = (ms: number) => new Date(now + ms);
    const sql = db();
    const sess = (name: string) => ({ name, id: crypto.randomUUID() });
    const live = sess("live"),
      revoked = sess("revoked"),
      expired = sess("expired"),
      idle = sess("idle");
    const mkSession = (id: string, o: { expires: number; idle: number; revoked?: number }) => sql`
      insert into auth_sessions (id, user_id, created_at, last_used_at, expires_at, idle_expires_at, revoked_at, revoked_reason, ip)
      values (${id}, ${uid}, ${at(-20 * DAY)}, ${at(-DAY)}, ${at(o.expires)}, ${at(o.idle)},
              ${o.revoked === undefined ? null : at(o.revoked)}, ${o.revoked === undefined ? null : "logout"}, '192.0.2.1')`;
    await mkSession(live.id, { expires: 10 * DAY, idle: 6 * DAY });
    await mkSession(revoked.id, { expires: 10 * DAY, idle: 6 * DAY, revoked: -MIN });
    await mkSession(expired.id, { expires: -MIN, idle: -2 * MIN });
    await mkSession(idle.id, { expires: 10 * DAY, idle: -MIN });

    const tok = async (name: string, sessionId: string, consumed: number | null) => {
      const id = crypto.randomUUID();
      await sql`insert into auth_refresh_tokens (id, session_id, token_hash, created_at, consumed_at)
        values (${id}, ${sessionId}, ${await sha256Hex(crypto.randomUUID())}, ${at(-20 * DAY)}, ${consumed === null ? null : at(consumed)})`;
      return { name, id };
    };
    const tokens = [
      await tok("live-unconsumed", live.id, null),
      await tok("live-consumed-recently", live.id, -6 * DAY),
      await tok("live-consumed-long-ago", live.id, -8 * DAY),
      await tok("revoked-session-token", revoked.id, null),
      await tok("expired-session-token", expired.id, null),
      await tok("idle-session-token", idle.id, -MIN),
    ];

    const code = async (name: string, expires: number, consumed: number | null) => {
      const id = crypto.randomUUID();
      await sql`insert into auth_one_time_codes (id, user_id, purpose, code_hash, created_at, expires_at, consumed_at)
        values (${id}, ${uid}, 'password_reset', ${`h-${id}`}, ${at(-5 * MIN)}, ${at(expires)}, ${consumed === null ? null : at(consumed)})`;
      return { name, id };
    };
    const codes = [await code("live", 5 * MIN, null), await code("expired", -MIN, null), await code("consumed", 5 * MIN, -MIN)];

    // Login throttle keys: a locked one stays until a reset clears it. Other keys only expire.
    const prefix = `login:purgetest-${crypto.randomUUID()}`;
    const throttle = async (name: string, o: { failures: number; last: number; blocked?: number }) => {
      await sql`insert into auth_throttles (key, failures, last_at, blocked_until)
        values (${`${prefix}:${name}`}, ${o.failures}, ${at(o.last)}, ${o.blocked === undefined ? null : at(o.blocked)})`;
    };
    await throttle("stale", { failures: 3, last: -25 * 3600_000 });
    await throttle("stale-block-over", { failures: 6, last: -25 * 3600_000, blocked: -24 * 3600_000 });
    await throttle("recent", { failures: 3, last: -3600_000 });
    await throttle("stale-but-blocked", { failures: 12, last: -25 * 3600_000, blocked: 3600_000 });
    await throttle("stale-locked", { failures: 100, last: -25 * 3600_000 });
    const otherKey = `otp-guess:purgetest-${crypto.randomUUID()}`;
    await sql`insert into auth_throttles (key, failures, last_at) values (${otherKey}, ${100}, ${at(-25 * 3600_000)})`;

    const registerSession = (
      await sql`select id from auth_sessions where user_id = ${uid} and id not in ${sql([live.id, revoked.id, expired.id, idle.id])}`
    )[0].id;
    const liveRowsBefore = {
      sessions: (
        await sql`select id from auth_sessions where revoked_at is null and expires_at > now() + interval '1 hour' and idle_expires_at > now() + interval '1 hour'`
      ).map((r) => r.id),
    };

    await runScheduled();

    const sessionsAfter = (await sql`select id from auth_sessions where user_id = ${uid}`).map((r) => r.id).sort();
    const tokenIds = (
      await sql`select t.id from auth_refresh_tokens t join auth_sessions s on s.id = t.session_id where s.user_id = ${uid}`
    ).map((r) => r.id);
    const codeIds = (await sql`select id from auth_one_time_codes where user_id = ${uid}`).map((r) => r.id);
    const throttleKeys = (await sql`select key from auth_throttles where key like ${`${prefix}:%`}`)
      .map((r) => r.key.slice(prefix.length + 1))
      .sort();
    const liveAfter = (await sql`select id from auth_sessions where id in ${sql(liveRowsBefore.sessions)}`).map((r) => r.id);
    const otherAfter = await sql`select key from auth_throttles where key = ${otherKey}`;
    await sql.end();

    expect(sessionsAfter).toEqual([live.id, registerSession].sort());
    const name = (ids: string[], rows: { name: string; id: string }[]) =>
      rows
        .filter((r) => ids.includes(r.id))
        .map((r) => r.name)
        .sort();
    // the register session's own refresh token stays too
    expect(tokenIds).toHaveLength(3);
    expect(name(tokenIds, tokens)).toEqual(["live-consumed-recently", "live-unconsumed"]);
    expect(name(codeIds, codes)).toEqual(["live"]);
    expect(throttleKeys).toEqual(["recent", "stale-but-blocked", "stale-locked"]);
    expect(otherAfter).toEqual([]);
    // no live session anywhere in the database was touched
    expect(liveAfter.sort()).toEqual([...liveRowsBefore.sessions].sort());
    // the user's live session still works
    expect(await me(u.access_token)).toBe(200);
  });
});
