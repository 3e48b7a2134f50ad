import { describe, expect, it } from "vitest";
import { DAY, fakeClock } from "../support/clock";
import { withDb } from "../support/db";
import { recordStatements, runScheduled } from "../support/worker";

/** AUDIT_RETENTION: the purge deletes older audit rows in bounded batches and keeps the newer ones. */
describe("audit retention", () => {
  it("deletes rows older than AUDIT_RETENTION in batches of short statements and keeps the rest", async () => {
    const clock = fakeClock();
    const tag = crypto.randomUUID();
    const now = clock.now().getTime();
    // 12,000 rows just past a 30-day retention, 50 just inside it.
    await withDb(
      (sql) => sql`insert into auth_audit_events (at, event, outcome, request_id)
        select ${new Date(now - 30 * DAY)}::timestamptz - (i || ' seconds')::interval, 'login_failed', 'failure', ${tag}
          from generate_series(1, 12000) as i
        union all
        select ${new Date(now - 30 * DAY)}::timestamptz + (i || ' seconds')::interval, 'login_failed', 'failure', ${tag}
          from generate_series(1, 50) as i`,
    );
    const statements = await recordStatements(() => runScheduled({ now: clock.now, env: { AUDIT_RETENTION: "30d" } }));
    const left = await withDb((sql) => sql`select count(*)::int as n, min(at) as oldest from auth_audit_events where request_id = ${tag}`);
    expect(left[0].n).toBe(50);
    expect(left[0].oldest.getTime()).toBeGreaterThan(now - 30 * DAY);
    // Each batch is one statement bounded by its LIMIT: 12,000 old rows (and whatever older rows other
    // tests left) took at least three of them, none unbounded.
    const deletes = statements.filter((q) => /delete from "auth_audit_events"/i.test(q));
    expect(deletes.length).toBeGreaterThanOrEqual(3);
    for (const q of deletes) expect(q).toMatch(/limit \$\d+\)/i);
  });

  it("keeps everything within the default 400 days", async () => {
    const clock = fakeClock();
    const tag = crypto.randomUUID();
    await withDb(
      (sql) => sql`insert into auth_audit_events (at, event, outcome, request_id)
        values (${new Date(clock.now().getTime() - 399 * DAY)}, 'login_failed', 'failure', ${tag})`,
    );
    await runScheduled({ now: clock.now });
    const [{ n }] = await withDb((sql) => sql`select count(*)::int as n from auth_audit_events where request_id = ${tag}`);
    expect(n).toBe(1);
  });
});
