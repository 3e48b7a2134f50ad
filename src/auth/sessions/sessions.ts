import { and, desc, eq, getTableColumns, gt, isNull, ne, type SQL, sql } from "drizzle-orm";
import { PgDialect } from "drizzle-orm/pg-core";
import { authSecret } from "../../config";
import { type Db, UNCACHED } from "../../db/client";
import { identities, refreshTokens, type Session, sessions, type User, users } from "../../db/schema";
import { type Deps, type RequestMeta, seconds, withDb } from "../../deps";
import { apiError } from "../../errors";
import { b64url, hmac, randomBytes, sha256Hex } from "../../lib/encoding";
import { audit } from "../audit";
import { revokedSessionEvents } from "../events/outbox";
import { type Actor, type RevokeReason, SYSTEM, self } from "../events/types";
import {
  type Acr,
  type Assessment,
  amrOf,
  assess,
  hasSecondFactor,
  isAmrValue,
  type SecondFactor,
  secondFactorsHeld,
} from "../sign-in/ways-in";
import { type Assurance, signAccessToken, verifyAccessToken } from "./tokens";

/**
 * Sessions and refresh tokens. A session is one login; its refresh tokens form a chain where
 * each use consumes the presented token and issues its successor (rotation). Presenting a
 * consumed token outside the grace window revokes the whole session (reuse detection).
 * Refresh tokens are 256 random bits, stored only as SHA-256.
 */
export interface TokenPair {
  access_token: string;
  refresh_token: string;
  token_type: "Bearer";
  expires_in: number;
}

const newRefreshToken = () => b64url(randomBytes(32));

/**
 * The successor of a refresh token is derived from it with a keyed hash, so two tabs that
 * refresh the same token at the same moment can both be given the same successor without
 * storing any token in clear.
 */
async function successorOf(deps: Deps, token: string): Promise<string> {
  return b64url(await hmac(authSecret(deps.config), `refresh-successor:${token}`));
}

async function pair(deps: Deps, user: User, sessionId: string, refreshToken: string, assurance: Assurance): Promise<TokenPair> {
  const { token, expiresIn } = await signAccessToken(
    deps.config,
    { id: user.id, email: user.email, role: user.role, fullName: user.fullName, emailVerified: user.emailVerifiedAt !== null },
    sessionId,
    seconds(deps.now()),
    assurance,
  );
  return { access_token: token, refresh_token: refreshToken, token_type: "Bearer", expires_in: expiresIn };
}

/**
 * The idle deadline after a use at `now`: the idle lifetime, but never shorter than the access
 * token just issued (a long legacy ACCESS_TOKEN_TTL must not outlive its session), and never
 * past the absolute expiry.
 */
function idleDeadline(deps: Deps, now: Date, expiresAt: Date): Date {
  const window = Math.max(deps.config.REFRESH_IDLE_TTL, deps.config.ACCESS_TOKEN_TTL) * 1000;
  return new Date(Math.min(now.getTime() + window, expiresAt.getTime()));
}

/**
 * What the new session rests on: the account must still be active and, after a password check,
 * its password must not have been changed since the row that was verified was read. A change is
 * recognised by `password_changed_at`, which every reset and change sets and a rehash (same
 * password, new parameters) does not, so two concurrent logins of a legacy user both succeed.
 */
export interface SessionGrounds {
  /**
   * `password_changed_at` of the row whose password was verified (a social sign-in: of the row it
   * resolved, so a sign-in racing a reset or a password change gets no session either).
   */
  passwordChangedAt?: Date | null;
  /**
   * A social sign-in: the identity it proved. The session is inserted only while that identity row
   * exists (locked in the same statement), records it, and is deleted with it (auth_sessions.identity_id
   * ON DELETE CASCADE): a reset that removes the identity, an unlink or an account deletion ends it.
   */
  identityId?: string;
  /**
   * The sign-in's proofs are not multi-factor, so the account must hold no second factor (checked
   * in the same statement, from the ways-in registry). When it holds one, startSession answers
   * `second_factor_required` with the second factors it holds, and completeSignIn answers with an
   * MFA challenge instead.
   */
  withoutSecondFactor?: true;
}

/** What a session records about its sign-in: how (RFC 8176 amr values) and when. */
export type Amr = readonly string[];

