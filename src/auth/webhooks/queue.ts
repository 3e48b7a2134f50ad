import type { Deps } from "../../deps";
import { describeError } from "../../log";

/**
 * The webhook Queue's messages are wake-ups, never the events themselves: the database holds what
 * to deliver and in which order (delivery.ts), so a lost, repeated or reordered message changes
 * nothing but when the work happens.
 *
 * - `events`: new events were committed (sent after a request that wrote some): turn them into
 *   deliveries and deliver them.
 * - `pair`: deliver what is due for one account at one endpoint (a retry after its back-off, the
 *   rest of a backlog, a manual retry, the sweep's catch-up).
 */
export type WebhookMessage = { kind: "events" } | { kind: "pair"; endpoint: string; user: string };

export interface Pair {
  endpoint: string;
  user: string;
}

export const pairKey = (p: Pair) => `${p.endpoint}:${p.user}`;

/** Queues accept at most 100 messages per sendBatch. */
const SEND_BATCH = 100;

const queueOf = (deps: Deps) => deps.env.WEBHOOK_QUEUE as Queue<WebhookMessage> | undefined;

/** Announce committed events. Never throws: a lost announcement is caught up by the sweep (dispatch.ts). */
export async function announceEvents(deps: Deps): Promise<void> {
  try {
    await queueOf(deps)?.send({ kind: "events" }, { contentType: "json" });
  } catch (err) {
    deps.log("warn", "webhook wake-up not sent; the sweep catches up", describeError(err));
  }
}

/** Wake pairs, each after `delaySeconds` (rounded up to whole seconds). Never throws (the sweep catches up). */
export async function wakePairs(deps: Deps, pairs: Pair[], delaySeconds = 0): Promise<void> {
  const queue = queueOf(deps);
  if (!queue || pairs.length === 0) return;
  const delay = Math.max(0, Math.ceil(delaySeconds));
  try {
    for (let i = 0; i < pairs.length; i += SEND_BATCH)
      await queue.sendBatch(
        pairs
          .slice(i, i + SEND_BATCH)
          .map((p) => ({ body: { kind: "pair" as const, endpoint: p.endpoint, user: p.user }, contentType: "json" })),
        { delaySeconds: delay },
      );
  } catch (err) {
    deps.log("warn", "webhook wake-up not sent; the sweep catches up", { pairs: pairs.length, ...describeError(err) });
  }
}
