import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { toPayload } from "../../../src/auth/events/outbox";
import { EVENT_TYPE_NAMES } from "../../../src/auth/events/types";
import { login, PASSWORD, registerUser } from "../../support/accounts";
import { type AdminAccount, adminAccount, adminCall } from "../../support/admin";
import { fakeClock } from "../../support/clock";
import { directDb, eventsOf } from "../../support/events";
import { createHook, deleteHook, eventsFor, type TestHook, untilDelivered } from "../../support/webhooks";
import { call, json } from "../../support/worker";

/**
 * Webhook delivery through the real Worker, Postgres and the Queue emulation: requests that write
 * events send a wake-up, the Worker's own queue() handler delivers, and the receiver (a Node
 * server, scripts/stack/webhook-receiver.ts) verifies every delivery with the `standardwebhooks`
 * library. Settings for the tests (test/support/global-setup.ts): WEBHOOK_TIMEOUT 5 s, retries
 * from 1 s, given up after 30 s, disabled after 2 given up in a row.
 */
const clock = fakeClock();
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
    const rows = await db.query.authEvents.findMany({ where: (e, { inArray }) => inArray(e.id, ids) });
    return new Map(rows.map((r) => [r.id, r.position === null ? null : toPayload(r)]));
  } finally {
    await end();
  }
}

/** POST /auth/update-profile (multipart) with a new name: one user.updated. */
const rename = (token: string, fullName: string) => {
  const body = new FormData();
  body.append("full_name", fullName);
  return call("/auth/update-profile", { body, token });
};

describe("webhook delivery", () => {
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
});
