import { and, eq, gt, isNull } from "drizzle-orm";
import { UNCACHED } from "../../db/client";
import { refreshTokens, sessions, users } from "../../db/schema";
import { type Deps, type RequestMeta, seconds } from "../../deps";
import { AppError } from "../../errors";
import { sha256Hex } from "../../lib/encoding";
import { audit } from "../audit";
import { endSession } from "./sessions";
import { verifyAccessToken } from "./tokens";

/**
 * Token introspection (RFC 7662) for service clients and token revocation (RFC 7009) for apps.
 * Both take either kind of token this API issues: an access token (a JWS, EdDSA/ES256, or HS256 in
 * legacy mode) or a refresh token (opaque). A token is active only while everything behind it is:
 * its signature and expiry, its session (not revoked, not past its absolute or idle expiry) and
 * its account (`active`), read fresh in one query, so a logout, a suspension, a reset or a deletion
 * answers `active: false` from the next request on.
 */
export type Introspection =
  | { active: false }
  | {
      active: true;
      sub: string;
      sid: string;
      exp: number;
      iat: number;
      /** The account's current role (a lowered role ends its sessions). */
      role: string;
      amr: string[];
      acr: string | null;
      auth_time: number | null;
      token_type: "access_token" | "refresh_token";
      iss?: string;
      aud?: string;
    };

const INACTIVE = { active: false } as const;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/** The live session `sid` of `sub` with its account's role, read fresh; undefined when either is not live. */
async function liveSession(deps: Deps, sub: string, sid: string) {
  const now = deps.now();
  const [row] = await deps.db
    .select({ s: sessions, role: users.role, fresh: UNCACHED })
    .from(sessions)
    .innerJoin(users, eq(users.id, sessions.userId))
    .where(
      and(
        eq(sessions.id, sid),
        eq(sessions.userId, sub),
        eq(users.status, "active"),
        isNull(sessions.revokedAt),
        gt(sessions.expiresAt, now),
        gt(sessions.idleExpiresAt, now),
      ),
    )
    .limit(1);
  return row;
}

/** The claims of a valid access token, or null (expired, bad signature, not ours). */
async function accessClaims(deps: Deps, token: string) {
  try {
    const claims = await verifyAccessToken(deps.config, token, seconds(deps.now()));
    return UUID.test(claims.sub) && UUID.test(claims.sid) ? claims : null;
  } catch (err) {
    if (err instanceof AppError) return null;
    throw err;
  }
}

/** A refresh token's row with its session and account, read fresh; undefined when unknown. */
async function refreshRow(deps: Deps, token: string) {
  const [row] = await deps.db
    .select({ rt: refreshTokens, s: sessions, u: users, fresh: UNCACHED })
    .from(refreshTokens)
    .innerJoin(sessions, eq(sessions.id, refreshTokens.sessionId))
    .innerJoin(users, eq(users.id, sessions.userId))
    .where(eq(refreshTokens.tokenHash, await sha256Hex(token)))
    .limit(1);
  return row;
}

const sec = (d: Date) => Math.floor(d.getTime() / 1000);

export async function introspect(deps: Deps, token: string): Promise<Introspection> {
  if (JWS.test(token)) {
    const claims = await accessClaims(deps, token);
    if (!claims) return INACTIVE;
    const live = await liveSession(deps, claims.sub, claims.sid);
    if (!live) return INACTIVE;
    return {
      active: true,
      sub: claims.sub,
      sid: claims.sid,
      exp: claims.exp,
      iat: claims.iat,
      role: live.role,
      amr: claims.amr ?? live.s.amr,
      acr: claims.acr ?? live.s.acr,
      auth_time: claims.auth_time ?? null,
      token_type: "access_token",
      iss: claims.iss,
      aud: claims.aud,
    };
  }
  const row = await refreshRow(deps, token);
  // A consumed refresh token is spent: presenting it again ends its session (reuse detection).
  if (!row || row.rt.consumedAt) return INACTIVE;
  const live = await liveSession(deps, row.u.id, row.s.id);
  if (!live) return INACTIVE;
  const { s } = live;
  return {
    active: true,
    sub: row.u.id,
    sid: s.id,
    exp: Math.min(sec(s.idleExpiresAt), sec(s.expiresAt)),
    iat: sec(row.rt.createdAt),
    role: live.role,
    amr: s.amr,
    acr: s.acr,
    auth_time: s.authTime ? sec(s.authTime) : null,
    token_type: "refresh_token",
  };
}

/**
 * RFC 7009: the token's session ends (a refresh token: whatever state it is in, the token itself
 * being the proof; an access token: while it is valid). Answers nothing either way: the caller
 * learns nothing about the token.
 */
export async function revokeToken(deps: Deps, meta: RequestMeta, token: string): Promise<void> {
  let target: { userId: string; sessionId: string } | null = null;
  if (JWS.test(token)) {
    const claims = await accessClaims(deps, token);
    if (claims) target = { userId: claims.sub, sessionId: claims.sid };
  } else {
    const row = await refreshRow(deps, token);
    if (row) target = { userId: row.u.id, sessionId: row.s.id };
  }
  if (!target) return;
  if (await endSession(deps, target.userId, target.sessionId, "token_revoked"))
    await audit(deps, meta, "token_revoked", "success", target.userId, {
      session: target.sessionId,
      kind: JWS.test(token) ? "access" : "refresh",
    });
}
