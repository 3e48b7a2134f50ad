// @edge-auth/verify: verify this API's access tokens in another service, and refuse revoked
// sessions and suspended or deleted accounts within REVOCATION_MAX_LAG (README.md).
//
// Plain JavaScript (ES modules, Node 18+) with JSDoc types, so a service runs it as it is.
import { createRemoteJWKSet, customFetch, errors, jwtVerify } from "jose";

/**
 * @typedef {object} VerifierOptions
 * @property {string} url The API's origin, e.g. `https://auth.example.com`.
 * @property {string} clientId A service client with the `events:read` scope (POST /auth/admin/service-clients).
 * @property {string} clientSecret Its secret.
 * @property {string} [audience] Expected `aud` (the API's JWT_AUDIENCE; default `platform`).
 * @property {string} [issuer] Expected `iss` (the API's JWT_ISSUER; default `edge-auth-api`).
 * @property {string} [basePath] The API's BASE_PATH (default `/auth`).
 * @property {number} [maxLag] REVOCATION_MAX_LAG in milliseconds (default: the REVOCATION_MAX_LAG
 *   environment variable in seconds, else 10 s): a token is never accepted on revocation state older than this.
 * @property {number} [pollInterval] How often the feed is read in the background, ms (default maxLag / 2).
 * @property {number} [forgetAfter] How long a revoked session is remembered, ms (default 24 h; at least the API's ACCESS_TOKEN_TTL).
 * @property {string} [legacySecret] While the API still signs HS256 (LEGACY_HS256=true): its JWT_SECRET, so those tokens verify too.
 * @property {typeof fetch} [fetch] The fetch to use (default: the global one).
 * @property {number} [clockTolerance] Seconds of clock skew tolerated on `exp`/`nbf` (default 30).
 */

/**
 * @typedef {import("jose").JWTPayload & { sub: string, sid: string, id?: string, role?: string, email?: string,
 *   amr?: string[], acr?: string, token_use?: string }} AccessClaims
 */

/** Why a token was refused (`code`): `invalid_token`, `token_expired`, `session_revoked`, `account_disabled`, `revocation_unavailable`. */
export class VerifyError extends Error {
  /**
   * @param {string} code
   * @param {string} message
   */
  constructor(code, message) {
    super(message);
    this.name = "VerifyError";
    this.code = code;
  }
}

const DEFAULT_LAG_SECONDS = 10;
const PAGE = 1000;

/** @param {VerifierOptions} options */
function lagOf(options) {
  if (options.maxLag !== undefined) return options.maxLag;
  const env = typeof process !== "undefined" ? Number(process.env.REVOCATION_MAX_LAG) : NaN;
  return (Number.isFinite(env) && env > 0 ? env : DEFAULT_LAG_SECONDS) * 1000;
}

/**
 * A verifier for one API. `verify(token)` checks the signature against the API's JWKS (EdDSA or
 * ES256 by `kid`; HS256 only with `legacySecret`), `iss`, `aud`, `exp`, `typ` and `token_use`, then
 * refuses a session the events feed says ended (`session.revoked`) and an account it says is
 * suspended, being deleted or deleted. The revocation state comes from GET /auth/events, read in the
 * background every `pollInterval`; a verification never relies on a read older than `maxLag`: it
 * waits for a fresh one, and refuses (`revocation_unavailable`) when the feed cannot be read.
 *
 * @param {VerifierOptions} options
 */
