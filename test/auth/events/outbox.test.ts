import { describe, expect, it } from "vitest";
import { event, eventsAfter, recordEvent, sequenceEvents } from "../../../src/auth/events/outbox";
import { self } from "../../../src/auth/events/types";
import type { Db } from "../../../src/db/client";
import { login, me, PASSWORD, registerUser } from "../../support/accounts";
import { adminAccount, adminCall } from "../../support/admin";
import { fakeClock } from "../../support/clock";
import { userRow, withDb } from "../../support/db";
import { directDb, eventsOf, revokedOf, typesOf } from "../../support/events";
import { claimsOf } from "../../support/mfa";
import { call } from "../../support/worker";

const sidOf = (token: string) => claimsOf(token).sid as string;

/** Every positioned event after `after`, page by page (100 a page), as a reader of the feed gets them. */
async function drain(db: Db, after: number) {
  const out: { id: string; position: number; userId: string; type: string; seq: number }[] = [];
  for (;;) {
    const page = await eventsAfter(db, { after, limit: 100 });
    if (page.length === 0) return { events: out, next: after };
    for (const e of page) out.push({ id: e.id, position: e.position!, userId: e.userId, type: e.type, seq: e.seq });
    after = page[page.length - 1].position!;
  }
}

/** The feed's current end: the largest position given so far. */
async function head(db: Db) {
  await sequenceEvents(db);
  const [row] = await withDb((sql) => sql`select coalesce(max(position), 0)::bigint as p from auth_events`);
  return Number(row.p);
}

