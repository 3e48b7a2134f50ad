import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPostgres } from "../../scripts/stack/postgres.ts";

/** `npm run create-admin` (scripts/ops/create-admin.ts) as an operator runs it, against a fresh, migrated database. */
const ROOT = path.resolve(__dirname, "../..");
const run = promisify(execFile);

let pg: Awaited<ReturnType<typeof startPostgres>>;
let dir: string;
let url: string;
let sql: postgres.Sql;

async function createAdmin(args: string[], env: Record<string, string> = {}) {
  try {
    const { stdout, stderr } = await run(process.execPath, [path.join(ROOT, "scripts/ops/create-admin.ts"), ...args], {
      env: { ...process.env, DATABASE_URL: "", ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "auth-create-admin-"));
  pg = await startPostgres({ dataDir: path.join(dir, "data"), persistent: false, database: "postgres" });
  const admin = postgres(pg.url, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database "admins"`);
  await admin.end();
  url = pg.url.replace(/\/postgres$/, "/admins");
  await run(process.execPath, [path.join(ROOT, "scripts/ops/migrate.ts"), url]);
  sql = postgres(url, { max: 1, onnotice: () => {} });
});
afterAll(async () => {
  await sql?.end();
  await pg?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe("npm run create-admin", () => {
  it("creates the first admin in a fresh database and prints a setup token stored only as its hash", async () => {
    const out = await createAdmin(["--email", " Root@Example.com ", "--name", "Root Admin", "--database-url", url]);
    expect(out.code, out.stderr).toBe(0);
    expect(out.stdout).toMatch(/root@example\.com created as a new admin account/);
    expect(out.stdout).toMatch(/POST \/auth\/account\/setup/);
    const token = /^ {2}([A-Za-z0-9_-]{43})$/m.exec(out.stdout)?.[1];
    expect(token).toBeDefined();
    const [user] = await sql`select id, email, full_name, role, status, password from users`;
    expect(user).toMatchObject({ email: "root@example.com", full_name: "Root Admin", role: "admin", status: "active" });
    expect(user.password).toMatch(/^!/);
    const [code] = await sql`select purpose, code_hash, expires_at, consumed_at from auth_one_time_codes where user_id = ${user.id}`;
    expect(code.purpose).toBe("admin_setup");
    expect(code.code_hash).toBe(createHash("sha256").update(token!).digest("hex"));
    expect(code.expires_at.getTime() - Date.now()).toBeGreaterThan(71 * 3600_000);
    const everything =
      JSON.stringify(await sql`select * from auth_one_time_codes`) + JSON.stringify(await sql`select * from auth_audit_events`);
    expect(everything).not.toContain(token);
    const [audit] = await sql`select event, user_id, detail from auth_audit_events`;
    expect(audit).toMatchObject({ event: "admin_granted", user_id: user.id, detail: { via: "create-admin", created: true } });
    expect(await sql`select type, actor_type, actor_id, data from auth_events where user_id = ${user.id} order by seq`).toEqual([
      { type: "user.created", actor_type: "system", actor_id: null, data: { role: "admin", method: "create_admin" } },
    ]);
  });

  it("promotes an existing account only with a verified address and --existing (DATABASE_URL), a suspended one only with --reactivate", async () => {
    const id = crypto.randomUUID();
    await sql`insert into users (id, full_name, email, password, role, status, requested_role)
              values (${id}, 'Teacher', 'teacher@example.com', 'x', 'student', 'suspended', 'instructor')`;
    // Never verified: whoever registered the address may not own it, so never promoted.
    const squatted = await createAdmin(["--email", "teacher@example.com", "--existing", "--reactivate"], { DATABASE_URL: url });
    expect(squatted.code).toBe(1);
    expect(squatted.stderr).toMatch(/never verified.*--existing/);
    await sql`update users set email_verified_at = now() where id = ${id}`;
    const withoutFlag = await createAdmin(["--email", "teacher@example.com", "--reactivate"], { DATABASE_URL: url });
    expect(withoutFlag.code).toBe(1);
    expect(withoutFlag.stderr).toMatch(
      /already has an account \(role student\)\. To make that account an admin, run again with --existing/,
    );
    const refused = await createAdmin(["--email", "teacher@example.com", "--existing"], { DATABASE_URL: url });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/suspended; pass --reactivate/);
    expect((await sql`select role from users where id = ${id}`)[0].role).toBe("student");

    const ok = await createAdmin(["--email", "teacher@example.com", "--existing", "--reactivate", "--ttl", "2h", url]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/promoted to admin \(was student\), and re-activated/);
    const [row] = await sql`select role, status, requested_role, password from users where id = ${id}`;
    expect(row).toEqual({ role: "admin", status: "active", requested_role: null, password: "x" });
    // The refused run wrote no event; the promotion its three, in one transaction with the change.
    expect(await sql`select type, actor_type, data from auth_events where user_id = ${id} order by seq`).toEqual([
      { type: "user.updated", actor_type: "system", data: { fields: ["role", "requested_role"] } },
      { type: "role.changed", actor_type: "system", data: { from: "student", to: "admin" } },
      { type: "user.reactivated", actor_type: "system", data: {} },
    ]);
    const [code] = await sql`select expires_at from auth_one_time_codes where user_id = ${id}`;
    expect(code.expires_at.getTime() - Date.now()).toBeLessThan(2 * 3600_000 + 60_000);
  });

  it("answers usage errors with exit code 2 and changes nothing", async () => {
    const before = (await sql`select count(*)::int as n from users`)[0].n;
    for (const args of [
      [],
      ["--email", "x@example.com"],
      ["--email", "not-an-email", url],
      ["--email", "a@b.co", "--ttl", "1s", url],
      ["--bogus", url],
    ]) {
      const out = await createAdmin(args);
      expect(out.code, args.join(" ")).toBe(args.includes("not-an-email") ? 1 : 2);
      expect(out.stderr).toMatch(/create-admin:/);
    }
    expect((await sql`select count(*)::int as n from users`)[0].n).toBe(before);
  });
});
