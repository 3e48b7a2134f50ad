import { desc, eq, sql } from "drizzle-orm";
import type { Config } from "../../config";
import { UNCACHED } from "../../db/client";
import { authEvents, type WebhookEndpoint, webhookEndpoints } from "../../db/schema";
import { type Deps, type RequestMeta, withDb } from "../../deps";
import { apiError, fieldError } from "../../errors";
import type { MessageKey } from "../../i18n/messages";
import { parseIp } from "../../lib/ip";
import { isSecureOrLoopback } from "../../lib/url";
import { recordAdmin } from "../admin/record";
import { sequenceEvents } from "../events/outbox";
import type { EventType } from "../events/types";
import type { Authenticated } from "../sessions/sessions";
import { wakeEndpoint } from "./dispatch";
import { newSecret, sealSecret } from "./secrets";

/**
 * Webhook endpoints in the admin API (docs/webhooks.md): create (the signing secret shown once),
 * list, update (URL, event types, description, enabled), rotate the secret, delete. Every call is
 * audited with the acting admin; a change is audited in its transaction. The audit and the list
 * name an endpoint's URL, which administrators chose; the audit keeps only its origin (a path may
 * carry a token of the receiver's).
 */

const w = webhookEndpoints;

/** An endpoint as the admin API answers it (never a secret). */
const publicEndpoint = (e: WebhookEndpoint) => ({
  id: e.id,
  url: e.url,
  description: e.description,
  events: e.eventTypes as EventType[],
  status: e.status as "active" | "disabled",
  disabled_reason: (e.disabledReason ?? null) as "admin" | "failures" | null,
  disabled_at: e.disabledAt?.toISOString() ?? null,
  failure_streak: e.failureStreak,
  created_at: e.createdAt.toISOString(),
  created_by: e.createdBy,
  updated_at: e.updatedAt.toISOString(),
  secret_rotated_at: e.secretRotatedAt?.toISOString() ?? null,
  previous_secret_expires_at: e.previousSecret && e.previousSecretExpiresAt ? e.previousSecretExpiresAt.toISOString() : null,
});

/** Why a URL may not receive webhooks: the catalog key of the sentence that says so. */
type WebhookUrlProblem = Extract<MessageKey, `validation.webhook_url_${string}`>;

/**
 * Why a URL may not receive webhooks, or null. https only in production, where the host must
 * also be a public name or address (not localhost, a private, loopback or link-local address);
 * development and tests also allow plain http to this machine. Never credentials (user:password@:
 * deliveries prove themselves by their signature) nor a fragment.
 */
export function webhookUrlProblem(config: Config, raw: string): WebhookUrlProblem | null {
  if (!URL.canParse(raw)) return "validation.webhook_url_absolute";
  const u = new URL(raw);
  if (u.username || u.password) return "validation.webhook_url_credentials";
  if (u.hash) return "validation.webhook_url_fragment";
  const production = config.ENVIRONMENT === "production";
  if (u.protocol !== "https:" && !(u.protocol === "http:" && !production && isSecureOrLoopback(raw)))
    return production ? "validation.webhook_url_https" : "validation.webhook_url_https_or_local";
  if (production) {
    const host = u.hostname.replace(/^\[|\]$/g, "");
    const ip = parseIp(host);
    if (host === "localhost" || host.endsWith(".localhost") || (ip && ip.range() !== "unicast")) return "validation.webhook_url_public";
  }
  return null;
}

function checkUrl(config: Config, url: string): void {
  const problem = webhookUrlProblem(config, url);
  if (problem) throw fieldError("validation_failed", "url", { key: problem });
}

/** The origin of an endpoint's URL, for the audit log. */
const originOf = (url: string) => new URL(url).origin;

/** The position of the newest event: a new (or re-enabled) endpoint receives the events after it. */
async function newestPosition(deps: Deps): Promise<number> {
  await sequenceEvents(deps.db);
  const [row] = await deps.db.select({ max: sql<string | null>`max(${authEvents.position})`, fresh: UNCACHED }).from(authEvents);
  return Number(row?.max ?? 0);
}

export interface NewEndpoint {
  url: string;
  events: EventType[];
  description?: string;
}

export async function createEndpoint(deps: Deps, meta: RequestMeta, admin: Authenticated, input: NewEndpoint) {
  checkUrl(deps.config, input.url);
  const id = crypto.randomUUID();
  const secret = newSecret();
  const events = [...new Set(input.events)];
  const now = deps.now();
  const cursor = await newestPosition(deps);
  const endpoint = await deps.db.transaction(async (tx) => {
    const [row] = await tx
      .insert(w)
      .values({
        id,
        url: input.url,
        description: input.description?.trim() ?? "",
        eventTypes: events,
        secret: await sealSecret(deps.config, id, secret),
        cursor,
        createdAt: now,
        createdBy: admin.user.id,
        updatedAt: now,
      })
      .returning();
    await recordAdmin(withDb(deps, tx), meta, admin, "webhook_created", null, {
      webhook_id: id,
      url_origin: originOf(input.url),
      events: events.join(" "),
    });
    return row;
  });
  return { endpoint: publicEndpoint(endpoint), secret };
}

