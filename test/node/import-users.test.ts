import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPostgres } from "../../scripts/stack/postgres.ts";

// `npm run import-users` end to end: the real script in a child Node process, a real PostgreSQL.
const ROOT = path.resolve(__dirname, "../..");
const SCRIPT = path.join(ROOT, "scripts/ops/import-users.ts");
const JSON_DUMP = path.join(ROOT, "test/fixtures/users-dump.json");
const CSV_DUMP = path.join(ROOT, "test/fixtures/users-dump.csv");
const dumpJson: Array<Record<string, string | null>> = JSON.parse(fs.readFileSync(JSON_DUMP, "utf8"));

let pg: Awaited<ReturnType<typeof startPostgres>>;
let dir: string;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "auth-import-"));
  pg = await startPostgres({ dataDir: path.join(dir, "data"), persistent: false, database: "postgres" });
});
afterAll(async () => {
  await pg?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

const client = (url: string) => postgres(url, { max: 1, onnotice: () => {} });

async function freshDb(name: string, migrated = true) {
  const admin = client(pg.url);
  await admin.unsafe(`create database "${name}"`);
  await admin.end();
  const url = pg.url.replace(/\/postgres$/, `/${name}`);
  if (migrated) {
    const m = spawnSync(process.execPath, [path.join(ROOT, "scripts/ops/migrate.ts"), url], { encoding: "utf8" });
    expect(m.status, m.stderr).toBe(0);
  }
  return url;
}

function runImport(args: string[], env: Record<string, string> = {}) {
  const { DATABASE_URL: _ignored, ...base } = process.env;
  const r = spawnSync(process.execPath, [SCRIPT, ...args], { encoding: "utf8", env: { ...base, ...env } });
  const out = r.stdout + r.stderr;
  const count = (name: string) => Number(new RegExp(`^\\s*${name}:\\s+(\\d+)`, "m").exec(out)?.[1] ?? NaN);
  return { status: r.status, out, inserted: count("inserted"), skipped: count("skipped"), invalid: count("invalid") };
}

async function usersIn(url: string) {
  const sql = client(url);
  const rows = await sql`select id::text, full_name, email, password, role, avatar, created_at from users order by email`;
  await sql.end();
  return rows;
}

/** Nothing secret in the output: no hash (not even a part of one), no email. */
function expectNoSecrets(out: string, rows: Array<Record<string, unknown>>) {
  for (const r of rows) {
    const hash = String(r.password ?? "");
    if (hash.length > 12) expect(out).not.toContain(hash.slice(-12));
    if (hash) expect(out).not.toContain(hash);
    expect(out).not.toContain(
      String(r.email ?? "")
        .trim()
        .toLowerCase() || "\u0000",
    );
  }
}

describe("npm run import-users", () => {
  it("imports a JSON dump, reports invalid rows by number, and a second run inserts nothing", async () => {
    const url = await freshDb("from_json");
    const first = runImport([JSON_DUMP, "--database-url", url]);
    expect(first.status, first.out).toBe(1); // some rows were invalid; the valid ones are in
    expect([first.inserted, first.skipped, first.invalid]).toEqual([4, 1, 4]);
    expect(first.out).toMatch(/row 5: id: not a UUID/);
    expect(first.out).toMatch(/row 6: role: not student, instructor or admin/);
    expect(first.out).toMatch(/row 7: password: not a known hash format/);
    expect(first.out).toMatch(/row 8: full_name: missing; email: not an email address/);
    expectNoSecrets(first.out, dumpJson);

    const rows = await usersIn(url);
    expect(rows.map((r) => r.email)).toEqual(["ada@example.com", "alan.turing@example.com", "edsger@example.com", "grace@example.com"]);
    const byId = Object.fromEntries(rows.map((r) => [r.id, r]));
    for (const src of dumpJson.slice(0, 4)) {
      const row = byId[src.id!.toLowerCase()];
      expect(row, src.id!).toBeDefined();
      expect(row.password).toBe(src.password); // the hash exactly as it was
      expect(row.role).toBe(src.role);
      expect(row.full_name).toBe(src.full_name!.trim());
      expect(row.email).toBe(src.email!.trim().toLowerCase());
      expect(row.avatar).toBe(src.avatar || null);
      expect(row.created_at?.toISOString() ?? null).toBe(src.created_at ? new Date(src.created_at).toISOString() : null);
    }
    // Row 9 has Ada's email in upper case: skipped, Ada's row untouched.
    expect(byId["0b9a3f0e-1c2d-4e5f-8a9b-0c1d2e3f4a01"].full_name).toBe("Ada Lovelace");

    // Each imported account's user.created, for the services that follow the events (docs/services.md).
    const eventsIn = async () => {
      const db = postgres(url, { max: 1, onnotice: () => {} });
      try {
        return await db`select type, user_id::text, actor_type, actor_id, data from auth_events order by seq`;
      } finally {
        await db.end();
      }
    };
    const events = await eventsIn();
    expect(events.map((e) => e.user_id).sort()).toEqual(rows.map((r) => r.id).sort());
    for (const e of events)
      expect(e).toMatchObject({
        type: "user.created",
        actor_type: "system",
        actor_id: null,
        data: { method: "import", role: byId[e.user_id].role },
      });

    const second = runImport([JSON_DUMP], { DATABASE_URL: url }); // target from DATABASE_URL
    expect([second.inserted, second.skipped, second.invalid]).toEqual([0, 5, 4]);
    expect(await usersIn(url)).toEqual(rows);
    expect(await eventsIn()).toHaveLength(events.length);
  });

  it("imports a CSV dump (quotes, commas, newlines in fields) idempotently", async () => {
    const url = await freshDb("from_csv");
    const first = runImport([CSV_DUMP, "--database-url", url]);
    expect([first.inserted, first.skipped, first.invalid], first.out).toEqual([3, 1, 1]);
    expect(first.out).toMatch(/row 4: created_at: not a date/);
    const rows = await usersIn(url);
    expect(rows.map((r) => [r.email, r.full_name, r.role, r.avatar])).toEqual([
      ["kim.lee@example.com", "Kim\nLee", "instructor", null],
      ["pat@example.com", 'O"Brien, Pat', "student", "https://cdn.example.com/a,b.png"],
      ["zoe@example.com", "Zoë Ünal", "admin", null],
    ]);
    expect(rows[1].password).toMatch(/^pbkdf2_sha256\$720000\$/);
    expect(rows[1].created_at.toISOString()).toBe("2018-07-08T09:10:11.000Z");
    expectNoSecrets(first.out, rows);

    const second = runImport([CSV_DUMP, "--database-url", url]);
    expect([second.inserted, second.skipped, second.invalid]).toEqual([0, 4, 1]);
    expect(await usersIn(url)).toEqual(rows);
  });

  it("imports from another PostgreSQL users table, then again as a no-op", async () => {
    // The source as the replaced Django service left it (no columns of this service).
    const sourceUrl = await freshDb("legacy_source", false);
    const src = client(sourceUrl);
    await src.unsafe(`create table users (id uuid primary key, full_name varchar(100) not null, email varchar(255) unique not null,
      password text not null, role text not null, avatar text null, created_at timestamptz default now())`);
    for (const u of dumpJson.slice(0, 4))
      await src`insert into users ${src({ id: u.id!.toLowerCase(), full_name: u.full_name, email: u.email!.trim(), password: u.password, role: u.role, avatar: u.avatar ?? null, created_at: u.created_at ?? null })}`;
    await src.end();
    const url = await freshDb("from_pg");
    const first = runImport([sourceUrl, "--database-url", url]);
    expect(first.status, first.out).toBe(0);
    expect([first.inserted, first.skipped, first.invalid]).toEqual([4, 0, 0]);
    expect(first.out).not.toContain("postgres:postgres@"); // no credentials in the output
    const rows = await usersIn(url);
    expect(rows).toHaveLength(4);
    expect(rows.find((r) => r.email === "alan.turing@example.com")?.created_at.toISOString()).toBe("2020-01-02T03:04:05.000Z");
    expectNoSecrets(first.out, rows);

    const second = runImport([sourceUrl, "--database-url", url]);
    expect([second.inserted, second.skipped, second.invalid]).toEqual([0, 4, 0]);
    expect(await usersIn(url)).toEqual(rows);
  });

  it("explains a missing target, an unmigrated target and an unknown file type", async () => {
    expect(runImport([JSON_DUMP]).status).toBe(2);
    expect(runImport([JSON_DUMP]).out).toMatch(/no target database/);
    const bare = await freshDb("not_migrated", false);
    const r = runImport([JSON_DUMP, "--database-url", bare]);
    expect(r.status).toBe(2);
    expect(r.out).toMatch(/npm run db:migrate/);
    const txt = path.join(dir, "users.txt");
    fs.writeFileSync(txt, "x");
    expect(runImport([txt, "--database-url", bare]).out).toMatch(/use \.json or \.csv/);
  });
});
