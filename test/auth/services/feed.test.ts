import { beforeAll, describe, expect, it } from "vitest";
import { EVENT_TYPES, type EventType, payloadSchema } from "../../../src/auth/events/types";
import { login, registerUser } from "../../support/accounts";
import { type AdminAccount, adminAccount } from "../../support/admin";
import { fakeClock } from "../../support/clock";
import { claimsOf } from "../../support/mfa";
import { feed, serviceCall, serviceClient, type TestServiceClient } from "../../support/services";
import { call, json } from "../../support/worker";

const clock = fakeClock();
let admin: AdminAccount;
let reader: TestServiceClient;
beforeAll(async () => {
  admin = await adminAccount(clock);
  reader = await serviceClient(admin, clock, ["events:read"]);
});

/** The end of the feed now (what a new reader would start after to see only what comes next). */
async function head(): Promise<number> {
  let after = 0;
  for (;;) {
    const page = await feed(reader, after);
    if (page.events.length === 0) return page.next;
    after = page.next;
  }
}

/** Every event after `after`, page by page with `limit` a page. */
async function readAll(after: number, limit = 1000) {
  const events: Awaited<ReturnType<typeof feed>>["events"] = [];
  for (;;) {
    const page = await feed(reader, after, limit);
    expect(page.next).toBe(page.events.at(-1)?.position ?? after);
    if (page.events.length === 0) return { events, next: page.next };
    events.push(...page.events);
    after = page.next;
  }
}

describe("GET /auth/events", () => {
  it("answers each event in its envelope, in increasing position, `after` exclusive, page by page", async () => {
    const start = await head();
    const u = await registerUser();
    await call("/auth/logout", { method: "POST", token: u.access_token });
    const all = await readAll(start);
    const mine = all.events.filter((e) => e.data.user_id === u.user.id);
    expect(mine.map((e) => e.type)).toEqual(["user.created", "session.revoked"]);
    expect(mine[1]).toEqual({
      id: expect.any(String),
      type: "session.revoked",
      timestamp: expect.stringMatching(/Z$/),
      position: expect.any(Number),
      data: { user_id: u.user.id, actor: { type: "self", id: u.user.id }, sid: claimsOf(u.access_token).sid, reason: "logout" },
    });
    // Each event matches the schema its type declares (the one the OpenAPI document shows).
    for (const e of all.events) expect(payloadSchema(e.type as EventType).safeParse(e).success, JSON.stringify(e)).toBe(true);
    expect(Object.keys(EVENT_TYPES)).toContain(mine[0].type);
    // Paged one at a time: the same events.
    const oneByOne = await readAll(start, 1);
    expect(oneByOne.events.map((e) => e.id)).toEqual(all.events.map((e) => e.id));
    // `after` is exclusive.
    const fromSecond = await feed(reader, mine[0].position, 1);
    expect(fromSecond.events[0].position).toBeGreaterThan(mine[0].position);
    // after=0 starts with the oldest kept; an `after` past the end is an empty page.
    expect((await feed(reader, 0, 1)).events).toHaveLength(1);
    expect(await feed(reader, all.next + 1000)).toMatchObject({ events: [], next: all.next + 1000 });
  });

  it("refuses a bad `after` or `limit` with 400 on that field", async () => {
    for (const [query, field] of [
      ["after=-1", "after"],
      ["after=abc", "after"],
      ["after=1.5", "after"],
      ["after=0&limit=0", "limit"],
      ["after=0&limit=1001", "limit"],
    ]) {
      const res = await serviceCall(reader, `/auth/events?${query}`);
      expect(res.status, query).toBe(400);
      expect(
        (await json(res)).issues.map((i: { path: string }) => i.path),
        query,
      ).toContain(field);
    }
  });

  it("pages without gaps or duplicates while 50 changes commit in parallel and a reader polls it", async () => {
    const accounts = await Promise.all(Array.from({ length: 10 }, () => registerUser()));
    const tokens = (
      await Promise.all(
        accounts.map(async (a) => [
          a.access_token,
          ...(await Promise.all([1, 2, 3, 4].map(() => login(a.email)))).map((s) => s.access_token),
        ]),
      )
    ).flat();
    let after = await head();
    const seen: { id: string; position: number }[] = [];
    let writing = true;
    let polls = 0;
    const poll = (async () => {
      while (writing) {
        const page = await feed(reader, after, 7);
        polls++;
        seen.push(...page.events);
        after = page.next;
      }
    })();
    const statuses = await Promise.all(tokens.map((token) => call("/auth/logout", { method: "POST", token }).then((r) => r.status)));
    writing = false;
    await poll;
    seen.push(...(await readAll(after, 7)).events);
    expect(statuses).toEqual(tokens.map(() => 200));
    expect(polls).toBeGreaterThan(0);

    const positions = seen.map((e) => e.position);
    expect(positions).toEqual([...positions].sort((a, b) => a - b));
    expect(new Set(positions).size).toBe(positions.length);
    expect(new Set(seen.map((e) => e.id)).size).toBe(seen.length);
    const ids = new Set(accounts.map((a) => a.user.id));
    const revocations = (seen as { data?: { user_id: string }; type?: string }[]).filter(
      (e) => e.type === "session.revoked" && ids.has(e.data!.user_id),
    );
    expect(revocations).toHaveLength(50);
  });
});
