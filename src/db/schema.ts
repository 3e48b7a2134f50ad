import { sql } from "drizzle-orm";
import {
  type AnyPgColumn,
  bigint,
  boolean,
  index,
  integer,
  jsonb,
  pgTable,
  text,
  timestamp,
  uniqueIndex,
  uuid,
  varchar,
} from "drizzle-orm/pg-core";

const tz = { withTimezone: true, mode: "date" } as const;

/**
 * The table shared with the platform's other services. The first seven columns are the
 * existing contract and must not change; everything after them is added, nullable or defaulted.
 */
export const users = pgTable(
  "users",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    fullName: varchar("full_name", { length: 100 }).notNull(),
    email: varchar("email", { length: 255 }).notNull().unique(),
    password: text("password").notNull(),
    role: text("role").notNull(),
    avatar: text("avatar"),
    createdAt: timestamp("created_at", tz).defaultNow(),
    // added by this service
    emailVerifiedAt: timestamp("email_verified_at", tz),
    passwordChangedAt: timestamp("password_changed_at", tz),
    /** `active`, or a state that refuses sign-in (see src/auth/account/status.ts). */
    status: text("status").notNull().default("active"),
    /** INSTRUCTOR_APPROVAL=required: the role asked for at registration, until an admin decides (src/auth/admin/). */
    requestedRole: text("requested_role"),
    /** `deletion_pending`: when the purge anonymises the row unless it is restored first (src/auth/account/deletion.ts). */
    deletionDueAt: timestamp("deletion_due_at", tz),
    /** The language of the account's mails (src/i18n/locales.ts); null: the request's. Not constrained here: a locale list change needs no migration. */
    locale: text("locale"),
    /**
     * The account's WebAuthn user handle (`user.id` of every passkey it creates, base64url of 32
     * random bytes, never the email): set with its first passkey, cleared by anonymisation.
     */
    webauthnUserId: text("webauthn_user_id").unique(),
  },
  (t) => [
    uniqueIndex("users_email_lower_key").on(sql`lower(${t.email})`),
    // The admin list (src/auth/admin/users.ts): newest first by USER_ORDER, keyset-paginated, with
    // each filter served by an index of its own so no filter walks the whole table.
    index("users_admin_order_idx").on(sql`coalesce(${t.createdAt}, 'epoch'::timestamptz)`, t.id),
    index("users_admin_role_idx").on(t.role, sql`coalesce(${t.createdAt}, 'epoch'::timestamptz)`, t.id),
    index("users_admin_status_idx").on(t.status, sql`coalesce(${t.createdAt}, 'epoch'::timestamptz)`, t.id),
    index("users_admin_verified_idx").on(
      sql`(${t.emailVerifiedAt} is not null)`,
      sql`coalesce(${t.createdAt}, 'epoch'::timestamptz)`,
      t.id,
    ),
    index("users_admin_requested_role_idx")
      .on(sql`coalesce(${t.createdAt}, 'epoch'::timestamptz)`, t.id)
      .where(sql`${t.requestedRole} is not null`),
    index("users_email_prefix_idx").on(sql`lower(${t.email}) text_pattern_ops`),
    index("users_full_name_trgm_idx").using("gin", sql`${t.fullName} gin_trgm_ops`),
    index("users_deletion_due_idx").on(t.deletionDueAt).where(sql`${t.status} = 'deletion_pending'`),
  ],
);

/** One row per login: the refresh-token family. Access tokens carry its id as `sid`. */
export const sessions = pgTable(
  "auth_sessions",
  {
    id: uuid("id").primaryKey(),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    createdAt: timestamp("created_at", tz).notNull(),
    lastUsedAt: timestamp("last_used_at", tz).notNull(),
    expiresAt: timestamp("expires_at", tz).notNull(),
    idleExpiresAt: timestamp("idle_expires_at", tz).notNull(),
    revokedAt: timestamp("revoked_at", tz),
    revokedReason: text("revoked_reason"),
    userAgent: text("user_agent"),
    ip: text("ip"),
    /** How the user proved who they are (RFC 8176 values): ["pwd"], ["pwd","otp"]. Copied into every access token. */
    amr: text("amr").array().notNull().default(sql`'{pwd}'::text[]`),
    /**
     * The assurance those proofs establish, by the ways-in registry (src/auth/sign-in/ways-in.ts
     * ACR_VALUES), as it was when the session started; null on sessions from before it was recorded.
     */
    acr: text("acr"),
    /** When that proof happened (login or MFA verify); null on sessions from before it was recorded: created_at. */
    authTime: timestamp("auth_time", tz),
    /**
     * A social sign-in's session rests on its identity: removing the identity (unlink, a reset that
     * drops an identity the provider did not vouch for, deleting the account) deletes the session
     * in the same statement, so no session outlives the way in it was opened with.
     */
    identityId: uuid("identity_id").references((): AnyPgColumn => identities.id, { onDelete: "cascade" }),
  },
  (t) => [
    index("auth_sessions_user_idx").on(t.userId),
    index("auth_sessions_expires_idx").on(t.expiresAt),
    index("auth_sessions_identity_idx").on(t.identityId).where(sql`${t.identityId} is not null`),
  ],
);

