import { z } from "zod";

/**
 * The identity events other services learn from (docs/services.md): every type once, with the
 * schema of its `data` beyond the fields every event has (`user_id`, `actor`). The outbox
 * (outbox.ts) validates each event against its schema when it is written, the events feed and the
 * webhooks answer them in the same envelope (EventPayload), and the OpenAPI document lists each as
 * an OpenAPI 3.1 webhook (src/routes/events.ts). A new feature adds its type here and a row in
 * docs/services.md (a test checks).
 *
 * An event never carries a secret or a personal value (no email, name, password, code or token):
 * the ids and the names of what changed. A service that needs the values reads the account.
 */

/** Who made the change: the account's owner, an administrator (the admin API), or the service itself (the purge, reuse detection, operator commands). */
const ACTOR_TYPES = ["self", "admin", "system"] as const;
type ActorType = (typeof ACTOR_TYPES)[number];
export interface Actor {
  type: ActorType;
  /** The user id of the owner or the administrator; null for `system`. */
  id: string | null;
}
export const self = (userId: string): Actor => ({ type: "self", id: userId });
export const byAdmin = (adminId: string): Actor => ({ type: "admin", id: adminId });
export const SYSTEM: Actor = { type: "system", id: null };

/** The fields of the public user (src/auth/account/users.ts) a `user.updated` can name. */
const USER_FIELDS = ["full_name", "email", "avatar", "role", "requested_role", "locale"] as const;
export type UserField = (typeof USER_FIELDS)[number];

/**
 * Why a session ended (`auth_sessions.revoked_reason` and `session.revoked`'s `reason`), one value
 * per flow that ends sessions.
 */
const REVOKE_REASONS = [
  "logout",
  "logout_all",
  "ended_by_user",
  "token_revoked",
  "refresh_reuse",
  "revoked_by_admin",
  "suspended",
  "role_lowered",
  "password_changed",
  "password_reset",
  "email_changed",
  "email_change_reverted",
  "email_verified",
  "mfa_enabled",
  "identity_unlinked",
  "account_deletion",
  "admin_setup",
] as const;
export type RevokeReason = (typeof REVOKE_REASONS)[number];

/** What a `credentials.changed` is about, and what happened to it. */
export const CREDENTIALS = ["password", "totp", "recovery_codes", "identity", "passkey"] as const;
export const CREDENTIAL_CHANGES = [
  "set",
  "changed",
  "reset",
  "enabled",
  "disabled",
  "regenerated",
  "linked",
  "unlinked",
  "added",
  "removed",
] as const;

const uuid = () => z.string().uuid().max(36);
const none = z.strictObject({});

/** Each event type: when it is written, and its own fields. */
export const EVENT_TYPES = {
  "user.created": {
    description: "An account was created: registration, a first social sign-in, an operator's create-admin or import-users.",
    data: z.strictObject({
      role: z.string().max(50),
      /** How: `password` (registration), `google`/`apple` (first social sign-in), `create_admin`, `import`. */
      method: z.string().max(32),
    }),
  },
  "user.updated": {
    description:
      "The public fields named in `fields` changed (name, avatar, email, role, requested role, language); the values are not in the event: read the account.",
    data: z.strictObject({ fields: z.array(z.enum(USER_FIELDS)).min(1).max(USER_FIELDS.length) }),
  },
  "user.email_verified": {
    description:
      "The account's address counts as verified where it did not before (a verification code, a sign-in code, a reset, an email change).",
    data: none,
  },
  "user.suspended": { description: "An administrator suspended the account: sign-in is refused and every session ended.", data: none },
  "user.reactivated": { description: "A suspended account is active again (an administrator, or create-admin --reactivate).", data: none },
  "user.deletion_requested": {
    description: "The owner asked to delete the account: every session ended; restorable until `due_at`, then anonymised (user.deleted).",
    data: z.strictObject({ due_at: z.string().datetime().max(30) }),
  },
  "user.restored": {
    description:
      "A pending deletion was undone (the owner's mailed restore code, or an administrator's cancel): the account is active again.",
    data: none,
  },
  "user.deleted": {
    description:
      "The account was anonymised after its deletion grace period: the row stays (same id) without name, address or credentials.",
    data: none,
  },
  "session.revoked": {
    description: "A session ended before its expiry: its access and refresh tokens are no longer valid. One event per session.",
    data: z.strictObject({ sid: uuid(), reason: z.enum(REVOKE_REASONS) }),
  },
  "credentials.changed": {
    description: "A way into the account changed: the password, two-factor sign-in, recovery codes, a linked identity, a passkey.",
    data: z.strictObject({
      credential: z.enum(CREDENTIALS),
      change: z.enum(CREDENTIAL_CHANGES),
      /** A linked identity's provider (`google`, `apple`). */
      provider: z.string().max(32).optional(),
    }),
  },
  "role.changed": {
    description: "The account's role changed (an administrator, or create-admin).",
    data: z.strictObject({ from: z.string().max(50), to: z.string().max(50) }),
  },
} as const satisfies Record<string, { description: string; data: z.ZodObject }>;

export type EventType = keyof typeof EVENT_TYPES;
export const EVENT_TYPE_NAMES = Object.keys(EVENT_TYPES) as [EventType, ...EventType[]];
export type EventData<T extends EventType> = z.input<(typeof EVENT_TYPES)[T]["data"]>;

/** The actor as events carry it. */
const ActorSchema = z.object({ type: z.enum(ACTOR_TYPES), id: uuid().nullable() });

/**
 * The envelope of one event type, as the feed and the webhooks deliver it:
 * `{id, type, timestamp, position, data: {user_id, actor, ...fields}}`.
 */
export function payloadSchema<T extends EventType>(type: T) {
  return z.object({
    id: uuid(),
    type: z.literal(type),
    timestamp: z.string().datetime().max(30),
    position: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
    data: (EVENT_TYPES[type].data as z.ZodObject).extend({ user_id: uuid(), actor: ActorSchema }),
  });
}

export interface EventPayload {
  id: string;
  type: EventType;
  timestamp: string;
  position: number;
  data: { user_id: string; actor: Actor } & Record<string, unknown>;
}