export type StartedSession =
  | { kind: "session"; tokens: TokenPair }
  /** The grounds held except one: the account holds a second factor this sign-in did not prove. */
  | { kind: "second_factor_required"; methods: SecondFactor[] };

/**
 * Start a session for a user who just proved who they are. One statement inserts the session and
 * its first refresh token only if the grounds still hold, reading the users row FOR SHARE: a
 * password reset or change that is updating the row makes this wait for its commit and then see
 * the change, so a login that verified the old password gets no session (401), however the two
 * requests interleave. (A reset that committed first is seen directly; one that commits after
 * this statement ends this session along with the others.) The session records `amr` and
 * `auth_time` (now), which every access token of it carries.
 */
export async function startSession(
  deps: Deps,
  meta: RequestMeta,
  user: User,
  grounds: SessionGrounds,
  amr: Amr,
  /**
   * Statements to run in this one (each a CTE, in the same round trip), given the inserted session
   * (a CTE with the new session's `id`; no row when no session started): e.g. the sign-in's audit
   * row, written only with a session.
   */
  also: (started: SQL) => SQL[] = () => [],
): Promise<StartedSession> {
  const now = deps.now();
  const id = crypto.randomUUID();
  const refresh = newRefreshToken();
  const expiresAt = new Date(now.getTime() + deps.config.REFRESH_TOKEN_TTL * 1000);
  const idle = idleDeadline(deps, now, expiresAt);
  const at = (d: Date) => sql`${d.toISOString()}::timestamptz`;
  const samePassword =
    grounds.passwordChangedAt === undefined
      ? sql`true`
      : sql`date_trunc('milliseconds', ${users.passwordChangedAt}) is not distinct from ${grounds.passwordChangedAt?.toISOString() ?? null}::timestamptz`;
  // The factor condition is only evaluated when asked for; its answer says why no session started.
  const factors = grounds.withoutSecondFactor ? secondFactorsHeld(users.id) : sql`'{}'::text[]`;
  const { acr } = assess(amr);
  // FOR SHARE locks the identity row too: an unlink or reset deleting it waits for this insert (and
  // then deletes the session with it), or has committed and the row is gone (no session).
  const identity = grounds.identityId
    ? sql`join ${identities} on ${identities.id} = ${grounds.identityId}::uuid and ${identities.userId} = ${users.id}`
    : sql``;
  const rows = await deps.db.execute<{ session_id: string | null; factors: SecondFactor[] | null }>(sql`
    with u as (
      select ${users.id} as id, ${factors} as factors from ${users} ${identity}
       where ${users.id} = ${user.id}::uuid and ${users.status} = 'active' and ${samePassword}
       for share
    ), s as (
      insert into ${sessions} (id, user_id, created_at, last_used_at, expires_at, idle_expires_at, user_agent, ip, amr, acr, auth_time, identity_id)
      select ${id}::uuid, u.id, ${at(now)}, ${at(now)}, ${at(expiresAt)}, ${at(idle)}, ${meta.userAgent?.slice(0, 512) ?? null}, ${meta.ip},
             ${pgTextArray(amr)}::text[], ${acr}, ${at(now)}, ${grounds.identityId ?? null}::uuid
        from u where cardinality(u.factors) = 0
      returning id
    ), r as (
      insert into ${refreshTokens} (id, session_id, token_hash, created_at)
      select ${crypto.randomUUID()}::uuid, s.id, ${await sha256Hex(refresh)}, ${at(now)} from s
      returning session_id
    )${sql.join(
      also(sql`s`).map((statement, i) => sql`, ${sql.identifier(`also_${i}`)} as (${statement})`),
      sql``,
    )}
    select (select session_id from r) as session_id, array_to_json(u.factors) as factors from u`);
  const factorsHeld = rows[0]?.factors ?? [];
  if (factorsHeld.length > 0) return { kind: "second_factor_required", methods: factorsHeld };
  if (!rows[0]?.session_id) throw apiError("invalid_credentials");
  return { kind: "session", tokens: await pair(deps, user, id, refresh, { amr, acr, authTime: now }) };
}

/** An amr list as a Postgres array literal (a bound parameter); its values are declared by the ways-in registry. */
function pgTextArray(values: Amr): string {
  if (!values.every((v) => isAmrValue(v) && /^[a-z]{2,8}$/.test(v))) throw new Error("unexpected amr value");
  return `{${values.join(",")}}`;
}