/** Refresh tokens, stored only as SHA-256 hashes. Consumed tokens stay for reuse detection. */
export const refreshTokens = pgTable(
  "auth_refresh_tokens",
  {
    id: uuid("id").primaryKey(),
    sessionId: uuid("session_id")
      .notNull()
      .references(() => sessions.id, { onDelete: "cascade" }),
    tokenHash: text("token_hash").notNull().unique(),
    createdAt: timestamp("created_at", tz).notNull(),
    consumedAt: timestamp("consumed_at", tz),
    successorHash: text("successor_hash"),
  },
  (t) => [index("auth_refresh_tokens_session_idx").on(t.sessionId)],
);

/**
 * Emailed one-time codes of every purpose (src/auth/codes/one-time-codes.ts), stored only as
 * HMAC-SHA-256. At most one live code per user and purpose. `target` carries what the code is
 * about when that is not the account itself (the new address of an email change, the address an
 * undo code restores).
 */
export const oneTimeCodes = pgTable(
  "auth_one_time_codes",
  {
    id: uuid("id").primaryKey(),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    purpose: text("purpose").notNull(),
    codeHash: text("code_hash").notNull(),
    target: text("target"),
    createdAt: timestamp("created_at", tz).notNull(),
    expiresAt: timestamp("expires_at", tz).notNull(),
    attempts: integer("attempts").notNull().default(0),
    consumedAt: timestamp("consumed_at", tz),
  },
  (t) => [
    index("auth_one_time_codes_user_purpose_idx").on(t.userId, t.purpose, t.createdAt),
    index("auth_one_time_codes_expires_idx").on(t.expiresAt),
    // Codes redeemed by their target rather than by the account (an email change's undo code).
    index("auth_one_time_codes_target_idx").on(t.target, t.purpose).where(sql`${t.target} is not null`),
  ],
);

/**
 * Throttle state keyed by purpose and a keyed hash of the email (never the email itself),
 * so unknown emails are throttled exactly like known ones.
 */
export const throttles = pgTable(
  "auth_throttles",
  {
    key: text("key").primaryKey(),
    /** Attempts (or codes sent) counted so far: reserved before the work they gate, see throttle.ts. */
    failures: integer("failures").notNull().default(0),
    lastAt: timestamp("last_at", tz).notNull(),
    /** Start of the counting window, for policies whose count restarts after a while (codes). */
    windowStartedAt: timestamp("window_started_at", tz),
    blockedUntil: timestamp("blocked_until", tz),
  },
  (t) => [index("auth_throttles_last_at_idx").on(t.lastAt)],
);

/**
 * Second factors (src/auth/mfa/). One TOTP factor per user: `pending` from enroll until a code
 * confirms it, then `active`. The secret is only ever stored AES-GCM encrypted (secrets.ts);
 * `last_used_step` is the newest accepted 30-second step, so no step is accepted twice.
 */
export const mfaFactors = pgTable(
  "auth_mfa_factors",
  {
    id: uuid("id").primaryKey(),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    kind: text("kind").notNull().default("totp"),
    status: text("status").notNull(),
    secret: text("secret").notNull(),
    lastUsedStep: bigint("last_used_step", { mode: "number" }),
    createdAt: timestamp("created_at", tz).notNull(),
    confirmedAt: timestamp("confirmed_at", tz),
  },
  (t) => [uniqueIndex("auth_mfa_factors_user_kind_key").on(t.userId, t.kind)],
);

