import { inArray, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { event, recordEvent, sequenceEvents, toPayload } from "../../../src/auth/events/outbox";
import { EVENT_TYPE_NAMES, SYSTEM } from "../../../src/auth/events/types";
import { authEvents } from "../../../src/db/schema";
import { login, PASSWORD, registerUser } from "../../support/accounts";
import { type AdminAccount, adminAccount, adminAuditRows, adminCall, adminGet } from "../../support/admin";
import { fakeClock, MIN } from "../../support/clock";
import { withDb } from "../../support/db";
import { directDb, eventsOf } from "../../support/events";
import { mailsTo } from "../../support/mail";
import {
  configureHook,
  createHook,
  deleteHook,
  eventsFor,
  eventually,
  received,
  type TestHook,
  untilDelivered,
} from "../../support/webhooks";
import { call, json, runScheduled } from "../../support/worker";

/**
 * Webhook delivery through the real Worker, Postgres and the Queue emulation: requests that write
 * events send a wake-up, the Worker's own queue() handler delivers, and the receiver (a Node
 * server, scripts/stack/webhook-receiver.ts) verifies every delivery with the `standardwebhooks`
 * library. Settings for the tests (test/support/global-setup.ts): WEBHOOK_TIMEOUT 5 s, retries
 * from 1 s, given up after 30 s, disabled after 2 given up in a row.
 */
/**
 * The admin's clock (its TOTP sign-in moves it 30 s on). The Queue consumer that delivers is the
 * deployed Worker's queue() handler, on the real clock, and the admin API writes times it acts on
 * (a manual retry is due at the admin's `now`): so this clock starts a minute back and stays
 * behind the real one, never making a delivery due in the consumer's future.
 */
const clock = fakeClock(Date.now() - MIN);
/** Tests wait out retries (seconds apart) and WEBHOOK_RETRY_MAX_AGE (30 s): each wait is bounded by eventually(), not by the test's timeout. */
const LONG = 180_000;
let admin: AdminAccount;
const hooks: TestHook[] = [];
beforeAll(async () => {
  admin = await adminAccount(clock);
});
afterAll(async () => {
  for (const h of hooks) await deleteHook(admin, clock, h);
});

const hook = async (events: string[] = EVENT_TYPE_NAMES) => {
  const h = await createHook(admin, clock, events);
  hooks.push(h);
  return h;
};

/** The outbox's payloads of an account's events, by id (what the receiver must get, byte for byte in meaning). */
async function outboxPayloads(userId: string) {
  const { db, end } = directDb();
  try {
    const ids = (await eventsOf(userId)).map((e) => e.id);
    const rows = await db.select().from(authEvents).where(inArray(authEvents.id, ids));
    return new Map(rows.map((r) => [r.id, r.position === null ? null : toPayload(r)]));
  } finally {
    await end();
  }
}

/** A hook's delivery of an event, from the admin API, once `ready` holds for it. */
async function deliveryOf(h: TestHook, eventId: string, ready: (d: any) => boolean): Promise<any> {
  return eventually(`the delivery of ${eventId}`, async () => {
    const page = await adminGet(`/webhooks/${h.endpoint.id}/deliveries?limit=100`, admin.token, clock);
    const d = page.deliveries.find((x: { event_id: string }) => x.event_id === eventId);
    return d && ready(d) ? d : undefined;
  });
}

const deliveriesCount = (endpointId: string) =>
  withDb(async (db) => (await db`select count(*)::int as n from auth_webhook_deliveries where endpoint_id = ${endpointId}`)[0].n as number);

/** POST /auth/update-profile (multipart) with a new name: one user.updated. */
const rename = (token: string, fullName: string) => {
  const body = new FormData();
  body.append("full_name", fullName);
  return call("/auth/update-profile", { body, token });
};

describe("webhook delivery", { timeout: LONG }, () => {
  it("every change of an account reaches the receiver once, signed (standardwebhooks verifies it), in order", async () => {
    const h = await hook();
    const u = await registerUser();
    const other = await login(u.email);
    // A profile change, a logout, a password change (its sessions end), an admin's role change and suspension.
    expect((await rename(u.access_token, "Ada Webhook")).status).toBe(200);
    expect((await call("/auth/logout", { body: { refresh_token: other.refresh_token }, token: other.access_token })).status).toBe(200);
    const changed = await call("/auth/change-password", {
      body: { current_password: PASSWORD, new_password: "Another-Long-Passphrase-42" },
      token: u.access_token,
    });
    expect(changed.status).toBe(200);
    expect(
      (await adminCall(`/users/${u.user.id}`, admin.token, clock, { method: "PATCH", body: { role: "instructor", status: "suspended" } }))
        .status,
    ).toBe(200);

    const stored = await eventsOf(u.user.id);
    expect(stored.map((e) => e.type)).toEqual(
      expect.arrayContaining(["user.created", "user.updated", "session.revoked", "credentials.changed", "role.changed", "user.suspended"]),
    );
    const deliveries = await untilDelivered(
      h.name,
      stored.map((e) => e.id),
    );
    const got = eventsFor(deliveries, u.user.id);
    // Exactly the account's events, each once (by webhook-id), nothing else about it.
    expect(got.map((d) => d.webhookId).sort()).toEqual(stored.map((e) => e.id).sort());
    const payloads = await outboxPayloads(u.user.id);
    for (const d of got) {
      expect(d.verified).toEqual({ current: true });
      expect(d.payload.id).toBe(d.webhookId);
      expect(d.payload).toEqual(payloads.get(d.webhookId));
      // Every repeat of an event (if any) is the same event.
      for (const again of deliveries.filter((x) => x.webhookId === d.webhookId)) expect(again.payload).toEqual(d.payload);
    }
    // In order: the account's events arrived in increasing position.
    const positions = got.map((d) => d.payload.position as number);
    expect(positions).toEqual([...positions].sort((a, b) => a - b));
  });

  it("a receiver that fails 3 times gets the event once it answers 2xx, after retries with doubling delays", async () => {
    const h = await hook(["user.updated"]);
    await configureHook(h.name, { secrets: { current: h.secret }, fail: 3 });
    const u = await registerUser();
    expect((await rename(u.access_token, "Retried Three Times")).status).toBe(200);
    const [ev] = (await eventsOf(u.user.id)).filter((e) => e.type === "user.updated");
    const deliveries = (await untilDelivered(h.name, [ev.id])).filter((d) => d.webhookId === ev.id);
    expect(deliveries.map((d) => d.answered)).toEqual([500, 500, 500, 204]);
    for (const d of deliveries) expect(d.verified).toEqual({ current: true });
    // The same event each time, signed afresh (each attempt its own webhook-timestamp).
    expect(new Set(deliveries.map((d) => d.body)).size).toBe(1);
    const delivery = await deliveryOf(h, ev.id, (d) => d.status === "succeeded");
    expect(delivery).toMatchObject({ status: "succeeded", attempts: 4, response_status: 204, next_attempt_at: null });
    const log = delivery.attempt_log as {
      at: string;
      next_retry_at: string | null;
      response_status: number | null;
      error: string | null;
    }[];
    expect(log.map((a) => [a.response_status, a.error])).toEqual([
      [500, "status"],
      [500, "status"],
      [500, "status"],
      [204, null],
    ]);
    // The recorded delays: WEBHOOK_RETRY_INITIAL_DELAY (1 s in the tests), doubling.
    expect(log.slice(0, 3).map((a) => Date.parse(a.next_retry_at as string) - Date.parse(a.at))).toEqual([1000, 2000, 4000]);
    expect(log[3].next_retry_at).toBeNull();
  });

  it("a receiver that hangs past WEBHOOK_TIMEOUT: the attempt is given up and retried", async () => {
    const h = await hook(["user.updated"]);
    await configureHook(h.name, { secrets: { current: h.secret }, hang: 1 });
    const u = await registerUser();
    expect((await rename(u.access_token, "Hung Up On")).status).toBe(200);
    const [ev] = (await eventsOf(u.user.id)).filter((e) => e.type === "user.updated");
    const deliveries = (await untilDelivered(h.name, [ev.id])).filter((d) => d.webhookId === ev.id);
    expect(deliveries.map((d) => d.answered)).toEqual([null, 204]);
    const delivery = await deliveryOf(h, ev.id, (d) => d.status === "succeeded");
    expect(delivery.attempt_log.map((a: { error: string | null; response_status: number | null }) => [a.error, a.response_status])).toEqual(
      [
        ["timeout", null],
        [null, 204],
      ],
    );
    // The Worker closed the held request when it gave up on it.
    await eventually("the held request closed", async () => ((await received(h.name)).held === 0 ? true : undefined));
  });

  it("secret rotation: both secrets sign during WEBHOOK_SECRET_GRACE (two v1 signatures), only the new one after it", async () => {
    const h = await hook(["user.updated"]);
    const res = await adminCall(`/webhooks/${h.endpoint.id}/rotate-secret`, admin.token, clock, { method: "POST" });
    expect(res.status).toBe(200);
    const rotated = await json(res);
    expect(rotated.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(rotated.secret).not.toBe(h.secret);
    expect(Date.parse(rotated.endpoint.previous_secret_expires_at)).toBe(clock.now().getTime() + 24 * 3600_000);
    await configureHook(h.name, { secrets: { old: h.secret, new: rotated.secret } });

    const u = await registerUser();
    await rename(u.access_token, "During Grace");
    const [during] = (await eventsOf(u.user.id)).filter((e) => e.type === "user.updated");
    const [first] = (await untilDelivered(h.name, [during.id])).filter((d) => d.webhookId === during.id);
    expect(first.verified).toEqual({ old: true, new: true });
    expect(first.webhookSignature.split(" ")).toHaveLength(2);
    for (const sig of first.webhookSignature.split(" ")) expect(sig).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/);

    // The grace period is over (as if WEBHOOK_SECRET_GRACE had passed): the old secret no longer signs.
    await withDb(
      (db) => db`update auth_webhook_endpoints set previous_secret_expires_at = now() - interval '1 second' where id = ${h.endpoint.id}`,
    );
    await rename(u.access_token, "After Grace");
    const after = (await eventsOf(u.user.id)).filter((e) => e.type === "user.updated")[1];
    const [second] = (await untilDelivered(h.name, [after.id])).filter((d) => d.webhookId === after.id);
    expect(second.verified).toEqual({ old: false, new: true });
    expect(second.webhookSignature.split(" ")).toHaveLength(1);
  });

  it("per-account order holds under 50 parallel changes (5 accounts, 10 each): every event once, in position order per account", async () => {
    const h = await hook(["user.updated"]);
    const accounts = await Promise.all(Array.from({ length: 5 }, () => registerUser()));
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => rename(accounts[i % 5].access_token, `Parallel Name ${i}`).then((r) => r.status)),
    );
    expect(results).toEqual(Array(50).fill(200));
    const stored = new Map<string, string[]>();
    for (const a of accounts)
      stored.set(
        a.user.id,
        (await eventsOf(a.user.id)).filter((e) => e.type === "user.updated").map((e) => e.id),
      );
    expect([...stored.values()].flat()).toHaveLength(50);
    const deliveries = await untilDelivered(h.name, [...stored.values()].flat());
    for (const a of accounts) {
      const got = eventsFor(deliveries, a.user.id);
      expect(got.map((d) => d.webhookId).sort()).toEqual([...(stored.get(a.user.id) ?? [])].sort());
      const positions = got.map((d) => d.payload.position as number);
      expect(positions).toEqual([...positions].sort((x, y) => x - y));
      // No event of the account went out before an earlier one was acknowledged: every request's
      // predecessor (if any) had been answered 2xx before it arrived.
      const answeredAt = new Map<string, number>();
      for (const d of deliveries.filter((x) => x.payload?.data?.user_id === a.user.id)) {
        const i = positions.indexOf(d.payload.position);
        if (i > 0) expect(answeredAt.has(got[i - 1].webhookId)).toBe(true);
        if (d.answered !== null && d.answered < 300 && !answeredAt.has(d.webhookId)) answeredAt.set(d.webhookId, d.receivedAt);
      }
    }
    for (const d of deliveries) expect(d.verified).toEqual({ current: true });
  });

  it("a disabled endpoint gets nothing; enabled again, it gets the events from then on", async () => {
    const off = await hook(["user.updated"]);
    const on = await hook(["user.updated"]);
    const res = await adminCall(`/webhooks/${off.endpoint.id}`, admin.token, clock, { method: "PATCH", body: { enabled: false } });
    expect(res.status).toBe(200);
    expect((await json(res)).endpoint).toMatchObject({ status: "disabled", disabled_reason: "admin" });
    const u = await registerUser();
    await rename(u.access_token, "While Disabled");
    const [whileOff] = (await eventsOf(u.user.id)).filter((e) => e.type === "user.updated");
    await untilDelivered(on.name, [whileOff.id]);
    expect((await received(off.name)).deliveries).toEqual([]);
    expect(await deliveriesCount(off.endpoint.id)).toBe(0);

    const enabled = await adminCall(`/webhooks/${off.endpoint.id}`, admin.token, clock, { method: "PATCH", body: { enabled: true } });
    expect((await json(enabled)).endpoint).toMatchObject({ status: "active", disabled_reason: null });
    await rename(u.access_token, "Enabled Again");
    const [, afterOn] = (await eventsOf(u.user.id)).filter((e) => e.type === "user.updated");
    const got = await untilDelivered(off.name, [afterOn.id]);
    expect(got.map((d) => d.webhookId)).toEqual([afterOn.id]);
  });

  it("a receiver that hangs never slows a change: the request answers while its event waits behind a held delivery", async () => {
    const h = await hook(["user.updated"]);
    await configureHook(h.name, { secrets: { current: h.secret }, hang: 1000 });
    const u = await registerUser();
    await rename(u.access_token, "First Held");
    await eventually("the first delivery held by the receiver", async () => ((await received(h.name)).held > 0 ? true : undefined));
    // The account's next event can only go out after the first one is acknowledged (order per
    // account), which the receiver never does: a request that waited for delivery could not answer
    // without the receiver having its event.
    const res = await rename(u.access_token, "Second Waits");
    expect(res.status).toBe(200);
    const second = (await eventsOf(u.user.id)).filter((e) => e.type === "user.updated")[1];
    expect((await received(h.name)).deliveries.map((d) => d.webhookId)).not.toContain(second.id);
    await deleteHook(admin, clock, h);
  });

  it("nothing is lost when the wake-up cannot be sent: the cron's sweep delivers it", async () => {
    const h = await hook(["user.updated"]);
    const u = await registerUser();
    const broken = {
      send: async () => {
        throw new Error("queue unavailable");
      },
      sendBatch: async () => {
        throw new Error("queue unavailable");
      },
    };
    const body = new FormData();
    body.append("full_name", "Never Announced");
    const res = await call("/auth/update-profile", { body, token: u.access_token, env: { WEBHOOK_QUEUE: broken } });
    expect(res.status).toBe(200);
    const [ev] = (await eventsOf(u.user.id)).filter((e) => e.type === "user.updated");
    await runScheduled();
    const [got] = (await untilDelivered(h.name, [ev.id])).filter((d) => d.webhookId === ev.id);
    expect(got.verified).toEqual({ current: true });
  });

  it("a delivery whose consumer died mid-attempt (its claim expired) is woken by the sweep and sent again", async () => {
    const h = await hook(["user.reactivated"]);
    const u = await registerUser();
    // The event and its delivery, claimed by a consumer that then died: written together, so no
    // dispatcher creates (and wakes) the delivery itself; only the sweep can find it.
    const { db, end } = directDb();
    const deliveryId = crypto.randomUUID();
    let eventId = "";
    try {
      await db.transaction(async (tx) => {
        await recordEvent(tx, event("user.reactivated", { userId: u.user.id, actor: SYSTEM, at: new Date(), data: {} }));
        const [row] = await tx.execute<{ id: string }>(
          sql`select id from auth_events where user_id = ${u.user.id} and type = 'user.reactivated'`,
        );
        eventId = row.id;
        await tx.execute(sql`
          insert into auth_webhook_deliveries (id, endpoint_id, event_id, user_id, position, status, attempts, window_attempts,
                                               window_started_at, next_attempt_at, lease_until, created_at)
          values (${deliveryId}, ${h.endpoint.id}, ${eventId}, ${u.user.id}, 0, 'pending', 1, 1,
                  now() - interval '2 minutes', now() - interval '2 minutes', now() - interval '1 minute', now() - interval '2 minutes')`);
      });
      await sequenceEvents(db);
      await db.execute(sql`update auth_webhook_deliveries d set position = e.position from auth_events e
                            where d.id = ${deliveryId} and e.id = d.event_id`);
    } finally {
      await end();
    }
    expect((await received(h.name)).deliveries).toEqual([]);
    await runScheduled();
    const [got] = (await untilDelivered(h.name, [eventId])).filter((d) => d.webhookId === eventId);
    expect(got.verified).toEqual({ current: true });
    expect(await deliveryOf(h, eventId, (d) => d.status === "succeeded")).toMatchObject({ attempts: 2 });
  });

  it("a run of given-up deliveries disables the endpoint and mails the admins; an admin retries a failed one", async () => {
    const h = await hook(["user.updated"]);
    await configureHook(h.name, { secrets: { current: h.secret }, fail: 1_000_000, failStatus: 503 });
    const [a, b] = await Promise.all([registerUser(), registerUser()]);
    await Promise.all([rename(a.access_token, "Never Acknowledged"), rename(b.access_token, "Never Acknowledged")]);
    const [ea] = (await eventsOf(a.user.id)).filter((e) => e.type === "user.updated");
    const [eb] = (await eventsOf(b.user.id)).filter((e) => e.type === "user.updated");
    // WEBHOOK_RETRY_MAX_AGE is 30 s in the tests and WEBHOOK_DISABLE_AFTER 2.
    const endpoint = await eventually("the endpoint disabled", async () => {
      const list = await adminGet("/webhooks", admin.token, clock);
      const e = list.endpoints.find((x: { id: string }) => x.id === h.endpoint.id);
      return e.status === "disabled" ? e : undefined;
    });
    expect(endpoint).toMatchObject({ disabled_reason: "failures", failure_streak: 2 });
    for (const id of [ea.id, eb.id]) {
      const d = await deliveryOf(h, id, (x) => x.status === "failed");
      expect(d.next_attempt_at).toBeNull();
      const log = d.attempt_log as { at: string; next_retry_at: string | null; response_status: number | null }[];
      expect(log.length).toBeGreaterThanOrEqual(2);
      expect(log.every((x) => x.response_status === 503)).toBe(true);
      expect(log.at(-1)?.next_retry_at).toBeNull();
      const delays = log.slice(0, -1).map((x) => Date.parse(x.next_retry_at as string) - Date.parse(x.at));
      expect(delays).toEqual(delays.map((_, i) => 1000 * 2 ** i));
    }
    const mail = await eventually("the admins' mail", async () =>
      (await mailsTo(admin.user.email, "webhook_disabled")).find((m) => m.text.includes(h.endpoint.id)),
    );
    expect(mail.text).toContain(new URL(h.url).origin);
    expect(mail.text).not.toContain(h.name);
    const audit = await withDb(
      (db) =>
        db`select event, actor_id, detail from auth_audit_events where event = 'webhook_disabled' and detail->>'webhook_id' = ${h.endpoint.id}`,
    );
    expect(audit.map((r) => [r.actor_id, r.detail])).toEqual([[null, { webhook_id: h.endpoint.id, reason: "failures", failures: 2 }]]);

    // Disabled: nothing to retry. Enabled again with a working receiver: the failed delivery goes out.
    const failed = await deliveryOf(h, ea.id, () => true);
    const retry = () => adminCall(`/webhooks/${h.endpoint.id}/deliveries/${failed.id}/retry`, admin.token, clock, { method: "POST" });
    const refused = await retry();
    expect(refused.status).toBe(409);
    expect((await json(refused)).code).toBe("webhook_disabled");
    await configureHook(h.name, { secrets: { current: h.secret } });
    expect((await adminCall(`/webhooks/${h.endpoint.id}`, admin.token, clock, { method: "PATCH", body: { enabled: true } })).status).toBe(
      200,
    );
    const accepted = await retry();
    expect(accepted.status).toBe(202);
    expect((await json(accepted)).delivery).toMatchObject({ id: failed.id, status: "pending" });
    await untilDelivered(h.name, [ea.id]);
    expect(await deliveryOf(h, ea.id, (x) => x.status === "succeeded")).toMatchObject({ response_status: 204 });
    expect((await adminAuditRows(admin.user.user.id)).map((r) => r.event)).toContain("webhook_delivery_retried");
  });
});
