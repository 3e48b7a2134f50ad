import { and, desc, eq, isNull, lt } from "drizzle-orm";
import { authSecret } from "../../config";
import { UNCACHED } from "../../db/client";
import { type ServiceClient, serviceClients } from "../../db/schema";
import { type Deps, type RequestMeta, withDb } from "../../deps";
import { apiError } from "../../errors";
import { msg } from "../../i18n/messages";
import { b64url, hmacHex, randomBytes, timingSafeEqual, utf8 } from "../../lib/encoding";
import { recordAdmin } from "../admin/record";
import type { Authenticated } from "../sessions/sessions";

/**
 * Service clients: the platform's other services calling this API on their own behalf (the events
 * feed, token introspection, account reads), with HTTP Basic authentication (RFC 7617) as
 * `client_id:client_secret`. Administrators create, list, rotate and revoke them through the admin
 * API; every change is audited in its transaction. The secret (256 random bits) is shown once and
 * stored only as HMAC-SHA-256 keyed with AUTH_SECRET and bound to the client id; the presented
 * one is compared with it in constant time.
 */

/** What a client may do, one scope per kind of call (docs/services.md#service-clients). */
export const SERVICE_SCOPES = {
  "events:read": "Read the identity events feed (GET /auth/events).",
  "tokens:introspect": "Ask whether a token is active (POST /auth/introspect, RFC 7662).",
  "users:read": "Read an account's public fields and status (GET /auth/users/{id}).",
} as const;
export type ServiceScope = keyof typeof SERVICE_SCOPES;
export const SCOPE_NAMES = Object.keys(SERVICE_SCOPES) as [ServiceScope, ...ServiceScope[]];

/** A client as the admin API answers it (never its secret or hash). */
const publicClient = (c: ServiceClient) => ({
  id: c.id,
  client_id: c.clientId,
  name: c.name,
  scopes: c.scopes as ServiceScope[],
  created_at: c.createdAt.toISOString(),
  created_by: c.createdBy,
  secret_rotated_at: c.secretRotatedAt?.toISOString() ?? null,
  revoked_at: c.revokedAt?.toISOString() ?? null,
  last_used_at: c.lastUsedAt?.toISOString() ?? null,
});

const newClientId = () => `svc_${b64url(randomBytes(16))}`;
const newSecret = () => b64url(randomBytes(32));
const secretHash = (deps: Deps, clientId: string, secret: string) =>
  hmacHex(authSecret(deps.config), `service-client:${clientId}:${secret}`);

export async function createClient(deps: Deps, meta: RequestMeta, admin: Authenticated, input: { name: string; scopes: ServiceScope[] }) {
  const clientId = newClientId();
  const secret = newSecret();
  const scopes = [...new Set(input.scopes)];
  const client = await deps.db.transaction(async (tx) => {
    const [row] = await tx
      .insert(serviceClients)
      .values({
        id: crypto.randomUUID(),
        clientId,
        name: input.name.trim(),
        scopes,
        secretHash: await secretHash(deps, clientId, secret),
        createdAt: deps.now(),
        createdBy: admin.user.id,
      })
      .returning();
    await recordAdmin(withDb(deps, tx), meta, admin, "service_client_created", null, { client_id: clientId, scopes: scopes.join(" ") });
    return row;
  });
  return { client: publicClient(client), secret };
}

export async function listClients(deps: Deps, meta: RequestMeta, admin: Authenticated) {
  const rows = await deps.db
    .select({ c: serviceClients, fresh: UNCACHED })
    .from(serviceClients)
    .orderBy(desc(serviceClients.createdAt), desc(serviceClients.id))
    .limit(1000);
  await recordAdmin(deps, meta, admin, "admin_service_clients_listed", null, { results: rows.length });
  return rows.map((r) => publicClient(r.c));
}

/** A live client's row, locked for the change; 404 service_client_not_found (revoked ones too). */
async function changeClient(
  deps: Deps,
  meta: RequestMeta,
  admin: Authenticated,
  id: string,
  change: (client: ServiceClient) => Promise<Partial<ServiceClient>>,
  event: "service_client_secret_rotated" | "service_client_revoked",
) {
  return deps.db.transaction(async (tx) => {
    const [row] = await tx
      .select({ c: serviceClients, fresh: UNCACHED })
      .from(serviceClients)
      .where(and(eq(serviceClients.id, id), isNull(serviceClients.revokedAt)))
      .for("update");
    if (!row) throw apiError("service_client_not_found");
    const [updated] = await tx
      .update(serviceClients)
      .set(await change(row.c))
      .where(eq(serviceClients.id, id))
      .returning();
    await recordAdmin(withDb(deps, tx), meta, admin, event, null, { client_id: row.c.clientId });
    return updated;
  });
}