const invalidRefresh = () => apiError("invalid_refresh_token");

type RefreshOutcome =
  | { kind: "ok"; user: User; sessionId: string; token: string; assurance: Assurance }
  | { kind: "reuse"; userId: string; sessionId: string }
  | { kind: "invalid" };

/** Rotate a refresh token: consume it and issue its successor with a new access token. */
export async function refresh(deps: Deps, meta: RequestMeta, presented: string): Promise<TokenPair> {
  const now = deps.now();
  const hash = await sha256Hex(presented);
  const successor = await successorOf(deps, presented);
  const successorHash = await sha256Hex(successor);
  const reuseGrace = deps.config.REFRESH_REUSE_GRACE;

  const outcome = await deps.db.transaction(async (tx): Promise<RefreshOutcome> => {
    const [row] = await tx
      .select({ rt: refreshTokens, s: sessions, u: users, fresh: UNCACHED })
      .from(refreshTokens)
      .innerJoin(sessions, eq(sessions.id, refreshTokens.sessionId))
      .innerJoin(users, eq(users.id, sessions.userId))
      .where(eq(refreshTokens.tokenHash, hash))
      .for("update", { of: refreshTokens })
      .limit(1);
    if (!row) return { kind: "invalid" };
    const { rt, s, u } = row;
    if (s.revokedAt || s.expiresAt <= now || s.idleExpiresAt <= now || u.status !== "active") return { kind: "invalid" };
    const touch = () =>
      tx
        .update(sessions)
        .set({ lastUsedAt: now, idleExpiresAt: idleDeadline(deps, now, s.expiresAt) })
        .where(eq(sessions.id, s.id));
    if (rt.consumedAt) {
      // REFRESH_REUSE_GRACE=0 turns the grace off: any second use is reuse, even in the same
      // millisecond. (sinceConsumed may be slightly negative: a concurrent request that read the
      // clock before the winner did, then waited for its row lock.)
      const sinceConsumed = now.getTime() - rt.consumedAt.getTime();
      const withinGrace = reuseGrace > 0 && sinceConsumed <= reuseGrace * 1000;
      if (withinGrace && rt.successorHash === successorHash) {
        const [next] = await tx
          .select({ consumedAt: refreshTokens.consumedAt })
          .from(refreshTokens)
          .where(eq(refreshTokens.tokenHash, successorHash))
          .limit(1);
        if (next && !next.consumedAt) {
          await touch();
          return { kind: "ok", user: u, sessionId: s.id, token: successor, assurance: assuranceOf(s) };
        }
      }
      await revokeWhere(withDb(deps, tx as unknown as Db), eq(sessions.id, s.id), "refresh_reuse", SYSTEM);
      return { kind: "reuse", userId: u.id, sessionId: s.id };
    }
    await tx.update(refreshTokens).set({ consumedAt: now, successorHash }).where(eq(refreshTokens.id, rt.id));
    await tx.insert(refreshTokens).values({ id: crypto.randomUUID(), sessionId: s.id, tokenHash: successorHash, createdAt: now });
    await touch();
    return { kind: "ok", user: u, sessionId: s.id, token: successor, assurance: assuranceOf(s) };
  });

  if (outcome.kind === "reuse") {
    await audit(deps, meta, "refresh_reuse_detected", "blocked", outcome.userId, { session: outcome.sessionId });
    deps.log("warn", "refresh token reuse detected; session revoked", { session: outcome.sessionId });
    throw invalidRefresh();
  }
  if (outcome.kind === "invalid") throw invalidRefresh();
  await audit(deps, meta, "refreshed", "success", outcome.user.id, { session: outcome.sessionId });
  return pair(deps, outcome.user, outcome.sessionId, outcome.token, outcome.assurance);
}

/** The session's sign-in, as its tokens carry it (sessions from before it was recorded: a password login at creation). */
const assuranceOf = (s: Pick<Session, "amr" | "acr" | "authTime" | "createdAt">): Assurance => {
  const amr = s.amr?.length ? s.amr : amrOf("password");
  return { amr, acr: (s.acr as Acr | null) ?? assess(amr).acr, authTime: s.authTime ?? s.createdAt };
};

