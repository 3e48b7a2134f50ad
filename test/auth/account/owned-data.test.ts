import { getTableColumns, getTableName, is } from "drizzle-orm";
import { PgTable } from "drizzle-orm/pg-core";
import { describe, expect, it } from "vitest";
import { OWNED_DATA } from "../../../src/auth/account/owned-data";
import { TRANSIENT_DATA } from "../../../src/auth/purge";
import * as schema from "../../../src/db/schema";
import { registerUser } from "../../support/accounts";
import { withDb } from "../../support/db";
import { call, json } from "../../support/worker";

const tables: PgTable[] = (Object.values(schema) as unknown[]).filter((v): v is PgTable => is(v, PgTable));
const hasUserId = (t: PgTable) => Object.values(getTableColumns(t)).some((c) => c.name === "user_id");

describe("what an account owns: one registry", () => {
  it("every table with a user_id is declared in OWNED_DATA (export, anonymisation, purge)", () => {
    const declared = new Set(OWNED_DATA.map((d) => getTableName(d.table)));
    const withUserId = tables.filter(hasUserId).map(getTableName);
    expect(withUserId.length).toBeGreaterThan(5);
    expect(withUserId.filter((t) => !declared.has(t))).toEqual([]);
    // And the registry declares only tables that hold a user_id (its rules delete by it).
    expect(OWNED_DATA.filter((d) => !hasUserId(d.table)).map((d) => getTableName(d.table))).toEqual([]);
  });

  it("every other table is the account itself (users) or transient state the purge knows", () => {
    const known = new Set(["users", ...OWNED_DATA.map((d) => getTableName(d.table)), ...TRANSIENT_DATA.map((d) => getTableName(d.table))]);
    expect(tables.map(getTableName).filter((t) => !known.has(t))).toEqual([]);
  });

  it("the export includes linked identities, without the provider's user id", async () => {
    const u = await registerUser();
    const subject = `google-sub-${crypto.randomUUID()}`;
    await withDb(
      (sql) => sql`insert into auth_identities (id, user_id, provider, subject, email, email_verified, created_at)
                   values (${crypto.randomUUID()}, ${u.user.id}, 'google', ${subject}, ${u.email}, true, now())`,
    );
    const res = await call("/auth/account/export", { token: u.access_token });
    expect(res.status).toBe(200);
    const data = await json(res);
    expect(data.identities).toEqual([
      expect.objectContaining({ provider: "google", email: u.email, email_verified: true, linked_at: expect.any(String) }),
    ]);
    expect(JSON.stringify(data)).not.toContain(subject);
  });
});