describe("the outbox: each change writes its events in its own transaction", () => {
  it("registration writes user.created; logout, logout-all and ending a session one session.revoked each", async () => {
    const u = await registerUser();
    expect(await eventsOf(u.user.id)).toEqual([
      expect.objectContaining({
        type: "user.created",
        actor_type: "self",
        actor_id: u.user.id,
        data: { role: "student", method: "password" },
      }),
    ]);
    const [s2, s3, s4] = [await login(u.email), await login(u.email), await login(u.email)];
    expect((await call("/auth/logout", { method: "POST", token: u.access_token })).status).toBe(200);
    expect((await call(`/auth/sessions/${sidOf(s4.access_token)}`, { method: "DELETE", token: s2.access_token })).status).toBe(200);
    expect((await call("/auth/logout-all", { method: "POST", token: s2.access_token })).status).toBe(200);
    expect(await revokedOf(u.user.id)).toEqual(
      [
        `${sidOf(u.access_token)}:logout`,
        `${sidOf(s4.access_token)}:ended_by_user`,
        `${sidOf(s2.access_token)}:logout_all`,
        `${sidOf(s3.access_token)}:logout_all`,
      ].sort(),
    );
    // A session that has ended already ends no more: one event.
    const s5 = await login(u.email);
    await call("/auth/logout", { method: "POST", token: s5.access_token });
    expect((await call("/auth/logout", { method: "POST", token: s5.access_token })).status).toBe(401);
    expect((await revokedOf(u.user.id)).filter((r) => r.startsWith(sidOf(s5.access_token)))).toHaveLength(1);
    for (const e of await eventsOf(u.user.id)) expect(JSON.stringify(e)).not.toContain(u.email);
  });

  it("a profile change names the fields whose value changed, and nothing when none did", async () => {
    const u = await registerUser({ full_name: "Ada Before" });
    const rename = () => {
      const body = new FormData();
      body.append("full_name", "Ada After");
      return call("/auth/update-profile", { body, token: u.access_token });
    };
    expect((await rename()).status).toBe(200);
    expect((await rename()).status).toBe(200);
    const events = await eventsOf(u.user.id);
    expect(events.map((e) => e.type)).toEqual(["user.created", "user.updated"]);
    expect(events[1]).toMatchObject({ actor_type: "self", actor_id: u.user.id, data: { fields: ["full_name"] } });
    expect(JSON.stringify(events)).not.toContain("Ada");
  });

  it("a language change is a user.updated naming locale (the account's public field), once", async () => {
    const u = await registerUser();
    const toHindi = () => {
      const body = new FormData();
      body.append("locale", "hi");
      return call("/auth/update-profile", { body, token: u.access_token });
    };
    expect((await toHindi()).status).toBe(200);
    expect((await toHindi()).status).toBe(200);
    const events = await eventsOf(u.user.id);
    expect(events.map((e) => e.type)).toEqual(["user.created", "user.updated"]);
    expect(events[1]).toMatchObject({ actor_type: "self", actor_id: u.user.id, data: { fields: ["locale"] } });
  });

  it("a password change: credentials.changed and every session revoked, in that transaction", async () => {
    const u = await registerUser();
    const other = await login(u.email);
    const res = await call("/auth/change-password", {
      body: { current_password: PASSWORD, new_password: "Another-Long-Passphrase-42" },
      token: u.access_token,
    });
    expect(res.status).toBe(200);
    const events = await eventsOf(u.user.id);
    expect(events.filter((e) => e.type === "credentials.changed")).toEqual([
      expect.objectContaining({ actor_type: "self", data: { credential: "password", change: "changed" } }),
    ]);
    expect(await revokedOf(u.user.id)).toEqual(
      [`${sidOf(u.access_token)}:password_changed`, `${sidOf(other.access_token)}:password_changed`].sort(),
    );
  });

  it("an administrator's changes: suspension, reactivation and roles, with the admin as actor", async () => {
    const clock = fakeClock();
    const admin = await adminAccount(clock);
    const u = await registerUser({}, { now: clock.now });
    const second = await login(u.email, PASSWORD, { now: clock.now });
    const patch = (body: object) => adminCall(`/users/${u.user.id}`, admin.token, clock, { method: "PATCH", body });
    const actor = { actor_type: "admin", actor_id: admin.user.user.id };

    expect((await patch({ status: "suspended" })).status).toBe(200);
    expect((await patch({ status: "active" })).status).toBe(200);
    expect((await patch({ role: "instructor" })).status).toBe(200);
    expect((await patch({ role: "instructor" })).status).toBe(200); // the same role: no change, no event
    const third = await login(u.email, PASSWORD, { now: clock.now });
    expect((await patch({ role: "student" })).status).toBe(200); // lower: sessions end

    const events = await eventsOf(u.user.id);
    expect(events.slice(1).map((e) => [e.type, e.data.reason ?? e.data.fields ?? e.data.to ?? null])).toEqual([
      ["user.suspended", null],
      ["session.revoked", "suspended"],
      ["session.revoked", "suspended"],
      ["user.reactivated", null],
      ["user.updated", ["role"]],
      ["role.changed", "instructor"],
      ["user.updated", ["role"]],
      ["role.changed", "student"],
      ["session.revoked", "role_lowered"],
    ]);
    for (const e of events.slice(1)) expect(e).toMatchObject(actor);
    expect(events.find((e) => e.type === "role.changed")?.data).toEqual({ from: "student", to: "instructor" });
    expect((await revokedOf(u.user.id)).sort()).toEqual(
      [`${sidOf(u.access_token)}:suspended`, `${sidOf(second.access_token)}:suspended`, `${sidOf(third.access_token)}:role_lowered`].sort(),
    );
  });

  it("a change whose transaction rolls back writes no event (and changes nothing)", async () => {
    const clock = fakeClock();
    const admin = await adminAccount(clock);
    const u = await registerUser({}, { now: clock.now });
    const fn = `fail_audit_${u.user.id.replace(/-/g, "")}`;
    // The audit row is the change's last statement: make exactly this account's fail, after the
    // user row, the events and the session revocations were written in the same transaction.
    await withDb(async (sql) => {
      await sql.unsafe(`create function ${fn}() returns trigger language plpgsql as $$
        begin raise exception 'audit write refused by the test'; end $$`);
      await sql.unsafe(`create trigger ${fn} before insert on auth_audit_events for each row
        when (new.user_id = '${u.user.id}' and new.event = 'admin_user_updated') execute function ${fn}()`);
    });
    try {
      const res = await adminCall(`/users/${u.user.id}`, admin.token, clock, { method: "PATCH", body: { status: "suspended" } });
      expect(res.status).toBe(500);
    } finally {
      await withDb((sql) => sql.unsafe(`drop trigger ${fn} on auth_audit_events; drop function ${fn}()`));
    }
    expect(await typesOf(u.user.id)).toEqual(["user.created"]);
    expect((await userRow(u.user.id)).status).toBe("active");
    expect(await me(u.access_token, { now: clock.now })).toBe(200);
  });
});