/** Recovery codes, stored only as HMAC-SHA-256 keyed with AUTH_SECRET; each works once (`used_at`). */
export const mfaRecoveryCodes = pgTable(
  "auth_mfa_recovery_codes",
  {
    id: uuid("id").primaryKey(),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    codeHash: text("code_hash").notNull(),
    createdAt: timestamp("created_at", tz).notNull(),
    usedAt: timestamp("used_at", tz),
  },
  (t) => [uniqueIndex("auth_mfa_recovery_codes_user_hash_key").on(t.userId, t.codeHash)],
);

/**
 * The step between a right password (or another first factor) and the session, for accounts with
 * an active factor: the `mfa_token` (stored only as SHA-256), single-use, short-lived, bound to the
 * user and to what the first factor rested on (`password_changed_at` of the verified row).
 */
export const mfaChallenges = pgTable(
  "auth_mfa_challenges",
  {
    id: uuid("id").primaryKey(),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    tokenHash: text("token_hash").notNull().unique(),
    /** The first factor's amr value ("pwd"). */
    method: text("method").notNull(),
    /** The session grounds of the first factor (src/auth/sessions/sessions.ts SessionGrounds), as JSON. */
    grounds: jsonb("grounds").notNull(),
    createdAt: timestamp("created_at", tz).notNull(),
    expiresAt: timestamp("expires_at", tz).notNull(),
    consumedAt: timestamp("consumed_at", tz),
  },
  (t) => [index("auth_mfa_challenges_expires_idx").on(t.expiresAt)],
);

/**
 * Social sign-in identities (src/auth/oauth/identities.ts): a provider's user id (`sub`) belongs
 * to one account; an account may hold several. `email` and `email_verified` are what the provider
 * said when the identity was linked (they decide nothing afterwards, except that a password reset
 * removes identities whose email the provider did not vouch for).
 */
export const identities = pgTable(
  "auth_identities",
  {
    id: uuid("id").primaryKey(),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    /** `google` or `apple`. */
    provider: text("provider").notNull(),
    /** The provider's stable user id (the ID token's `sub`). */
    subject: text("subject").notNull(),
    email: varchar("email", { length: 255 }),
    emailVerified: boolean("email_verified").notNull().default(false),
    createdAt: timestamp("created_at", tz).notNull(),
    lastUsedAt: timestamp("last_used_at", tz),
  },
  (t) => [uniqueIndex("auth_identities_provider_subject_key").on(t.provider, t.subject), index("auth_identities_user_idx").on(t.userId)],
);

/**
 * Passkeys (src/auth/passkeys/): WebAuthn credentials, each a way in. `public_key` is the COSE key
 * (base64url) the signatures are checked with; `sign_count` the authenticator's counter, which only
 * moves forward (0 forever for authenticators that do not count, such as synced passkeys).
 */
export const passkeys = pgTable(
  "auth_passkeys",
  {
    id: uuid("id").primaryKey(),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    /** The credential id (base64url), as the authenticator names it in every assertion. */
    credentialId: text("credential_id").notNull().unique(),
    publicKey: text("public_key").notNull(),
    signCount: bigint("sign_count", { mode: "number" }).notNull().default(0),
    transports: text("transports").array().notNull().default(sql`'{}'::text[]`),
    /** The authenticator model (all zeros when it does not say). */
    aaguid: text("aaguid").notNull(),
    /** `singleDevice` (bound to one authenticator) or `multiDevice` (synced: backup eligible). */
    deviceType: text("device_type").notNull(),
    backedUp: boolean("backed_up").notNull(),
    name: varchar("name", { length: 64 }).notNull(),
    createdAt: timestamp("created_at", tz).notNull(),
    lastUsedAt: timestamp("last_used_at", tz),
  },
  (t) => [index("auth_passkeys_user_idx").on(t.userId, t.createdAt)],
);

/**
 * Passkey ceremonies between their options and their verify (src/auth/passkeys/challenges.ts):
 * the challenge handed to the authenticator, single-use (deleted by the verify that uses it) and
 * valid 5 minutes. `register` and `mfa` are bound to their account (`user_id`) and found by the
 * challenge the response signed; `login` and `signup` have no account yet and are found by their
 * `challenge_token` (stored only as SHA-256). `data` holds what the verify needs: a sign-up's
 * address, name and user handle, an MFA step's mfa_token row.
 */
