import { expect, inject } from "vitest";
import type { Behaviour } from "../../scripts/stack/turnstile-stub.ts";

export type { Behaviour };

import { withDb } from "./db";

/**
 * Cloudflare Turnstile in tests: the local siteverify (scripts/stack/turnstile-stub.ts) that
 * TURNSTILE_VERIFY_URL points at, and the settings that turn the challenges on for one request
 * (the suite's own bindings have no secret: nothing is challenged elsewhere).
 */
export const turnstile = () => inject("turnstile");

/** The settings of a deployment with Turnstile on, plus `extra`. The test Worker's host is auth.test. */
export const captchaEnv = (extra: Record<string, string> = {}) => ({
  TURNSTILE_SECRET_KEY: turnstile().secret,
  TURNSTILE_SITE_KEY: turnstile().siteKey,
  TURNSTILE_HOSTNAMES: "app.test,auth.test",
  TURNSTILE_TIMEOUT: "1",
  ...extra,
});

/** A token as the widget hands it to a client after a challenge solved on `hostname` for `action`. */
export async function solve(
  action: string,
  opts: { hostname?: string; ageSeconds?: number; behaviour?: Behaviour } = {},
): Promise<{ token: string; id: string }> {
  const res = await fetch(`${turnstile().url}/__tokens`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ action, hostname: opts.hostname ?? "app.test", ageSeconds: opts.ageSeconds, behaviour: opts.behaviour }),
  });
  expect(res.status).toBe(201);
  return res.json();
}

export interface Verification {
  id: string | null;
  secret: string;
  remoteip: string | null;
  idempotency_key: string | null;
  outcome: "answered" | "hung" | "abandoned" | "unreachable";
  error_codes: string[];
}

/** What the stand-in was asked about one token (by its id), oldest first. */
export async function verificationsOf(id: string): Promise<Verification[]> {
  const log = (await (await fetch(`${turnstile().url}/__log`)).json()) as Verification[];
  return log.filter((v) => v.id === id);
}

/** Spend a token at siteverify directly, as another server holding the secret would. */
export async function spendElsewhere(token: string): Promise<void> {
  const res = await fetch(`${turnstile().url}/turnstile/v0/siteverify`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ secret: turnstile().secret, response: token }),
  });
  expect(((await res.json()) as { success: boolean }).success).toBe(true);
}

/** The bot-defence audit rows of one request (by its X-Request-Id). */
export async function captchaAudit(res: Response): Promise<{ event: string; outcome: string; detail: Record<string, unknown> }[]> {
  const requestId = res.headers.get("x-request-id");
  expect(requestId).toBeTruthy();
  return withDb(
    (sql) => sql`select event, outcome, detail from auth_audit_events
                 where request_id = ${requestId} and event like 'captcha_%' order by id`,
  ) as never;
}