export function createVerifier(options) {
  const { url, clientId, clientSecret } = options;
  if (!url || !clientId || !clientSecret) throw new TypeError("createVerifier needs url, clientId and clientSecret");
  const origin = new URL(url);
  const basePath = `/${(options.basePath ?? "/auth").replace(/^\/+|\/+$/g, "")}`;
  const audience = options.audience ?? "platform";
  const issuer = options.issuer ?? "edge-auth-api";
  const maxLag = lagOf(options);
  const pollInterval = options.pollInterval ?? Math.max(250, Math.floor(maxLag / 2));
  const forgetAfter = options.forgetAfter ?? 24 * 3600 * 1000;
  const clockTolerance = options.clockTolerance ?? 30;
  const doFetch = options.fetch ?? globalThis.fetch;
  const jwks = createRemoteJWKSet(new URL("/.well-known/jwks.json", origin), options.fetch ? { [customFetch]: options.fetch } : {});
  const legacyKey = options.legacySecret ? new TextEncoder().encode(options.legacySecret) : null;
  const authorization = `Basic ${btoa(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`)}`;

  /** Ended sessions: sid -> when we learned it (ms). */
  const revoked = new Map();
  /** Accounts that may not use their tokens: user id -> when we learned it (ms). Deleted ones stay. */
  const disabled = new Map();
  /** Deleted accounts (never forgotten). */
  const deleted = new Set();
  let after = 0;
  /** When the last successful read of the feed started (ms); it reflects every event committed before. */
  let freshAt = -Infinity;
  /** @type {Promise<void> | null} */
  let inFlight = null;
  let closed = false;

  /** @param {{ type: string, data: Record<string, any> }} e */
  function apply(e) {
    const now = Date.now();
    const user = e.data.user_id;
    switch (e.type) {
      case "session.revoked":
        revoked.set(e.data.sid, now);
        break;
      case "user.suspended":
      case "user.deletion_requested":
        disabled.set(user, now);
        break;
      case "user.deleted":
        deleted.add(user);
        break;
      case "user.reactivated":
      case "user.restored":
        disabled.delete(user);
        break;
    }
  }

  function forget() {
    const cutoff = Date.now() - forgetAfter;
    for (const [sid, at] of revoked) if (at < cutoff) revoked.delete(sid);
  }

  async function readFeed() {
    const started = Date.now();
    for (;;) {
      const res = await doFetch(new URL(`${basePath}/events?after=${after}&limit=${PAGE}`, origin), {
        headers: { authorization, accept: "application/json" },
      });
      if (!res.ok) throw new VerifyError("revocation_unavailable", `the events feed answered ${res.status}`);
      const body = /** @type {{ events: { type: string, position: number, data: Record<string, any> }[], next: number }} */ (
        await res.json()
      );
      for (const e of body.events) apply(e);
      after = body.next;
      if (body.events.length < PAGE) break;
    }
    forget();
    freshAt = started;
  }

  /** One read at a time; callers arriving meanwhile share it. */
  function sync() {
    if (!inFlight)
      inFlight = readFeed().finally(() => {
        inFlight = null;
      });
    return inFlight;
  }

  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer;
  function schedule() {
    if (closed) return;
    timer = setTimeout(() => {
      sync()
        .catch(() => {}) // a verification that needs fresh state reports it
        .finally(schedule);
    }, pollInterval);
    // Never keeps the process alive on its own.
    if (typeof timer === "object" && timer && "unref" in timer) timer.unref();
  }
  const started = sync().catch(() => {});
  schedule();

  async function ensureFresh() {
    if (Date.now() - freshAt <= maxLag) return;
    await started;
    try {
      // A read that started before the lag began would not do: wait for one that starts now.
      if (inFlight) await inFlight.catch(() => {});
      if (Date.now() - freshAt > maxLag) await sync();
    } catch (err) {
      throw err instanceof VerifyError ? err : new VerifyError("revocation_unavailable", `the events feed cannot be read: ${err}`);
    }
  }

  /**
   * @param {string} token
   * @returns {Promise<AccessClaims>}
   */
  async function verifySignature(token) {
    let header;
    try {
      header = JSON.parse(new TextDecoder().decode(base64url(token.split(".")[0] ?? "")));
    } catch {
      throw new VerifyError("invalid_token", "not a JWT");
    }
    const common = { issuer, audience, typ: "JWT", clockTolerance, requiredClaims: ["exp", "sub", "sid"] };
    try {
      const { payload } =
        header.alg === "HS256" && legacyKey
          ? await jwtVerify(token, legacyKey, { ...common, algorithms: ["HS256"] })
          : await jwtVerify(token, jwks, { ...common, algorithms: ["EdDSA", "ES256"] });
      if (payload.token_use !== "access") throw new VerifyError("invalid_token", "not an access token");
      return /** @type {AccessClaims} */ (payload);
    } catch (err) {
      if (err instanceof VerifyError) throw err;
      if (err instanceof errors.JWTExpired) throw new VerifyError("token_expired", "the token has expired");
      if (err instanceof errors.JOSEError) throw new VerifyError("invalid_token", err.message);
      throw err;
    }
  }

  /**
   * The token's claims, or a VerifyError.
   * @param {string} token
   * @returns {Promise<AccessClaims>}
   */
  async function verify(token) {
    if (typeof token !== "string" || token.length === 0 || token.length > 8192) throw new VerifyError("invalid_token", "no token");
    const claims = await verifySignature(token);
    await ensureFresh();
    if (revoked.has(claims.sid)) throw new VerifyError("session_revoked", "the session has ended");
    if (deleted.has(claims.sub) || disabled.has(claims.sub))
      throw new VerifyError("account_disabled", "the account is suspended or deleted");
    return claims;
  }

  /**
   * Express (or Connect, or plain node:http) middleware: `Authorization: Bearer <token>` verified,
   * its claims on `req[property]` (default `req.auth`), then `next()`. Otherwise it answers itself:
   * 401 (no, invalid, expired or revoked token; a disabled account) or 503 (the revocation state
   * cannot be read), JSON `{status: "error", code, message}`.
   *
   * @param {{ property?: string }} [opts]
   * @returns {(req: import("node:http").IncomingMessage & Record<string, any>, res: import("node:http").ServerResponse, next: (err?: unknown) => void) => void}
   */
  function middleware(opts = {}) {
    const property = opts.property ?? "auth";
    return (req, res, next) => {
      const header = req.headers.authorization ?? "";
      const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
      const fail = (/** @type {VerifyError} */ err) => {
        const status = err.code === "revocation_unavailable" ? 503 : 401;
        res.statusCode = status;
        res.setHeader("content-type", "application/json");
        if (status === 401) res.setHeader("www-authenticate", `Bearer error="invalid_token"`);
        res.end(JSON.stringify({ status: "error", code: err.code, message: err.message }));
      };
      if (!m) return fail(new VerifyError("invalid_token", "send Authorization: Bearer <access token>"));
      verify(m[1]).then(
        (claims) => {
          req[property] = claims;
          next();
        },
        (err) => (err instanceof VerifyError ? fail(err) : next(err)),
      );
    };
  }

  return {
    verify,
    middleware,
    /** Resolves once the feed has been read up to now (or rejects when it cannot be). */
    ready: () => ensureFresh(),
    /** Stops the background reads. */
    close() {
      closed = true;
      clearTimeout(timer);
    },
  };
}

/** @param {string} s */
function base64url(s) {
  const b64 = s.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((s.length + 3) % 4);
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}