export const passkeyChallenges = pgTable(
  "auth_passkey_challenges",
  {
    id: uuid("id").primaryKey(),
    purpose: text("purpose").notNull(),
    userId: uuid("user_id").references(() => users.id, { onDelete: "cascade" }),
    challenge: text("challenge").notNull().unique(),
    tokenHash: text("token_hash").unique(),
    data: jsonb("data"),
    createdAt: timestamp("created_at", tz).notNull(),
    expiresAt: timestamp("expires_at", tz).notNull(),
  },
  (t) => [index("auth_passkey_challenges_expires_idx").on(t.expiresAt), index("auth_passkey_challenges_user_idx").on(t.userId)],
);

/**
 * Web redirect flow, between start and callback (src/auth/oauth/redirect.ts). Keyed by SHA-256 of
 * the `state` sent to the provider, used once (deleted by the callback). `sealed` holds the PKCE
 * verifier and the raw nonce, AES-GCM under a key derived from the state itself and AUTH_SECRET,
 * so the table alone gives neither. The flow is bound to the browser that started it (a cookie
 * whose SHA-256 is `binding_hash`) and to the app that will redeem it (its S256 challenge).
 */
export const oauthStates = pgTable(
  "auth_oauth_states",
  {
    stateHash: text("state_hash").primaryKey(),
    provider: text("provider").notNull(),
    redirectTo: text("redirect_to").notNull(),
    sealed: text("sealed").notNull(),
    /** The app's own S256 challenge for the exchange: binds the exchange code to the app that started. */
    clientChallenge: text("client_challenge").notNull(),
    /** SHA-256 of the value of the browser-binding cookie set by start: the callback must present it. */
    bindingHash: text("binding_hash").notNull(),
    /** `sign_in` or `link`: what the exchange code may be used for. */
    intent: text("intent").notNull().default("sign_in"),
    /** `link`: the session that started it, the only one that may link the identity. */
    sessionId: uuid("session_id").references(() => sessions.id, { onDelete: "cascade" }),
    createdAt: timestamp("created_at", tz).notNull(),
    expiresAt: timestamp("expires_at", tz).notNull(),
  },
  (t) => [index("auth_oauth_states_expires_idx").on(t.expiresAt)],
);

/**
 * The one-time exchange code the callback hands to redirect_to (never tokens in a URL): stored
 * only as SHA-256, deleted by its one use, short-lived. It carries the verified identity; the
 * account is resolved and the sign-in completed when it is exchanged, only with the app's PKCE
 * verifier and only for the intent (and, for `link`, the session) chosen at start.
 */
export const oauthExchangeCodes = pgTable(
  "auth_oauth_exchange_codes",
  {
    codeHash: text("code_hash").primaryKey(),
    provider: text("provider").notNull(),
    /** The verified identity (src/auth/oauth/id-token.ts VerifiedIdentity) and the name Apple posted once. */
    identity: jsonb("identity").notNull(),
    clientChallenge: text("client_challenge").notNull(),
    intent: text("intent").notNull().default("sign_in"),
    sessionId: uuid("session_id").references(() => sessions.id, { onDelete: "cascade" }),
    createdAt: timestamp("created_at", tz).notNull(),
    expiresAt: timestamp("expires_at", tz).notNull(),
  },
  (t) => [index("auth_oauth_exchange_codes_expires_idx").on(t.expiresAt)],
);

/**
 * Native ID tokens already accepted (src/auth/oauth/replay.ts): a keyed hash of the token's nonce
 * (or, without one, its jti or the token itself), kept until the token expires, so each is
 * accepted once. Purged hourly.
 */
export const oauthUsedTokens = pgTable(
  "auth_oauth_used_tokens",
  {
    key: text("key").primaryKey(),
    expiresAt: timestamp("expires_at", tz).notNull(),
  },
  (t) => [index("auth_oauth_used_tokens_expires_idx").on(t.expiresAt)],
);

/**
 * Turnstile tokens this service accepted for verification (src/auth/bot-defence/turnstile.ts):
 * a keyed hash of each, claimed by one insert before siteverify is asked, so a token opens at
 * most one request however many arrive at once. Kept past the token's own 300 s lifetime, then
 * purged.
 */
export const turnstileTokens = pgTable(
  "auth_turnstile_tokens",
  {
    tokenHash: text("token_hash").primaryKey(),
    expiresAt: timestamp("expires_at", tz).notNull(),
  },
  (t) => [index("auth_turnstile_tokens_expires_idx").on(t.expiresAt)],
);