/** A new secret; the old one stops working at once. Shown once. */
export async function rotateClientSecret(deps: Deps, meta: RequestMeta, admin: Authenticated, id: string) {
  const secret = newSecret();
  const rotate = async (c: ServiceClient) => ({ secretHash: await secretHash(deps, c.clientId, secret), secretRotatedAt: deps.now() });
  const client = await changeClient(deps, meta, admin, id, rotate, "service_client_secret_rotated");
  return { client: publicClient(client), secret };
}

/** Revoked: its calls answer 401 invalid_client from the next one on. Kept (audit), purged later. */
export async function revokeClient(deps: Deps, meta: RequestMeta, admin: Authenticated, id: string) {
  const client = await changeClient(deps, meta, admin, id, async () => ({ revokedAt: deps.now() }), "service_client_revoked");
  return publicClient(client);
}

const invalidClient = () => apiError("invalid_client", { headers: { "WWW-Authenticate": 'Basic realm="services", charset="UTF-8"' } });

/** `Authorization: Basic base64(client_id:client_secret)` (each form-urlencoded, RFC 6749 2.3.1), or null. */
function basicCredentials(header: string | undefined): { clientId: string; secret: string } | null {
  const m = header ? /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header) : null;
  if (!m) return null;
  try {
    const decoded = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(
      Uint8Array.from(atob(m[1]), (ch) => ch.charCodeAt(0)),
    );
    const colon = decoded.indexOf(":");
    if (colon < 0) return null;
    return { clientId: decodeURIComponent(decoded.slice(0, colon)), secret: decodeURIComponent(decoded.slice(colon + 1)) };
  } catch {
    return null;
  }
}

/** Once a minute at most: when a client was last seen (for its administrators), after the response. */
const LAST_USED_EVERY = 60_000;

/**
 * The live client these credentials prove (401 invalid_client otherwise: unknown, wrong secret,
 * revoked), holding `scope` (403 insufficient_scope). Read past Hyperdrive's cache: a revocation
 * takes effect on the next call.
 */
export async function authenticateClient(deps: Deps, header: string | undefined, scope: ServiceScope): Promise<ServiceClient> {
  const creds = basicCredentials(header);
  if (!creds || creds.clientId.length > 64 || creds.secret.length > 128) throw invalidClient();
  const [row] = await deps.db
    .select({ c: serviceClients, fresh: UNCACHED })
    .from(serviceClients)
    .where(eq(serviceClients.clientId, creds.clientId))
    .limit(1);
  // Computed for unknown clients too, so both paths do the same work.
  const presented = await secretHash(deps, creds.clientId, creds.secret);
  const stored = row?.c.secretHash ?? presented.replace(/./g, "0");
  if (!row || !timingSafeEqual(utf8(presented), utf8(stored)) || row.c.revokedAt) throw invalidClient();
  const client = row.c;
  if (!client.scopes.includes(scope))
    throw apiError("insufficient_scope", {
      message: msg("error.insufficient_scope.scope", { scope }),
    });
  const now = deps.now();
  if (!client.lastUsedAt || now.getTime() - client.lastUsedAt.getTime() > LAST_USED_EVERY)
    deps.waitUntil(
      deps.db
        .update(serviceClients)
        .set({ lastUsedAt: now })
        .where(eq(serviceClients.id, client.id))
        .then(() => undefined)
        .catch(() => undefined),
    );
  return client;
}

/** Revoked clients are kept this long (their audit rows name them), then purged. */
const REVOKED_KEPT = 90 * 86400 * 1000;

export async function purgeRevokedClients(deps: Deps, now: Date): Promise<number> {
  const gone = await deps.db
    .delete(serviceClients)
    .where(lt(serviceClients.revokedAt, new Date(now.getTime() - REVOKED_KEPT)))
    .returning({ id: serviceClients.id });
  return gone.length;
}
