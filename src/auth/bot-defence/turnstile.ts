import { eq } from "drizzle-orm";
import { authSecret, type Config } from "../../config";
import { turnstileTokens } from "../../db/schema";
import type { Deps, RequestMeta } from "../../deps";
import { apiError, type Challenge, type ErrorCode } from "../../errors";
import { hex, hmac, hmacHex } from "../../lib/encoding";
import { describeError } from "../../log";
import { type AuditDetail, type AuditOutcome, audit } from "../audit";

/**
 * Cloudflare Turnstile, checked server-side (docs/bot-defence.md). A route declares its challenge
 * (src/routes/route.ts `captcha`); with TURNSTILE_SECRET_KEY set, the token the client's widget
 * produced (`turnstile_token`) is:
 *  1. claimed here first: a keyed hash of it is inserted once (auth_turnstile_tokens), so however
 *     many requests carry one token at once, at most one goes on (the others: captcha_invalid);
 *  2. verified once with siteverify (the secret, the client address, and an idempotency key
 *     derived from the token, so a retry after an outage gets Cloudflare's first answer back);
 *  3. checked: success, `hostname` among TURNSTILE_HOSTNAMES (when set), `action` the route's.
 * Each outcome is audited, never the token. siteverify unreachable, slow (TURNSTILE_TIMEOUT) or
 * failing answers 503 captcha_unavailable and gives the token back (the client may retry it), or
 * with TURNSTILE_FAIL_OPEN lets the request through. A refusal of our own request (wrong secret,
 * a test key in production) is a misconfiguration: logged as an error, always 503.
 */

/** The actions of the widgets, one per challenged route family (the client renders the widget with it). */
const CAPTCHA_ACTIONS = ["register", "forgot_password", "sign_in_code", "login", "verify_code"] as const;
export type CaptchaAction = (typeof CAPTCHA_ACTIONS)[number];

/** Without a secret nothing is challenged anywhere. */
export const captchaOn = (c: Config): boolean => Boolean(c.TURNSTILE_SECRET_KEY);

/** Cloudflare's limit on a token's length. */
const MAX_TOKEN = 2048;
/** How long a claimed token is remembered: past its own 300 s lifetime, with room for clock skew. */
const CLAIM_TTL_MS = 10 * 60 * 1000;
/** Retry-After of captcha_unavailable. */
const RETRY_AFTER = 5;

interface Answer {
  success: boolean;
  errorCodes: string[];
  hostname?: string;
  action?: string;
  testing: boolean;
}

type Siteverify = { kind: "answer"; answer: Answer } | { kind: "unavailable"; reason: string };

/** A UUID (version 4 layout) derived from the token: the same token always gets the same key. */
async function idempotencyKey(config: Config, token: string): Promise<string> {
  const b = new Uint8Array(await hmac(authSecret(config), `turnstile-idempotency:${token}`)).slice(0, 16);
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = hex(b);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

const tokenHash = (config: Config, token: string) => hmacHex(authSecret(config), `turnstile:${token}`);

/** Insert-or-fail: true for the one request that claims the token. */
async function claim(deps: Deps, hash: string): Promise<boolean> {
  const rows = await deps.db
    .insert(turnstileTokens)
    .values({ tokenHash: hash, expiresAt: new Date(deps.now().getTime() + CLAIM_TTL_MS) })
    .onConflictDoNothing()
    .returning({ hash: turnstileTokens.tokenHash });
  return rows.length === 1;
}

/** Give a claimed token back (siteverify gave no verdict on it, or it is Cloudflare's reusable test token). */
async function unclaim(deps: Deps, hash: string): Promise<void> {
  await deps.db.delete(turnstileTokens).where(eq(turnstileTokens.tokenHash, hash));
}

function parseAnswer(body: unknown): Answer | null {
  if (!body || typeof body !== "object") return null;
  const b = body as Record<string, unknown>;
  const codes = b["error-codes"] ?? [];
  if (typeof b.success !== "boolean" || !Array.isArray(codes)) return null;
  const text = (v: unknown) => (typeof v === "string" ? v : undefined);
  const metadata = b.metadata && typeof b.metadata === "object" ? (b.metadata as Record<string, unknown>) : {};
  return {
    success: b.success,
    errorCodes: codes.map(String),
    hostname: text(b.hostname),
    action: text(b.action),
    testing: metadata.result_with_testing_key === true,
  };
}

/** One siteverify call within TURNSTILE_TIMEOUT. Never throws. */
async function siteverify(deps: Deps, meta: RequestMeta, token: string): Promise<Siteverify> {
  const { TURNSTILE_VERIFY_URL: url, TURNSTILE_SECRET_KEY: secret, TURNSTILE_TIMEOUT: timeout } = deps.config;
  try {
    const res = await deps.fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", "user-agent": "edge-auth-api" },
      body: JSON.stringify({
        secret,
        response: token,
        ...(meta.ip ? { remoteip: meta.ip } : {}),
        idempotency_key: await idempotencyKey(deps.config, token),
      }),
      signal: AbortSignal.timeout(timeout * 1000),
    });
    if (!res.ok) {
      await res.body?.cancel();
      deps.log("warn", "siteverify failed", { httpStatus: res.status });
      return { kind: "unavailable", reason: `http_${res.status}` };
    }
    const answer = parseAnswer(await res.json().catch(() => null));
    if (!answer) {
      deps.log("warn", "siteverify answered something else than its JSON verdict");
      return { kind: "unavailable", reason: "bad_answer" };
    }
    return { kind: "answer", answer };
  } catch (err) {
    const timedOut = (err as Error)?.name === "TimeoutError";
    deps.log("warn", "siteverify unreachable", { timedOut, ...describeError(err) });
    return { kind: "unavailable", reason: timedOut ? "timeout" : "network" };
  }
}

