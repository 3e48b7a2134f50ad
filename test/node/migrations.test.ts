import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPostgres } from "../../scripts/stack/postgres.ts";

const ROOT = path.resolve(__dirname, "../..");
const migrate = (url: string) => execFileSync(process.execPath, [path.join(ROOT, "scripts/ops/migrate.ts"), url], { encoding: "utf8" });

let pg: Awaited<ReturnType<typeof startPostgres>>;
let dir: string;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "auth-migrations-"));
  pg = await startPostgres({ dataDir: path.join(dir, "data"), persistent: false, database: "postgres" });
});
afterAll(async () => {
  await pg?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function freshDb(name: string) {
  const admin = postgres(pg.url, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database "${name}"`);
  await admin.end();
  return pg.url.replace(/\/postgres$/, `/${name}`);
}

describe("migrations", () => {
  it("apply cleanly to an empty database, and again as a no-op", async () => {
    const url = await freshDb("empty_db");
    migrate(url);
    migrate(url);
    const sql = postgres(url, { max: 1, onnotice: () => {} });
    const tables = await sql`select table_name from information_schema.tables where table_schema = 'public' order by 1`;
    const cols =
      await sql`select column_name, data_type, is_nullable from information_schema.columns where table_name = 'users' order by ordinal_position`;
    await sql.end();
    expect(tables.map((t) => t.table_name)).toEqual(
      expect.arrayContaining([
        "users",
        "auth_sessions",
        "auth_refresh_tokens",
        "auth_one_time_codes",
        "auth_throttles",
        "auth_audit_events",
      ]),
    );
    expect(cols.slice(0, 7).map((c) => c.column_name)).toEqual(["id", "full_name", "email", "password", "role", "avatar", "created_at"]);
  });

  it("apply onto a pre-existing users table with rows and keep every row", async () => {
    const url = await freshDb("legacy_db");
    const sql = postgres(url, { max: 1, onnotice: () => {} });
    // The table as the Django service created it.
    await sql.unsafe(`
      create table users (
        id uuid primary key,
        full_name varchar(100) not null,
        email varchar(255) unique not null,
        password text not null,
        role text not null,
        avatar text null,
        created_at timestamptz default now()
      )`);
    const rows = Array.from({ length: 25 }, (_, i) => ({
      id: crypto.randomUUID(),
      full_name: `Legacy ${i}`,
      email: `Legacy.${i}@Example.com`,
      password: `pbkdf2_sha256$720000$salt${i}$aGFzaA==`,
      role: i % 3 === 0 ? "instructor" : "student",
      avatar: i % 2 ? `https://bucket.s3.amazonaws.com/avatars/legacy${i}.png` : null,
      created_at: new Date(Date.UTC(2023, 0, i + 1)),
    }));
    await sql`insert into users ${sql(rows)}`;
    const before = await sql`select * from users order by id`;

    const out = migrate(url);
    expect(out).toMatch(/migrations applied/);
    const after = await sql`select id, full_name, email, password, role, avatar, created_at from users order by id`;
    expect(after).toEqual(before);
    const added = await sql`select email_verified_at, password_changed_at from users limit 1`;
    expect(added[0]).toEqual({ email_verified_at: null, password_changed_at: null });
    // the case-insensitive unique index now guards the existing rows
    await expect(
      sql`insert into users (id, full_name, email, password, role) values (${crypto.randomUUID()}, 'Dup', 'legacy.1@example.com', 'x', 'student')`,
    ).rejects.toThrow(/users_email_lower_key/);
    migrate(url); // idempotent
    expect((await sql`select count(*)::int as n from users`)[0].n).toBe(25);
    await sql.end();
  });
});
