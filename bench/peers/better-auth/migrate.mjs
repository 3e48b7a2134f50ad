// better-auth's own migrator (getMigrations from better-auth/db/migration, what
// `@better-auth/cli migrate` runs) for the peer's schema, in Node, with the Worker's options
// (auth-options.mjs), against a PostgreSQL URL. Idempotent: a second run finds nothing to do.
import { getMigrations } from "better-auth/db/migration";
import pg from "pg";
import { authOptions } from "./auth-options.mjs";

/**
 * Create or complete better-auth's tables in the database of `dbUrl`.
 * @returns {Promise<{ created: string[], added: string[] }>} tables created, tables given new columns
 */
export async function migratePeer(dbUrl) {
  const pool = new pg.Pool({ connectionString: dbUrl, max: 1 });
  try {
    // The secret and base URL play no part in the schema; given so that better-auth does not warn.
    const options = authOptions({ pool, secret: "migrate-only-0000000000000000000000000000000000", baseURL: "http://127.0.0.1" });
    const { toBeCreated, toBeAdded, runMigrations } = await getMigrations(options);
    await runMigrations();
    return { created: toBeCreated.map((t) => t.table), added: toBeAdded.map((t) => t.table) };
  } finally {
    await pool.end();
  }
}