/** Error codes of siteverify that say our own request is wrong (the secret, its shape): not the client's fault. */
const OUR_FAULT = new Set(["missing-input-secret", "invalid-input-secret", "bad-request"]);

type Verdict =
  | { ok: true; testing: boolean }
  | { ok: false; code: ErrorCode; reason: string; detail?: AuditDetail }
  | { ok: "unavailable"; reason: string; misconfigured: boolean };

/** What an answer means for this route. */
function judge(config: Config, action: CaptchaAction, a: Answer): Verdict {
  if (!a.success) {
    const codes = a.errorCodes.join(",").slice(0, 200);
    if (a.errorCodes.some((c) => OUR_FAULT.has(c))) return { ok: "unavailable", reason: codes, misconfigured: true };
    if (a.errorCodes.includes("internal-error")) return { ok: "unavailable", reason: "internal-error", misconfigured: false };
    const spent = a.errorCodes.includes("timeout-or-duplicate");
    return { ok: false, code: "captcha_invalid", reason: spent ? "spent_or_expired" : "invalid", detail: { error_codes: codes } };
  }
  // Cloudflare's test secrets pass the dummy token with no hostname or action of ours: fine for
  // development and tests, a misconfiguration in production.
  if (a.testing)
    return config.ENVIRONMENT === "production"
      ? { ok: "unavailable", reason: "testing_key", misconfigured: true }
      : { ok: true, testing: true };
  const hostname = (a.hostname ?? "").toLowerCase();
  const allowed = config.TURNSTILE_HOSTNAMES.map((h) => h.toLowerCase());
  if (allowed.length && !allowed.includes(hostname))
    return { ok: false, code: "captcha_invalid", reason: "wrong_hostname", detail: { hostname: hostname.slice(0, 255) } };
  if (a.action !== action)
    return { ok: false, code: "captcha_invalid", reason: "wrong_action", detail: { token_action: (a.action ?? "").slice(0, 32) } };
  return { ok: true, testing: false };
}

/** `proven`: siteverify vouched for the token; false when TURNSTILE_FAIL_OPEN let the request through. */
export interface ChallengePassed {
  proven: boolean;
}

/**
 * The challenge of a route, on one request: passes, or throws captcha_required (no token),
 * captcha_invalid (a token that does not pass) or captcha_unavailable (503 with Retry-After).
 */
export async function checkChallenge(deps: Deps, meta: RequestMeta, action: CaptchaAction, token: unknown): Promise<ChallengePassed> {
  const challenge: Challenge = { site_key: deps.config.TURNSTILE_SITE_KEY ?? "", action };
  const record = (event: "captcha_passed" | "captcha_refused" | "captcha_unavailable", outcome: AuditOutcome, detail: AuditDetail) =>
    audit(deps, meta, event, outcome, null, { action, ...detail });
  const refuse = async (code: ErrorCode, reason: string, detail: AuditDetail = {}, outcome: AuditOutcome = "failure") => {
    await record("captcha_refused", outcome, { reason, ...detail });
    return apiError(code, { challenge });
  };

  if (token === undefined || token === null || token === "") throw await refuse("captcha_required", "missing", {}, "blocked");
  if (typeof token !== "string" || token.length > MAX_TOKEN) throw await refuse("captcha_invalid", "malformed");
  const hash = await tokenHash(deps.config, token);
  if (!(await claim(deps, hash))) throw await refuse("captcha_invalid", "replayed");

  const result = await siteverify(deps, meta, token);
  // Cloudflare's test secrets answer for their reusable dummy token: it stays usable here too.
  if (result.kind === "answer" && result.answer.testing) await unclaim(deps, hash);
  const verdict: Verdict =
    result.kind === "unavailable"
      ? { ok: "unavailable", reason: result.reason, misconfigured: false }
      : judge(deps.config, action, result.answer);
  if (verdict.ok === true) {
    await record("captcha_passed", "success", verdict.testing ? { testing_key: true } : {});
    return { proven: true };
  }
  if (verdict.ok === false) throw await refuse(verdict.code, verdict.reason, verdict.detail);
  if (verdict.misconfigured)
    deps.log("error", "siteverify refused our request: check TURNSTILE_SECRET_KEY (a test key in production?)", { reason: verdict.reason });
  if (deps.config.TURNSTILE_FAIL_OPEN && !verdict.misconfigured) {
    await record("captcha_unavailable", "success", { reason: verdict.reason, fail_open: true });
    return { proven: false };
  }
  // No verdict on the token: it is given back, so the client's retry can use it.
  await unclaim(deps, hash);
  await record("captcha_unavailable", "blocked", { reason: verdict.reason, fail_open: false });
  throw apiError("captcha_unavailable", { retryAfter: RETRY_AFTER });
}
