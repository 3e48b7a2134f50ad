import { afterEach, describe, expect, it, vi } from "vitest";
import { PASSWORD, uniqueEmail } from "../support/accounts";
import { withDb } from "../support/db";
import { call, json } from "../support/worker";

/**
 * A database error is logged with the statement that failed, never with the values bound to it:
 * Drizzle's error prints them in its message ("params: ..."), postgres.js keeps them on the error,
 * and Postgres quotes offending input in its own messages. Here a trigger refuses one address and
 * puts it in its message, so every one of those places holds the email.
 */
const PREFIX = "db-error-probe-";

afterEach(() => {
  vi.restoreAllMocks();
});

describe("database errors in the log", () => {
  it("carry the statement and Postgres's code, and no bound parameter (the email)", async () => {
    await withDb(async (sql) => {
      await sql.unsafe(`
        create or replace function test_refuse_probe() returns trigger language plpgsql as $$
        begin
          if new.email like '${PREFIX}%' then raise exception 'refused address %', new.email using errcode = '23514'; end if;
          return new;
        end $$;
        drop trigger if exists test_refuse_probe on users;
        create trigger test_refuse_probe before insert on users for each row execute function test_refuse_probe();`);
    });
    const lines: string[] = [];
    const capture = (...args: unknown[]) => void lines.push(args.map(String).join(" "));
    for (const m of ["log", "info", "warn", "error", "debug"] as const) vi.spyOn(console, m).mockImplementation(capture);
    const email = uniqueEmail(PREFIX.slice(0, -1));
    const name = `Probe ${Math.random().toString(36).slice(2)}`;
    let res: Response;
    try {
      res = await call("/auth/register", { body: { full_name: name, email, password: PASSWORD, role: "student" } });
    } finally {
      vi.restoreAllMocks();
      await withDb((sql) => sql.unsafe("drop trigger if exists test_refuse_probe on users; drop function if exists test_refuse_probe();"));
    }
    expect(res.status).toBe(500);
    expect((await json(res)).code).toBe("internal_error");
    const requestId = res.headers.get("x-request-id");
    const logged = lines.map((l) => JSON.parse(l)).find((l) => l.msg === "unhandled error" && l.requestId === requestId);
    expect(logged, lines.join("\n")).toBeDefined();
    // The account and its event are one statement (src/auth/account/register.ts).
    expect(logged.statement).toMatch(/^with "created" as \(insert into "users" .*values \(\$1, \$2, \$3/);
    expect(logged.sqlstate).toBe("23514");
    expect(logged.message).toMatch(/^refused address /);
    const all = lines.join("\n");
    for (const value of [email, email.split("@")[0], name]) expect(all.includes(value), `the log holds ${value}`).toBe(false);
    // Nothing was stored for the refused address.
    expect(await withDb((sql) => sql`select id from users where email = ${email}`)).toHaveLength(0);
  });
});
