import { describe, expect, it } from "vitest";
import { registerUser } from "../../support/accounts";
import { adminAccount, adminAuditRows, adminCall, adminGet } from "../../support/admin";
import { fakeClock } from "../../support/clock";
import { withDb } from "../../support/db";
import { mailsTo } from "../../support/mail";
import { json } from "../../support/worker";

/**
 * The admin API's edges: whatever a client puts in a cursor answers 400 before any statement runs
 * (never a 500 from a failed cast); every refused call is on record, the unknown ids and invalid
 * requests included; and the reset mail an admin sends never goes out unrecorded.
 */

const b64url = (bytes: Uint8Array) =>
  btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, "-")
    .replace(/\//g, "_")
    .replace(/=+$/, "");
const cursorOf = (value: unknown) => b64url(new TextEncoder().encode(JSON.stringify(value)));
const rawCursor = (text: string) => b64url(new TextEncoder().encode(text));

const AT = "2026-01-05 09:30:00.123456+00";
const UUID = "3f1c2a3e-8a4b-4c1e-9f0a-2b7d5c6e8f90";

/** Cursors no list ever returned, each wrong in its own way, for both lists. */
const MALFORMED = {
  "not base64url": "a",
  "base64 of bytes that are not UTF-8": b64url(new Uint8Array([0x5b, 0xff, 0xfe, 0x5d])),
  "not JSON": rawCursor("not json"),
  "a JSON object": cursorOf({ at: AT, id: UUID }),
  "a JSON string": cursorOf(AT),
  "one element": cursorOf([AT]),
  "three elements": cursorOf([AT, UUID, "x"]),
  "numbers instead of strings": cursorOf([1767605400, 12]),
  null: cursorOf(null),
  "month 13": cursorOf(["2026-13-05 09:30:00+00", UUID]),
  "February 30": cursorOf(["2026-02-30 09:30:00+00", UUID]),
  "February 29 of a common year": cursorOf(["2025-02-29 09:30:00+00", UUID]),
  "day 0": cursorOf(["2026-01-00 09:30:00+00", UUID]),
  "hour 24": cursorOf(["2026-01-05 24:00:00+00", UUID]),
  "minute 60": cursorOf(["2026-01-05 09:60:00+00", UUID]),
  "second 60": cursorOf(["2026-01-05 09:30:60+00", UUID]),
  "year 0": cursorOf(["0000-01-05 09:30:00+00", UUID]),
  "an offset of 16 hours": cursorOf(["2026-01-05 09:30:00+16", UUID]),
  "no time": cursorOf(["2026-01-05", UUID]),
};
const MALFORMED_USER_IDS = {
  "an id that is not a UUID": cursorOf([AT, "not-a-uuid"]),
  "an audit id instead of a UUID": cursorOf([AT, "48213"]),
  "an upper-case UUID": cursorOf([AT, UUID.toUpperCase()]),
};
const MALFORMED_AUDIT_IDS = {
  "a UUID instead of an audit id": cursorOf([AT, UUID]),
  "an id above the largest bigint": cursorOf([AT, "9223372036854775808"]),
  "a negative id": cursorOf([AT, "-1"]),
  "an id with a fraction": cursorOf([AT, "1.5"]),
};

/** The admin's admin_request_refused rows, oldest first. */
const refusals = async (adminId: string) => (await adminAuditRows(adminId)).filter((r) => r.event === "admin_request_refused");

describe("admin list cursors", () => {
  for (const [list, own] of [
    ["users", MALFORMED_USER_IDS],
    ["audit", MALFORMED_AUDIT_IDS],
  ] as const) {
    it(`/admin/${list}: a malformed or impossible cursor answers 400 on the cursor, and each refusal is recorded`, async () => {
      const clock = fakeClock();
      const admin = await adminAccount(clock);
      const cases = Object.entries({ ...MALFORMED, ...own });
      for (const [what, cursor] of cases) {
        const res = await adminCall(`/${list}?cursor=${cursor}`, admin.token, clock);
        expect(res.status, `${what}: ${await res.clone().text()}`).toBe(400);
        const body = await json(res);
        expect(body.code, what).toBe("validation_failed");
        expect(body.issues[0].path, what).toBe("cursor");
      }
      // A cursor the route's own pattern refuses (not base64url at all) answers the same.
      expect((await adminCall(`/${list}?cursor=${encodeURIComponent("*!")}`, admin.token, clock)).status).toBe(400);
      const rows = await refusals(admin.user.user.id);
      expect(rows).toHaveLength(cases.length + 1);
      for (const r of rows) {
        expect(r).toMatchObject({ outcome: "failure", user_id: null, actor_id: admin.user.user.id });
        expect(r.detail).toEqual({ reason: "validation_failed", route: `GET /auth/admin/${list}`, field: "cursor" });
      }
      // Nothing was listed for them.
      const listed = (await adminAuditRows(admin.user.user.id)).filter((r) => r.event !== "admin_request_refused");
      expect(listed).toEqual([]);
    });
  }

  it("a cursor at the edges of the calendar (a leap day, the last second of a year, an offset) is served", async () => {
    const clock = fakeClock();
    const admin = await adminAccount(clock);
    for (const at of ["2024-02-29 23:59:59.999999+00", "2025-12-31 23:59:59+00", "2026-01-05T09:30:00+05:30", "1970-01-01 00:00:00Z"]) {
      const users = await adminGet(`/users?limit=1&cursor=${cursorOf([at, UUID])}`, admin.token, clock);
      expect(users.status).toBe("success");
      const audit = await adminGet(`/audit?limit=1&cursor=${cursorOf([at, "9223372036854775807"])}`, admin.token, clock);
      expect(audit.status).toBe("success");
    }
    expect(await refusals(admin.user.user.id)).toEqual([]);
  });
});

describe("refused admin calls are on record", () => {
  it("an unknown account answers 404 user_not_found on every route, each recorded under its action with the id asked for", async () => {
    const clock = fakeClock();
    const admin = await adminAccount(clock);
    const unknown = crypto.randomUUID();
    const calls = [
      ["admin_user_viewed", adminCall(`/users/${unknown}`, admin.token, clock)],
      ["admin_user_updated", adminCall(`/users/${unknown}`, admin.token, clock, { method: "PATCH", body: { status: "suspended" } })],
      ["admin_sessions_revoked", adminCall(`/users/${unknown}/revoke-sessions`, admin.token, clock, { method: "POST" })],
      ["admin_password_reset_sent", adminCall(`/users/${unknown}/send-password-reset`, admin.token, clock, { method: "POST" })],
    ] as const;
    for (const [event, pending] of calls) {
      const res = await pending;
      expect(res.status, event).toBe(404);
      expect((await json(res)).code).toBe("user_not_found");
    }
    const rows = (await adminAuditRows(admin.user.user.id)).map((r) => [r.event, r.outcome, r.user_id, r.detail]);
    expect(rows.sort()).toEqual(calls.map(([event]) => [event, "failure", unknown, { reason: "not_found" }]).sort());
  });

  it("an invalid path id, body or JSON after the access checks answers 400 and is recorded as admin_request_refused", async () => {
    const clock = fakeClock();
    const admin = await adminAccount(clock);
    const user = await registerUser({}, { now: clock.now });
    const id = user.user.id;
    const badId = await adminCall("/users/not-a-uuid/revoke-sessions", admin.token, clock, { method: "POST" });
    expect(badId.status).toBe(400);
    const badBody = await adminCall(`/users/${id}`, admin.token, clock, { method: "PATCH", body: { role: "admin" } });
    expect(badBody.status).toBe(400);
    const badJson = await adminCall(`/users/${id}`, admin.token, clock, {
      method: "PATCH",
      body: "{not json",
      headers: { "content-type": "application/json" },
    });
    expect(badJson.status).toBe(400);
    expect((await json(badJson)).code).toBe("malformed_json");
    const badQuery = await adminCall("/audit?type=not_an_event", admin.token, clock);
    expect(badQuery.status).toBe(400);
    const rows = (await refusals(admin.user.user.id)).map((r) => [r.user_id, r.detail]);
    expect(rows).toEqual([
      [null, { reason: "validation_failed", route: "POST /auth/admin/users/:id/revoke-sessions", field: "id" }],
      [id, { reason: "validation_failed", route: "PATCH /auth/admin/users/:id", field: "role" }],
      [id, { reason: "malformed_json", route: "PATCH /auth/admin/users/:id", field: null }],
      [null, { reason: "validation_failed", route: "GET /auth/admin/audit", field: "type" }],
    ]);
    // The account was not touched.
    expect((await adminGet(`/users/${id}`, admin.token, clock)).user.role).toBe("student");
  });

  it("a refusal an action records itself is recorded once, under its own event", async () => {
    const clock = fakeClock();
    const admin = await adminAccount(clock);
    const self = await adminCall(`/users/${admin.user.user.id}`, admin.token, clock, { method: "PATCH", body: { status: "suspended" } });
    expect(self.status).toBe(403);
    const rows = (await adminAuditRows(admin.user.user.id)).map((r) => [r.event, r.outcome, r.detail]);
    expect(rows).toEqual([["admin_user_updated", "blocked", { reason: "self_change" }]]);
  });
});

describe("send-password-reset", () => {
  it("mails the code only once its audit row is written: a call that cannot be recorded sends nothing and keeps the send slot", async () => {
    const clock = fakeClock();
    const admin = await adminAccount(clock);
    const user = await registerUser({}, { now: clock.now });
    const id = user.user.id;
    const trigger = `test_refuse_reset_audit_${id.replaceAll("-", "")}`;
    await withDb((sql) =>
      sql.unsafe(`
        create function ${trigger}() returns trigger language plpgsql as $$
        begin
          if new.event = 'admin_password_reset_sent' and new.user_id = '${id}' then raise exception 'audit refused'; end if;
          return new;
        end $$;
        create trigger ${trigger} before insert on auth_audit_events for each row execute function ${trigger}();`),
    );
    let refused: Response;
    try {
      // `call` returns after the request's background work (waitUntil) has finished: any mail is sent by then.
      refused = await adminCall(`/users/${id}/send-password-reset`, admin.token, clock, { method: "POST" });
    } finally {
      await withDb((sql) => sql.unsafe(`drop trigger if exists ${trigger} on auth_audit_events; drop function if exists ${trigger}();`));
    }
    expect(refused.status).toBe(500);
    expect(await mailsTo(user.email, "password_reset")).toEqual([]);
    // The send throttle did not move: the next call, recorded, sends at once.
    const sent = await adminCall(`/users/${id}/send-password-reset`, admin.token, clock, { method: "POST" });
    expect(sent.status).toBe(202);
    expect(await mailsTo(user.email, "password_reset")).toHaveLength(1);
    const rows = (await adminAuditRows(admin.user.user.id)).filter((r) => r.event === "admin_password_reset_sent");
    expect(rows.map((r) => [r.outcome, r.user_id])).toEqual([["success", id]]);
  });
});