export async function listEndpoints(deps: Deps, meta: RequestMeta, admin: Authenticated) {
  const rows = await deps.db.select({ e: w, fresh: UNCACHED }).from(w).orderBy(desc(w.createdAt), desc(w.id)).limit(1000);
  await recordAdmin(deps, meta, admin, "admin_webhooks_listed", null, { results: rows.length });
  return rows.map((r) => publicEndpoint(r.e));
}

/** The endpoint's row, locked until the transaction ends; 404 webhook_not_found. */
async function lockEndpoint(deps: Deps, id: string): Promise<WebhookEndpoint> {
  const [row] = await deps.db.select({ e: w, fresh: UNCACHED }).from(w).where(eq(w.id, id)).for("update");
  if (!row) throw apiError("webhook_not_found");
  return row.e;
}

export interface EndpointChange {
  url?: string;
  events?: EventType[];
  description?: string;
  enabled?: boolean;
}

/**
 * PATCH: a new URL, event types or description take effect from the next delivery (deliveries
 * already made keep their events). `enabled: false` stops every delivery at once (nothing is sent
 * while disabled, and the events of that time are not queued for it); `enabled: true` resumes the
 * pending deliveries and receives the events from then on, with the failure streak reset.
 */
export async function updateEndpoint(deps: Deps, meta: RequestMeta, admin: Authenticated, id: string, change: EndpointChange) {
  if (change.url !== undefined) checkUrl(deps.config, change.url);
  const now = deps.now();
  // Read before the lock (it positions events, in a transaction of its own); a few events more may
  // follow before the commit: the endpoint receives those too.
  const cursor = change.enabled ? await newestPosition(deps) : 0;
  const { before, after } = await deps.db.transaction(async (tx) => {
    const before = await lockEndpoint(withDb(deps, tx), id);
    const enabling = change.enabled === true && before.status === "disabled";
    const disabling = change.enabled === false && before.status === "active";
    const [after] = await tx
      .update(w)
      .set({
        ...(change.url !== undefined ? { url: change.url } : {}),
        ...(change.events !== undefined ? { eventTypes: [...new Set(change.events)] } : {}),
        ...(change.description !== undefined ? { description: change.description.trim() } : {}),
        ...(enabling ? { status: "active", disabledReason: null, disabledAt: null, failureStreak: 0, cursor } : {}),
        ...(disabling ? { status: "disabled", disabledReason: "admin", disabledAt: now } : {}),
        updatedAt: now,
      })
      .where(eq(w.id, id))
      .returning();
    const fields = Object.keys(change).filter((k) => change[k as keyof EndpointChange] !== undefined);
    await recordAdmin(withDb(deps, tx), meta, admin, "webhook_updated", null, {
      webhook_id: id,
      fields: fields.join(" "),
      url_origin: originOf(after.url),
      status_from: before.status,
      status_to: after.status,
    });
    return { before, after };
  });
  if (before.status === "disabled" && after.status === "active") await wakeEndpoint(deps, id);
  return publicEndpoint(after);
}

/** A new signing secret, shown once; the old one also signs for WEBHOOK_SECRET_GRACE (then stops). */
export async function rotateEndpointSecret(deps: Deps, meta: RequestMeta, admin: Authenticated, id: string) {
  const secret = newSecret();
  const now = deps.now();
  const grace = deps.config.WEBHOOK_SECRET_GRACE;
  const endpoint = await deps.db.transaction(async (tx) => {
    const before = await lockEndpoint(withDb(deps, tx), id);
    const [after] = await tx
      .update(w)
      .set({
        secret: await sealSecret(deps.config, id, secret),
        previousSecret: grace > 0 ? before.secret : null,
        previousSecretExpiresAt: grace > 0 ? new Date(now.getTime() + grace * 1000) : null,
        secretRotatedAt: now,
        updatedAt: now,
      })
      .where(eq(w.id, id))
      .returning();
    await recordAdmin(withDb(deps, tx), meta, admin, "webhook_secret_rotated", null, { webhook_id: id, grace_seconds: grace });
    return after;
  });
  return { endpoint: publicEndpoint(endpoint), secret };
}

/** Deleted with its deliveries (ON DELETE CASCADE); an attempt in flight records nothing. */
export async function deleteEndpoint(deps: Deps, meta: RequestMeta, admin: Authenticated, id: string) {
  return deps.db.transaction(async (tx) => {
    const before = await lockEndpoint(withDb(deps, tx), id);
    await tx.delete(w).where(eq(w.id, id));
    await recordAdmin(withDb(deps, tx), meta, admin, "webhook_deleted", null, { webhook_id: id, url_origin: originOf(before.url) });
    return publicEndpoint(before);
  });
}