/** Audit trail of auth events. Never holds a password, code or token. */
export const auditEvents = pgTable(
  "auth_audit_events",
  {
    id: bigint("id", { mode: "number" }).primaryKey().generatedAlwaysAsIdentity(),
    at: timestamp("at", tz).notNull(),
    event: text("event").notNull(),
    outcome: text("outcome").notNull(),
    userId: uuid("user_id"),
    ip: text("ip"),
    userAgent: text("user_agent"),
    requestId: text("request_id"),
    detail: jsonb("detail"),
    /** The administrator who acted (admin API, src/auth/admin/); `user_id` is then the account acted on, if one. */
    actorId: uuid("actor_id"),
  },
  (t) => [
    index("auth_audit_events_user_at_idx").on(t.userId, t.at),
    index("auth_audit_events_at_idx").on(t.at),
    index("auth_audit_events_event_at_idx").on(t.event, t.at),
    index("auth_audit_events_actor_at_idx").on(t.actorId, t.at).where(sql`${t.actorId} is not null`),
  ],
);

/**
 * The outbox (src/auth/events/outbox.ts): one row per identity event, written in the transaction
 * of the change it records. `seq` is the order rows were inserted in; `position` is null until the
 * sequencer gives the row its place in the feed, in commit order (outbox.ts explains why a
 * sequence value taken at insert time would not do). Holds ids and field names only, never a
 * personal value (src/auth/events/types.ts).
 */
export const authEvents = pgTable(
  "auth_events",
  {
    id: uuid("id").primaryKey(),
    seq: bigint("seq", { mode: "number" }).notNull().generatedAlwaysAsIdentity(),
    position: bigint("position", { mode: "number" }).unique(),
    type: text("type").notNull(),
    at: timestamp("at", tz).notNull(),
    userId: uuid("user_id").notNull(),
    /** `self`, `admin` or `system` (src/auth/events/types.ts ACTOR_TYPES); `actor_id` the owner or the admin. */
    actorType: text("actor_type").notNull(),
    actorId: uuid("actor_id"),
    /** The type's own fields (EVENT_TYPES[type].data). */
    data: jsonb("data").notNull().default(sql`'{}'::jsonb`),
  },
  (t) => [
    // The sequencer's work list: rows still without a position, in insert order.
    index("auth_events_unsequenced_idx").on(t.seq).where(sql`${t.position} is null`),
    index("auth_events_user_position_idx").on(t.userId, t.position),
    index("auth_events_at_idx").on(t.at),
  ],
);

/**
 * The platform's services that call this API on their own behalf (src/auth/services/clients.ts):
 * the events feed, token introspection, account reads. The secret is stored only as a keyed hash
 * (HMAC-SHA-256 with AUTH_SECRET, bound to the client id); `scopes` are SERVICE_SCOPES names.
 * `created_by` is the administrator who made it (not an account it belongs to).
 */
export const serviceClients = pgTable(
  "auth_service_clients",
  {
    id: uuid("id").primaryKey(),
    clientId: text("client_id").notNull().unique(),
    name: varchar("name", { length: 100 }).notNull(),
    scopes: text("scopes").array().notNull(),
    secretHash: text("secret_hash").notNull(),
    createdAt: timestamp("created_at", tz).notNull(),
    createdBy: uuid("created_by"),
    secretRotatedAt: timestamp("secret_rotated_at", tz),
    revokedAt: timestamp("revoked_at", tz),
    lastUsedAt: timestamp("last_used_at", tz),
  },
  (t) => [index("auth_service_clients_revoked_idx").on(t.revokedAt).where(sql`${t.revokedAt} is not null`)],
);

/**
 * Webhook endpoints (src/auth/webhooks/, docs/webhooks.md): where identity events are POSTed,
 * signed per Standard Webhooks. `secret` is the signing secret sealed with AES-GCM under a key
 * derived from AUTH_SECRET (src/auth/webhooks/secrets.ts), never stored in clear; during a
 * rotation `previous_secret` signs too until `previous_secret_expires_at`. `cursor` is the last
 * event position the dispatcher has turned into deliveries for this endpoint. `failure_streak`
 * counts deliveries given up (dead-lettered) since the last success: at WEBHOOK_DISABLE_AFTER the
 * endpoint is disabled (`disabled_reason` failures). `created_by` is the administrator who made
 * it (not an account it belongs to).
 */
