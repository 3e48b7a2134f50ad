// Webhook delivery through the Queue, as measured by `npm run bench:webhooks` (scripts/bench/webhooks.ts)
// and by `npm run bench` (the "webhooks" probe, scripts/bench/scenarios.ts): profile changes (each one
// `user.updated`) sent to the Worker, their deliveries received and verified by the local receiver
// (scripts/stack/webhook-receiver.ts); events delivered per second and the delay from each change
// (the event's timestamp) to its first acknowledged delivery.

import type { ApiAnswer } from "./flows.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** How long a run waits for the last deliveries before it reports what is missing. */
const DRAIN_LIMIT_MS = 10 * 60_000;

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
export const summary = (values: number[]) => {
  const s = [...values].sort((a, b) => a - b);
  return { p50: percentile(s, 50), p90: percentile(s, 90), p99: percentile(s, 99), max: s[s.length - 1] ?? 0 };
};

export interface Received {
  webhookId: string;
  payload: { position: number; timestamp: string; data: { user_id: string } } | null;
  verified: Record<string, boolean>;
  receivedAt: number;
  answered: number | null;
}

/** The receiver's control API for one hook: register its secrets and behaviour (PUT) or read what it got. */
export const receiverControl =
  (receiverUrl: string) =>
  async (body?: unknown, hook = "bench") => {
    const res = await fetch(`${receiverUrl}/_control/hooks/${hook}`, body ? { method: "PUT", body: JSON.stringify(body) } : {});
    return res.json() as Promise<{ deliveries: Received[]; held: number }>;
  };

/** Wait until a hook has acknowledged `count` distinct events: the first acknowledged delivery of each, and every request. */
export async function drained(control: ReturnType<typeof receiverControl>, hook: string, count: number, limitMs = DRAIN_LIMIT_MS) {
  const firstOk = new Map<string, Received>();
  const until = Date.now() + limitMs;
  let all: Received[] = [];
  while (firstOk.size < count && Date.now() < until) {
    all = (await control(undefined, hook)).deliveries;
    for (const d of all) if (d.answered !== null && d.answered < 300 && !firstOk.has(d.webhookId)) firstOk.set(d.webhookId, d);
    if (firstOk.size < count) await sleep(limitMs < 60_000 ? 50 : 200);
  }
  if (firstOk.size < count) throw new Error(`${hook}: only ${firstOk.size} of ${count} events were delivered`);
  return { delivered: [...firstOk.values()], all };
}

/** Accounts whose first deliveries did not come in increasing position. */
export function outOfOrder(delivered: Received[]) {
  const byUser = new Map<string, number[]>();
  for (const d of [...delivered].sort((a, b) => a.receivedAt - b.receivedAt)) {
    const list = byUser.get(d.payload?.data.user_id ?? "") ?? [];
    list.push(d.payload?.position ?? 0);
    byUser.set(d.payload?.data.user_id ?? "", list);
  }
  return [...byUser.values()].filter((ps) => ps.some((p, i) => i > 0 && p < ps[i - 1])).length;
}

/** `n` profile changes (POST /auth/update-profile, a new name), `connections` at a time: each request's latency (ms) and status. */
export function profileChanges({
  apiUrl,
  tokens,
  n,
  connections,
  label,
  nextIp,
}: {
  apiUrl: string;
  tokens: string[];
  n: number;
  connections: number;
  label: string;
  nextIp: () => string;
}) {
  let next = 0;
  const out: { ms: number; status: number }[] = [];
  return Promise.all(
    Array.from({ length: Math.min(connections, n) }, async () => {
      while (next < n) {
        const i = next++;
        const body = new FormData();
        body.append("full_name", `Bench ${label} ${i}`);
        const started = performance.now();
        const res = await fetch(`${apiUrl}/auth/update-profile`, {
          method: "POST",
          headers: { authorization: `Bearer ${tokens[i % tokens.length]}`, "cf-connecting-ip": nextIp() },
          body,
        });
        await res.arrayBuffer();
        out[i] = { ms: performance.now() - started, status: res.status };
      }
    }),
  ).then(() => out);
}

/** A webhook endpoint for `user.updated` on the receiver's hook `hook`, made by an admin, its secret registered with the receiver. */
export async function createEndpoint({
  api,
  adminAuth,
  receiverUrl,
  hook,
}: {
  api: (method: string, path: string, body?: unknown, headers?: Record<string, string>) => Promise<ApiAnswer>;
  adminAuth: Record<string, string>;
  receiverUrl: string;
  hook: string;
}) {
  const created = await api(
    "POST",
    "/auth/admin/webhooks",
    { url: `${receiverUrl}/hooks/${hook}`, events: ["user.updated"], description: "bench" },
    adminAuth,
  );
  if (created.status !== 201) throw new Error(`creating the endpoint answered ${created.status} ${JSON.stringify(created.data)}`);
  await receiverControl(receiverUrl)({ secrets: { current: created.data.secret } }, hook);
  return { id: created.data.endpoint.id as string, secret: created.data.secret as string };
}

/**
 * Delivery under load: `changes` profile changes over the accounts of `tokens`, `connections` at a
 * time, to an endpoint already registered on the receiver's hook `hook`; then wait for every event's
 * first acknowledged delivery. Events per second from the first change to the last delivery.
 */
export async function measureDelivery({
  apiUrl,
  receiverUrl,
  hook,
  tokens,
  changes,
  connections,
  nextIp,
}: {
  apiUrl: string;
  receiverUrl: string;
  hook: string;
  tokens: string[];
  changes: number;
  connections: number;
  nextIp: () => string;
}) {
  const control = receiverControl(receiverUrl);
  const t0 = Date.now();
  const answered = await profileChanges({ apiUrl, tokens, n: changes, connections, label: "Name", nextIp });
  const tChanges = Date.now();
  const failedRequests = answered.filter((a) => a.status !== 200).length;
  if (failedRequests) throw new Error(`${failedRequests} changes did not answer 200`);
  const { delivered, all } = await drained(control, hook, changes);
  const tLast = Math.max(...delivered.map((d) => d.receivedAt));
  const unverified = all.filter((d) => !d.verified.current).length;
  const disordered = outOfOrder(delivered);
  const delay = summary(delivered.map((d) => d.receivedAt - Date.parse(d.payload?.timestamp ?? "")));
  return {
    answered,
    delivered,
    delivery: {
      events: changes,
      accounts: tokens.length,
      connections,
      changesPerSecond: Math.round((changes / ((tChanges - t0) / 1000)) * 10) / 10,
      eventsPerSecond: Math.round((changes / ((tLast - t0) / 1000)) * 10) / 10,
      drainAfterLastChangeMs: Math.max(0, tLast - tChanges),
      changeToDeliveryMs: delay,
      requests: all.length,
      repeats: all.length - delivered.length,
      unverified,
      accountsOutOfOrder: disordered,
    },
  };
}
