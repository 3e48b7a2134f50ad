import postgres from "postgres";
import { inject } from "vitest";

/** A direct connection to the test database, for assertions on rows. End it with `.end()`. */
export function db() {
  return postgres(inject("dbUrl"), { max: 1, fetch_types: false, onnotice: () => {} });
}

/** Runs `fn` with a direct connection and closes it. */
export async function withDb<T>(fn: (sql: postgres.Sql) => Promise<T>): Promise<T> {
  const sql = db();
  try {
    return await fn(sql);
  } finally {
    await sql.end();
  }
}

/** A user's audit rows, oldest first. */
export const auditRows = (userId: string) =>
  withDb(
    (sql) => sql`select id, event, outcome, user_id, ip, user_agent, request_id, at, detail
                 from auth_audit_events where user_id = ${userId} order by id`,
  );

/** The users row of an id (every column). */
export const userRow = (id: string) => withDb(async (sql) => (await sql`select * from users where id = ${id}`)[0]);

/**
 * Waits until `count` backends are blocked on a lock while running a statement that matches
 * `pattern` (ILIKE), as seen in pg_stat_activity: a race made deterministic by observing it,
 * never by sleeping a guessed time. Gives up after `timeoutMs`.
 */
export async function untilBlocked(sql: postgres.Sql, pattern: string, count = 1, timeoutMs = 20_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const [{ n }] = await sql`select count(*)::int as n from pg_stat_activity
                               where wait_event_type = 'Lock' and query ilike ${pattern}`;
    if (n >= count) return;
    if (Date.now() > until) throw new Error(`no statement like ${pattern} became blocked on a lock`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Every row of every table, as text, one line each: to search for what must never be stored. */
export const dumpDatabase = () =>
  withDb(async (sql) => {
    const tables = await sql<{ name: string }[]>`
      select table_name as name from information_schema.tables where table_schema = 'public' and table_type = 'BASE TABLE'`;
    const lines: string[] = [];
    for (const { name } of tables) {
      for (const r of await sql<{ row: string }[]>`select t::text as row from ${sql(name)} t`) lines.push(`${name}: ${r.row}`);
    }
    return lines.join("\n");
  });
