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
