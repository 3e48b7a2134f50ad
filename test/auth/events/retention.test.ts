import { describe, expect, it } from "vitest";
import { registerUser } from "../../support/accounts";
import { DAY, fakeClock } from "../../support/clock";
import { withDb } from "../../support/db";
import { typesOf } from "../../support/events";
import { runScheduled } from "../../support/worker";

const maxPosition = async () => Number((await withDb((sql) => sql`select coalesce(max(position), 0)::bigint as p from auth_events`))[0].p);

/** EVENT_RETENTION_DAYS: the hourly purge deletes older events and keeps the newer ones. */
describe("event retention", () => {
  it("deletes events older than EVENT_RETENTION_DAYS (sequenced or not yet) and keeps the rest", async () => {
    const clock = fakeClock();
    const now = clock.now().getTime();
    const u = await registerUser({}, { now: clock.now });
    await withDb(
      (sql) => sql`insert into auth_events (id, type, at, user_id, actor_type, actor_id, data)
        select gen_random_uuid(), 'user.email_verified', ${new Date(now - 31 * DAY)}::timestamptz - (i || ' seconds')::interval,
               ${u.user.id}, 'self', ${u.user.id}, '{}'::jsonb
          from generate_series(1, 3) as i`,
    );
    expect(await typesOf(u.user.id)).toEqual(["user.created", "user.email_verified", "user.email_verified", "user.email_verified"]);
    await registerUser({}, { now: clock.now }); // a newer event (the newest is always kept)
    await runScheduled({ now: clock.now });
    expect(await typesOf(u.user.id)).toEqual(["user.created"]);
    // Shorter retention: the registration's event goes a few days later (a newer one exists: the newest stays).
    await registerUser({}, { now: clock.now });
    clock.advance(3 * DAY);
    await runScheduled({ now: clock.now, env: { EVENT_RETENTION_DAYS: "2" } });
    expect(await typesOf(u.user.id)).toEqual([]);
  });

  it("never deletes the newest event: positions go on from the largest ever given", async () => {
    // Other test files write and sequence events meanwhile: every check holds whatever they add.
    const clock = fakeClock();
    await registerUser({}, { now: clock.now });
    await runScheduled({ now: clock.now }); // sequences it
    const before = await maxPosition();
    clock.advance(400 * DAY);
    await runScheduled({ now: clock.now });
    // Everything is past the retention, but the newest stays: the largest position is never lost.
    expect(await maxPosition()).toBeGreaterThanOrEqual(before);
    const w = await registerUser();
    await runScheduled({ now: clock.now });
    const [{ p }] = await withDb((sql) => sql`select position::bigint as p from auth_events where user_id = ${w.user.id}`);
    expect(Number(p)).toBeGreaterThan(before);
  });
});