export interface Authenticated {
  user: User;
  sessionId: string;
  claims: { iat: number; exp: number };
  /** How and when the session's user proved who they are (from the session row, not the token). */
  amr: Amr;
  authTime: Date;
  /** What the session's proofs establish, by the ways-in registry (the admin gate, REQUIRE_MFA_ROLES: src/auth/access.ts). */
  assurance: Assessment;
  /**
   * The account holds a second factor (REQUIRE_MFA_ROLES, src/auth/access.ts); null when the route's
   * policy does not need it and it was not read (`needsMfaState` in src/auth/access.ts).
   */
  mfaEnabled: boolean | null;
}

/** A UUID in its canonical text form: hex digits and dashes, nothing to escape. */
const UUID_TEXT = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Literals for the session check's one statement, so that it has no bound parameters: postgres.js
 * sends a statement with parameters that its connection has not prepared yet (every request's
 * connection is new) in two round trips (Parse and Describe, wait for the parameter types, then
 * Bind and Execute), one without parameters in one. Only values whose every character is known
 * become literals: a UUID checked here (a token's sid and sub; anything else is invalid_token) and
 * the server's clock in ISO 8601.
 */
function uuidLiteral(value: string): string {
  if (!UUID_TEXT.test(value)) throw apiError("invalid_token");
  return `'${value}'::uuid`;
}
const timeLiteral = (d: Date): string => `'${d.toISOString()}'::timestamptz`;

/** SQL text rendered once per isolate; it must carry no parameter (it is sent as is). */
const dialect = new PgDialect();
function render(query: SQL): string {
  const { sql: text, params } = dialect.sqlToQuery(query);
  if (params.length) throw new Error(`a static statement part has parameters: ${text}`);
  return text;
}

/**
 * The session check's statement, but for its literals: built here once per isolate (the same
 * columns and conditions as a Drizzle select, without building it on every request), its row
 * mapped with the columns' own decoders. `mfa`: also whether the account holds a second factor.
 */
const USER_COLUMNS = Object.entries(getTableColumns(users)).map(([field, column]) => ({ field, column, name: column.name }));
const SESSION_COLUMNS = { amr: sessions.amr, acr: sessions.acr, authTime: sessions.authTime, createdAt: sessions.createdAt };
const sessionCheck = (mfa: boolean) =>
  render(sql`select ${sql.join(
    USER_COLUMNS.map(({ column }) => column),
    sql`, `,
  )}, ${sql.join(
    Object.entries(SESSION_COLUMNS).map(([field, column]) => sql`${column} as ${sql.identifier(`session_${field}`)}`),
    sql`, `,
  )}, ${mfa ? hasSecondFactor(users.id) : sql`null`} as mfa_enabled, ${UNCACHED} as fresh
    from ${sessions} inner join ${users} on ${users.id} = ${sessions.userId}
   where ${users.status} = 'active' and ${sessions.revokedAt} is null and `);
/** The statement's parts, rendered on first use (not at startup). */
let rendered: { withMfa: string; withoutMfa: string; id: string; userId: string; expiresAt: string; idleExpiresAt: string } | undefined;
const sessionCheckParts = () =>
  (rendered ??= {
    withMfa: sessionCheck(true),
    withoutMfa: sessionCheck(false),
    id: render(sql`${sessions.id}`),
    userId: render(sql`${sessions.userId}`),
    expiresAt: render(sql`${sessions.expiresAt}`),
    idleExpiresAt: render(sql`${sessions.idleExpiresAt}`),
  });

type SessionCheckRow = Record<string, unknown>;
const decode = (column: { mapFromDriverValue(v: unknown): unknown }, value: unknown) =>
  value === null || value === undefined ? null : column.mapFromDriverValue(value);

/**
 * Verify a bearer token and load its user and live session in one indexed query (one round trip,
 * see uuidLiteral), so that logout and revocation take effect at once on this API. `mfaState`:
 * also read whether the account holds a second factor (the ways-in registry's credential tables,
 * one subquery each); a route whose policy cannot ask (the session check, the enrollment routes)
 * leaves them out.
 */
export async function authenticate(deps: Deps, token: string, { mfaState }: { mfaState: boolean }): Promise<Authenticated> {
  const now = deps.now();
  const claims = await verifyAccessToken(deps.config, token, seconds(now));
  const at = timeLiteral(now);
  // At most one row: the session by its primary key, joined to its user by theirs.
  const q = sessionCheckParts();
  const rows = await deps.db.execute<SessionCheckRow>(
    sql.raw(
      `${mfaState ? q.withMfa : q.withoutMfa}${q.id} = ${uuidLiteral(claims.sid)} and ${q.userId} = ${uuidLiteral(claims.sub)} ` +
        `and ${q.expiresAt} > ${at} and ${q.idleExpiresAt} > ${at}`,
    ),
  );
  const row = rows[0];
  if (!row) throw apiError("invalid_token");
  const user = {} as Record<string, unknown>;
  for (const { field, column, name } of USER_COLUMNS) user[field] = decode(column, row[name]);
  const session = {} as Record<string, unknown>;
  for (const [field, column] of Object.entries(SESSION_COLUMNS)) session[field] = decode(column, row[`session_${field}`]);
  const { amr, authTime } = assuranceOf(session as Pick<Session, keyof typeof SESSION_COLUMNS>);
  return {
    user: user as User,
    sessionId: claims.sid,
    claims: { iat: claims.iat, exp: claims.exp },
    amr,
    authTime,
    assurance: assess(amr),
    mfaEnabled: mfaState ? row.mfa_enabled === true : null,
  };
}

/**
 * End the sessions matching `where` that are still live, with one `session.revoked` event each, in
 * one statement (the update and the events commit together). Returns the ended sessions' ids.
 */
async function revokeWhere(deps: Deps, where: SQL | undefined, reason: RevokeReason, actor: Actor): Promise<string[]> {
  const now = deps.now();
  const rows = await deps.db.execute<{ id: string }>(sql`
    with ended as (
      update ${sessions} set revoked_at = ${now.toISOString()}::timestamptz, revoked_reason = ${reason}
       where ${and(where, isNull(sessions.revokedAt))}
      returning id, user_id
    ), ev as (${revokedSessionEvents(sql`ended`, reason, actor, now)})
    select id from ended`);
  return rows.map((r) => r.id);
}

/** End one live session of a user (by its owner unless `actor` says otherwise). True when it was live. */
export async function endSession(
  deps: Deps,
  userId: string,
  sessionId: string,
  reason: RevokeReason,
  actor: Actor = self(userId),
): Promise<boolean> {
  const ended = await revokeWhere(deps, and(eq(sessions.id, sessionId), eq(sessions.userId, userId)), reason, actor);
  return ended.length > 0;
}

/**
 * End every live session of a user, except `keep` when given; the owner ends them unless `actor`
 * says otherwise (an administrator, the system). Returns how many ended.
 */
export async function endAllSessions(
  deps: Deps,
  userId: string,
  reason: RevokeReason,
  { keep, actor = self(userId) }: { keep?: string; actor?: Actor } = {},
): Promise<number> {
  const ended = await revokeWhere(deps, and(eq(sessions.userId, userId), keep ? ne(sessions.id, keep) : undefined), reason, actor);
  return ended.length;
}

/** End the live sessions resting on a social identity (before it is removed), with their events. */
export async function endIdentitySessions(deps: Deps, userId: string, identityId: string, reason: RevokeReason): Promise<number> {
  const ended = await revokeWhere(deps, and(eq(sessions.userId, userId), eq(sessions.identityId, identityId)), reason, self(userId));
  return ended.length;
}

export async function listSessions(deps: Deps, userId: string, currentSessionId: string) {
  const now = deps.now();
  const rows = await deps.db
    .select({ s: sessions, fresh: UNCACHED })
    .from(sessions)
    .where(and(eq(sessions.userId, userId), isNull(sessions.revokedAt), gt(sessions.expiresAt, now), gt(sessions.idleExpiresAt, now)))
    .orderBy(desc(sessions.lastUsedAt));
  return rows.map(({ s }) => ({
    id: s.id,
    created_at: s.createdAt.toISOString(),
    last_used_at: s.lastUsedAt.toISOString(),
    expires_at: s.expiresAt.toISOString(),
    user_agent: s.userAgent,
    ip: s.ip,
    current: s.id === currentSessionId,
  }));
}
