import { expect, inject } from "vitest";
import type { ReceivedDelivery } from "../../scripts/stack/webhook-receiver.ts";
import { type AdminAccount, adminCall } from "./admin";
import type { fakeClock } from "./clock";
import { json } from "./worker";

type Clock = ReturnType<typeof fakeClock>;

/** The local receiver (scripts/stack/webhook-receiver.ts): every delivery verified with `standardwebhooks`. */
const receiverUrl = () => inject("webhookReceiver");

export interface TestHook {
  /** The receiver's name for it (its URL ends in /hooks/<name>). */
  name: string;
  url: string;
  /** The endpoint as the admin API answered its creation. */
  endpoint: { id: string; status: string; events: string[] };
  secret: string;
}

/** What the receiver should do with a hook's next deliveries, and the secrets it verifies them with. */
export async function configureHook(
  name: string,
  opts: { secrets?: Record<string, string>; fail?: number; failStatus?: number; hang?: number } = {},
) {
  const res = await fetch(`${receiverUrl()}/_control/hooks/${name}`, { method: "PUT", body: JSON.stringify(opts) });
  expect(res.status).toBe(200);
}

/** Every delivery the receiver got for a hook, oldest first, and how many it holds open now. */
export async function received(name: string): Promise<{ deliveries: ReceivedDelivery[]; held: number }> {
  const res = await fetch(`${receiverUrl()}/_control/hooks/${name}`);
  expect(res.status).toBe(200);
  return res.json();
}

/**
 * A webhook endpoint made through the admin API, pointing at a fresh hook of the receiver, which
 * verifies its deliveries with the secret (label `current`).
 */
export async function createHook(admin: AdminAccount, clock: Clock, events: string[], description = "test hook"): Promise<TestHook> {
  const name = `hook-${crypto.randomUUID()}`;
  const url = `${receiverUrl()}/hooks/${name}`;
  const res = await adminCall("/webhooks", admin.token, clock, { method: "POST", body: { url, events, description } });
  expect(res.status, await res.clone().text()).toBe(201);
  const body = await json(res);
  await configureHook(name, { secrets: { current: body.secret } });
  return { name, url, endpoint: body.endpoint, secret: body.secret };
}

/** Delete an endpoint (the end of a test: nothing more goes to its hook). */
export async function deleteHook(admin: AdminAccount, clock: Clock, hook: TestHook) {
  const res = await adminCall(`/webhooks/${hook.endpoint.id}`, admin.token, clock, { method: "DELETE" });
  expect([200, 404]).toContain(res.status);
}

/**
 * Poll until `check` returns a value (not undefined), for at most `limitMs`: deliveries go
 * through the Queue and arrive in their own time. The limit only ends a test that would otherwise
 * hang; no assertion depends on how long it took.
 */
export async function eventually<T>(what: string, check: () => Promise<T | undefined>, limitMs = 120_000): Promise<T> {
  const until = Date.now() + limitMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > until) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The distinct events a hook received for an account, in order of first arrival. */
export function eventsFor(deliveries: ReceivedDelivery[], userId: string) {
  const seen = new Map<string, ReceivedDelivery>();
  for (const d of deliveries) if (d.payload?.data?.user_id === userId && !seen.has(d.webhookId)) seen.set(d.webhookId, d);
  return [...seen.values()];
}

/** Wait until the hook has answered 2xx to each of these event ids at least once; returns every delivery so far. */
export const untilDelivered = (name: string, ids: string[]) =>
  eventually(`${ids.length} event(s) delivered to ${name}`, async () => {
    const { deliveries } = await received(name);
    const ok = new Set(deliveries.filter((d) => d.answered !== null && d.answered < 300).map((d) => d.webhookId));
    return ids.every((id) => ok.has(id)) ? deliveries : undefined;
  });
