import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { adminAccount, adminCall } from "../../support/admin";
import { fakeClock } from "../../support/clock";
import { withDb } from "../../support/db";
import { json, recordQueries } from "../../support/worker";

/**
 * The admin list on a large table: with 100,000 accounts, every way of calling it is answered
 * through an index, never a sequential scan of users. Checked on the exact statement the Worker
 * sent (recorded with its parameters), with the plan Postgres makes for those values, which the
 * Worker asks for every time (plan_cache_mode = force_custom_plan in the list's transaction). A
 * search needs it: a generic plan cannot see how selective the search is and walks the order
 * index instead. Without a search, even a generic plan uses the filter's index.
 */
const RUN = crypto.randomUUID().slice(0, 8);
const BULK = 100_000;

type PlanNode = { "Node Type": string; "Relation Name"?: string; "Index Name"?: string; Plans?: PlanNode[] };
const nodes = (n: PlanNode): PlanNode[] => [n, ...(n.Plans ?? []).flatMap(nodes)];

async function plansOf(query: string, params: unknown[]) {
  return withDb(async (sql) => {
    const custom = await sql.unsafe(`explain (format json) ${query}`, params as never[]);
    // The plan a prepared statement can settle on after five runs: parameters unknown.
    const generic = await sql.unsafe(`explain (generic_plan, format json) ${query}`);
    return [custom, generic].map((rows) => nodes(rows[0]["QUERY PLAN"][0].Plan));
  });
}

beforeAll(async () => {
  await withDb(async (sql) => {
    await sql`insert into users (id, full_name, email, password, role, status, requested_role, created_at)
      select gen_random_uuid(),
             'Person ' || md5(i::text),
             ${`xp-${RUN}-`} || i || '@bulk.example',
             '!',
             case when i % 100 = 0 then 'admin' when i % 10 = 0 then 'instructor' else 'student' end,
             case when i % 500 = 0 then 'suspended' else 'active' end,
             case when i % 2000 = 0 then 'instructor' end,
             now() - i * interval '1 minute'
        from generate_series(1, ${BULK}) as i`;
    await sql`analyze users`;
  });
}, 300_000);

afterAll(async () => {
  await withDb(async (sql) => {
    await sql`delete from users where email like ${`xp-${RUN}-%`}`;
    await sql`analyze users`;
  });
}, 300_000);

describe("the admin user list on 100,000 accounts", () => {
  it("answers every filter and search through an index, planned for the values sent", async () => {
    const clock = fakeClock();
    const admin = await adminAccount(clock);
    const first = await json(await adminCall(`/users?q=xp-${RUN}-&limit=5`, admin.token, clock));
    expect(first.users).toHaveLength(5);
    const name = (await withDb((sql) => sql`select substr(md5('77777'), 4, 10) as part`))[0].part;
    const cases = [
      "",
      `?q=xp-${RUN}-4242`,
      `?q=${name}`,
      "?role=admin",
      "?status=suspended",
      "?requested_role=instructor",
      "?verified=true",
      "?verified=false",
      "?mfa=true",
      "?mfa=false",
      `?q=xp-${RUN}-&role=instructor&cursor=${first.next_cursor}`,
      `?cursor=${first.next_cursor}&limit=100`,
    ];
    for (const query of cases) {
      const recorded = await recordQueries(() => adminCall(`/users${query}`, admin.token, clock));
      const list = recorded.filter((q) => /from "users"/.test(q.query) && /order by/i.test(q.query) && /limit/i.test(q.query));
      expect(list, query).toHaveLength(1);
      const at = recorded.indexOf(list[0]);
      expect(recorded[at - 1]?.query, query).toMatch(/^set local plan_cache_mode = force_custom_plan$/);
      const [custom, generic] = await plansOf(list[0].query, list[0].params);
      for (const [kind, plan] of Object.entries({ custom, ...(query.includes("q=") ? {} : { generic }) })) {
        const where = `${query || "(no filter)"} ${kind} plan`;
        const onUsers = plan.filter((n) => n["Relation Name"] === "users" || n["Index Name"]?.startsWith("users_"));
        expect(
          onUsers.filter((n) => n["Node Type"] === "Seq Scan"),
          where,
        ).toEqual([]);
        const indexes = onUsers.filter((n) => /Index/.test(n["Node Type"])).map((n) => n["Index Name"]);
        expect(indexes.length, where).toBeGreaterThan(0);
        // mfa=true may start from the few accounts with a factor (auth_mfa_factors) and read each by its key.
        const allowed = query.includes("mfa=true") ? /^users_(admin_|pkey$)/ : /^users_(admin_|email_prefix|full_name_trgm)/;
        expect(
          indexes.every((ix) => allowed.test(ix ?? "")),
          `${where}: ${indexes}`,
        ).toBe(true);
        // A search goes straight to the rows it matches (bitmap scans of its indexes).
        if (query.includes("q=") && !query.includes("role="))
          expect(indexes.sort(), where).toEqual(["users_email_prefix_idx", "users_full_name_trgm_idx"]);
      }
    }
    // The name search finds the one account, by a part of its name.
    const found = await json(await adminCall(`/users?q=${name}`, admin.token, clock));
    expect(found.users.map((u: { email: string }) => u.email)).toEqual([`xp-${RUN}-77777@bulk.example`]);
  }, 120_000);
});