export const webhookEndpoints = pgTable("auth_webhook_endpoints", {
  id: uuid("id").primaryKey(),
  url: text("url").notNull(),
  description: varchar("description", { length: 500 }).notNull().default(""),
  eventTypes: text("event_types").array().notNull(),
  secret: text("secret").notNull(),
  previousSecret: text("previous_secret"),
  previousSecretExpiresAt: timestamp("previous_secret_expires_at", tz),
  /** `active` or `disabled`. */
  status: text("status").notNull().default("active"),
  /** `admin` (PATCH enabled:false) or `failures` (a run of failed deliveries). */
  disabledReason: text("disabled_reason"),
  disabledAt: timestamp("disabled_at", tz),
  cursor: bigint("cursor", { mode: "number" }).notNull().default(0),
  failureStreak: integer("failure_streak").notNull().default(0),
  createdAt: timestamp("created_at", tz).notNull(),
  createdBy: uuid("created_by"),
  updatedAt: timestamp("updated_at", tz).notNull(),
  secretRotatedAt: timestamp("secret_rotated_at", tz),
});

/**
 * One event to deliver to one endpoint (src/auth/webhooks/delivery.ts). Deliveries of one
 * (endpoint, account) go out one at a time in `position` order: only the lowest pending one of
 * the pair may be claimed (`lease_until`: the claim, for one attempt). `attempts` counts every
 * attempt (and fences a late result of an expired claim); `window_attempts` and
 * `window_started_at` the attempts and start of the current retry window (reset by a manual
 * retry): retries back off from WEBHOOK_RETRY_INITIAL_DELAY, doubling, until
 * WEBHOOK_RETRY_MAX_AGE, then `failed`. `attempt_log` keeps the last attempts (time, latency,
 * response status or error, next retry). Deleted with their event (EVENT_RETENTION_DAYS) or
 * their endpoint.
 */
export const webhookDeliveries = pgTable(
  "auth_webhook_deliveries",
  {
    id: uuid("id").primaryKey(),
    endpointId: uuid("endpoint_id")
      .notNull()
      .references(() => webhookEndpoints.id, { onDelete: "cascade" }),
    eventId: uuid("event_id")
      .notNull()
      .references(() => authEvents.id, { onDelete: "cascade" }),
    userId: uuid("user_id").notNull(),
    position: bigint("position", { mode: "number" }).notNull(),
    /** `pending`, `succeeded` or `failed` (given up: the dead letter, retried only by an administrator). */
    status: text("status").notNull(),
    attempts: integer("attempts").notNull().default(0),
    windowAttempts: integer("window_attempts").notNull().default(0),
    windowStartedAt: timestamp("window_started_at", tz).notNull(),
    nextAttemptAt: timestamp("next_attempt_at", tz).notNull(),
    leaseUntil: timestamp("lease_until", tz),
    lastAttemptAt: timestamp("last_attempt_at", tz),
    responseStatus: integer("response_status"),
    latencyMs: integer("latency_ms"),
    deliveredAt: timestamp("delivered_at", tz),
    attemptLog: jsonb("attempt_log").notNull().default(sql`'[]'::jsonb`),
    createdAt: timestamp("created_at", tz).notNull(),
  },
  (t) => [
    // One delivery per event and endpoint (the dispatcher's inserts are idempotent); also serves
    // the cascade from a purged event.
    uniqueIndex("auth_webhook_deliveries_event_endpoint_idx").on(t.eventId, t.endpointId),
    // The head of each (endpoint, account): its lowest pending position.
    index("auth_webhook_deliveries_pair_idx").on(t.endpointId, t.userId, t.position).where(sql`${t.status} = 'pending'`),
    // The admin list, newest event first.
    index("auth_webhook_deliveries_endpoint_position_idx").on(t.endpointId, t.position),
    // The sweep: pending deliveries overdue (their wake-up was lost, or their claim expired).
    index("auth_webhook_deliveries_due_idx").on(t.nextAttemptAt).where(sql`${t.status} = 'pending'`),
  ],
);

export type User = typeof users.$inferSelect;
export type Session = typeof sessions.$inferSelect;
export type MfaFactor = typeof mfaFactors.$inferSelect;
export type Identity = typeof identities.$inferSelect;
export type Passkey = typeof passkeys.$inferSelect;
export type ServiceClient = typeof serviceClients.$inferSelect;
export type WebhookEndpoint = typeof webhookEndpoints.$inferSelect;
export type WebhookDelivery = typeof webhookDeliveries.$inferSelect;