describe("positions: given in commit order, so a reader never skips an event", () => {
  it("an event written before another but committed after it gets the larger position, and a reader sees both", async () => {
    const reader = directDb();
    const writer = directDb();
    try {
      const start = await head(reader.db);
      const slow = await registerUser();
      const fast = await registerUser();
      let inserted!: () => void;
      let release!: () => void;
      const insertedP = new Promise<void>((r) => {
        inserted = r;
      });
      const released = new Promise<void>((r) => {
        release = r;
      });
      // A writer whose transaction stays open after its insert (a slow change).
      const open = writer.db.transaction(async (tx) => {
        await recordEvent(
          tx,
          event("user.updated", { userId: slow.user.id, actor: self(slow.user.id), at: new Date(), data: { fields: ["full_name"] } }),
        );
        inserted();
        await released;
      });
      await insertedP;
      // Meanwhile a change commits (inserted later: a larger seq).
      expect((await call("/auth/logout", { method: "POST", token: fast.access_token })).status).toBe(200);
      const firstRead = await drain(reader.db, start);
      const ours = (r: typeof firstRead) =>
        r.events.filter((e) => [slow.user.id, fast.user.id].includes(e.userId) && e.type !== "user.created");
      expect(ours(firstRead).map((e) => e.type)).toEqual(["session.revoked"]);

      release();
      await open;
      const secondRead = await drain(reader.db, firstRead.next);
      expect(ours(secondRead).map((e) => e.type)).toEqual(["user.updated"]);
      const [revoked] = ours(firstRead);
      const [updated] = ours(secondRead);
      expect(updated.seq).toBeLessThan(revoked.seq);
      expect(updated.position).toBeGreaterThan(revoked.position);
    } finally {
      await reader.end();
      await writer.end();
    }
  });

  it("transactions committing in the reverse order of their writes: a polling reader gets each event once, none skipped", async () => {
    const N = 12;
    const users = await Promise.all(Array.from({ length: N }, () => registerUser()));
    const reader = directDb();
    const writers = users.map(() => directDb());
    try {
      let after = await head(reader.db);
      const seen: string[] = [];
      const releases: (() => void)[] = [];
      const done: Promise<void>[] = [];
      for (const [i, w] of writers.entries()) {
        const u = users[i].user.id;
        let inserted!: () => void;
        const insertedP = new Promise<void>((r) => {
          inserted = r;
        });
        const released = new Promise<void>((r) => releases.push(r));
        done.push(
          w.db.transaction(async (tx) => {
            await recordEvent(tx, event("user.email_verified", { userId: u, actor: self(u), at: new Date(), data: {} }));
            inserted();
            await released;
          }),
        );
        await insertedP; // in write order: seq increases with i
      }
      const ids = new Set(users.map((u) => u.user.id));
      for (let i = N - 1; i >= 0; i--) {
        releases[i]();
        await done[i];
        const page = await drain(reader.db, after);
        after = page.next;
        seen.push(...page.events.filter((e) => ids.has(e.userId) && e.type === "user.email_verified").map((e) => e.userId));
        // Each read gets exactly the event that just committed.
        expect(seen.at(-1)).toBe(users[i].user.id);
      }
      expect(seen).toEqual(users.map((u) => u.user.id).reverse());
    } finally {
      await reader.end();
      await Promise.all(writers.map((w) => w.end()));
    }
  });

  it("50 changes committing in parallel while a reader polls: no event skipped, none twice, positions increasing", async () => {
    const accounts = await Promise.all(Array.from({ length: 10 }, () => registerUser()));
    const sessions = (
      await Promise.all(
        accounts.map(async (a) => [
          a.access_token,
          ...(await Promise.all([1, 2, 3, 4].map(() => login(a.email)))).map((s) => s.access_token),
        ]),
      )
    ).flat();
    expect(sessions).toHaveLength(50);
    const reader = directDb();
    try {
      let after = await head(reader.db);
      const seen: { id: string; position: number }[] = [];
      let writing = true;
      const poll = (async () => {
        while (writing) {
          const page = await drain(reader.db, after);
          after = page.next;
          seen.push(...page.events);
        }
      })();
      const statuses = await Promise.all(sessions.map((token) => call("/auth/logout", { method: "POST", token }).then((r) => r.status)));
      writing = false;
      await poll;
      const last = await drain(reader.db, after);
      seen.push(...last.events);
      expect(statuses).toEqual(sessions.map(() => 200));

      const positions = seen.map((e) => e.position);
      expect(positions).toEqual([...positions].sort((a, b) => a - b));
      expect(new Set(positions).size).toBe(positions.length);
      expect(new Set(seen.map((e) => e.id)).size).toBe(seen.length);
      // Everything the outbox holds for these accounts from the start of the read was seen.
      const ids = accounts.map((a) => a.user.id);
      const stored = await withDb((sql) => sql`select id from auth_events where user_id in ${sql(ids)} and type = 'session.revoked'`);
      expect(stored).toHaveLength(50);
      const seenIds = new Set(seen.map((e) => e.id));
      expect(stored.filter((r) => !seenIds.has(r.id))).toEqual([]);
    } finally {
      await reader.end();
    }
  });
});
