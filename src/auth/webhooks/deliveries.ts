import { and, desc, eq, lt } from "drizzle-orm";
import { UNCACHED } from "../../db/client";
import { authEvents, type WebhookDelivery, webhookDeliveries, webhookEndpoints } from "../../db/schema";
import { type Deps, type RequestMeta, withDb } from "../../deps";
import { apiError } from "../../errors";
import { recordAdmin } from "../admin/record";
import type { Authenticated } from "../sessions/sessions";
import type { AttemptError } from "./delivery";
import { wakePairs } from "./queue";

/**
 * An endpoint's deliveries in the admin API: the list (newest event first, each with its attempts)
 * and a manual retry, which makes a delivery pending again with a new retry window (the same
 * back-off and WEBHOOK_RETRY_MAX_AGE from now). A retried delivery is its account's next one for
 * the endpoint: later events of that account wait for it, as for any delivery.
 */

const d = webhookDeliveries;
const w = webhookEndpoints;

/** One attempt as the delivery's log keeps it (delivery.ts). */
interface Attempt {
  at: string;
  latency_ms: number;
  response_status: number | null;
  error: AttemptError | null;
  next_retry_at: string | null;
}

const publicDelivery = (row: WebhookDelivery, eventType: string) => ({
  id: row.id,
  event_id: row.eventId,
  event_type: eventType,
  user_id: row.userId,
  position: row.position,
  status: row.status as "pending" | "succeeded" | "failed",
  attempts: row.attempts,
  created_at: row.createdAt.toISOString(),
  last_attempt_at: row.lastAttemptAt?.toISOString() ?? null,
  response_status: row.responseStatus,
  latency_ms: row.latencyMs,
  next_attempt_at: row.status === "pending" ? row.nextAttemptAt.toISOString() : null,
  delivered_at: row.deliveredAt?.toISOString() ?? null,
  attempt_log: row.attemptLog as Attempt[],
});

export const DELIVERY_STATUSES = ["pending", "succeeded", "failed"] as const;

export interface DeliveryFilters {
  status?: (typeof DELIVERY_STATUSES)[number];
  /** `next_cursor` of the previous page (digits: the position of its last delivery). */
  cursor?: string;
  limit: number;
}

async function endpointExists(deps: Deps, id: string): Promise<void> {
  const [row] = await deps.db.select({ id: w.id, fresh: UNCACHED }).from(w).where(eq(w.id, id));
  if (!row) throw apiError("webhook_not_found");
}

/** Newest event first, keyset-paginated on the event's position (unique per endpoint). */
export async function listDeliveries(deps: Deps, meta: RequestMeta, admin: Authenticated, endpointId: string, f: DeliveryFilters) {
  await endpointExists(deps, endpointId);
  const rows = await deps.db
    .select({ d, type: authEvents.type, fresh: UNCACHED })
    .from(d)
    .innerJoin(authEvents, eq(authEvents.id, d.eventId))
    .where(
      and(
        eq(d.endpointId, endpointId),
        f.status ? eq(d.status, f.status) : undefined,
        f.cursor ? lt(d.position, Number(f.cursor)) : undefined,
      ),
    )
    .orderBy(desc(d.position))
    .limit(f.limit + 1);
  const page = rows.slice(0, f.limit);
  await recordAdmin(deps, meta, admin, "admin_deliveries_viewed", null, {
    webhook_id: endpointId,
    status: f.status ?? null,
    page: f.cursor ? "next" : "first",
    results: page.length,
  });
  return {
    deliveries: page.map((r) => publicDelivery(r.d, r.type)),
    nextCursor: rows.length > f.limit ? String(page[page.length - 1].d.position) : null,
  };
}

/**
 * Send a delivery again (any status): pending from now, a new retry window. Refused while the
 * endpoint is disabled (409 webhook_disabled: nothing would be sent). A delivery with an attempt
 * in flight keeps it (its result is recorded, then the retry window applies).
 */
export async function retryDelivery(deps: Deps, meta: RequestMeta, admin: Authenticated, endpointId: string, deliveryId: string) {
  const now = deps.now();
  const { row, type } = await deps.db.transaction(async (tx) => {
    const [ep] = await tx.select({ status: w.status, fresh: UNCACHED }).from(w).where(eq(w.id, endpointId)).for("share");
    if (!ep) throw apiError("webhook_not_found");
    if (ep.status !== "active") throw apiError("webhook_disabled");
    const [before] = await tx
      .select({ status: d.status, type: authEvents.type, fresh: UNCACHED })
      .from(d)
      .innerJoin(authEvents, eq(authEvents.id, d.eventId))
      .where(and(eq(d.id, deliveryId), eq(d.endpointId, endpointId)))
      .for("update", { of: d });
    if (!before) throw apiError("webhook_delivery_not_found");
    const [row] = await tx
      .update(d)
      .set({ status: "pending", nextAttemptAt: now, windowStartedAt: now, windowAttempts: 0, deliveredAt: null })
      .where(eq(d.id, deliveryId))
      .returning();
    await recordAdmin(withDb(deps, tx), meta, admin, "webhook_delivery_retried", row.userId, {
      webhook_id: endpointId,
      delivery_id: deliveryId,
      event_id: row.eventId,
      status_from: before.status,
    });
    return { row, type: before.type };
  });
  await wakePairs(deps, [{ endpoint: endpointId, user: row.userId }]);
  return publicDelivery(row, type);
}
