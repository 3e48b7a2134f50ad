import { eq, sql } from "drizzle-orm";
import { throttles } from "../../db/schema";
import type { Deps } from "../../deps";
import { clearThrottle, reserve, type ThrottlePolicy, throttleKey } from "../throttle";
import type { CaptchaAction } from "./turnstile";

/**
 * "Under risk" for the routes that challenge only then (login, code verification): after
 * TURNSTILE_LOGIN_AFTER_FAILURES failed attempts within TURNSTILE_RISK_WINDOW, counted per account
 * (the request's email) and per client address (IPv6 per /64), for each action apart.
 *
 * The counters are keys of the throttle table (src/auth/throttle.ts), keyed by a keyed hash of
 * the email or the address, and move like every other throttle there: an attempt is reserved
 * before the work it gates, by one atomic statement that refuses at the limit, so a burst of
 * requests cannot slip more than the limit's worth of attempts past the gate. A refused
 * reservation means "under risk": the request needs a token. Settling after the answer:
 *  - success: the account's count is cleared; the address gives back this attempt (or is cleared
 *    when a verified token came with it: a person passed from there);
 *  - failure (any 4xx): the attempt stays counted;
 *  - a fault of ours (5xx): the attempt is given back.
 * A success does not clear the address outright: else one working account would reset it
 * between guesses on others.
 */

export interface Risk {
  /** The counters of this request: the address's and the account's (those it has). */
  keys: string[];
  /** The account's counter, if the request names one. */
  account: string | null;
  /** The keys holding an attempt of this request. */
  counted: string[];
  atRisk: boolean;
}

const policy = (deps: Deps, limited: boolean): ThrottlePolicy => ({
  // Never a delay: only the limit matters (the login throttle does the delays).
  free: 2 ** 31 - 1,
  baseDelay: 1,
  maxDelay: 1,
  window: deps.config.TURNSTILE_RISK_WINDOW,
  ...(limited ? { limit: deps.config.TURNSTILE_LOGIN_AFTER_FAILURES } : {}),
});

/** Give back one attempt of a key. */
async function giveBack(deps: Deps, key: string): Promise<void> {
  await deps.db
    .update(throttles)
    .set({ failures: sql`greatest(${throttles.failures} - 1, 0)` })
    .where(eq(throttles.key, key));
}

/**
 * Reserve this request's attempt on each counter, refused at the limit. Under risk (a refusal),
 * the attempts already reserved are given back: the request goes on only with a token.
 */
export async function assessRisk(
  deps: Deps,
  action: CaptchaAction,
  subject: { email: string | null; address: string | null },
): Promise<Risk> {
  const account = subject.email ? await throttleKey(deps, `captcha:${action}:account`, subject.email) : null;
  const address = subject.address ? await throttleKey(deps, `captcha:${action}:address`, subject.address) : null;
  const keys = [address, account].filter((k) => k !== null);
  const counted: string[] = [];
  for (const key of keys) {
    if ((await reserve(deps, key, policy(deps, true))).reserved) {
      counted.push(key);
      continue;
    }
    for (const k of counted) await giveBack(deps, k);
    return { keys, account, counted: [], atRisk: true };
  }
  return { keys, account, counted, atRisk: false };
}

/** A request under risk that came with a token: its attempt counts, whatever the counts are. */
export async function countAttempt(deps: Deps, risk: Risk): Promise<Risk> {
  for (const key of risk.keys) await reserve(deps, key, policy(deps, false));
  return { ...risk, counted: [...risk.keys] };
}

/** After the answer: see the rules above. `proven`: a token was verified by siteverify on this request. */
export async function settleRisk(deps: Deps, risk: Risk, outcome: "success" | "failure" | "fault", proven: boolean): Promise<void> {
  if (outcome === "failure") return;
  for (const key of risk.counted) {
    const clears = outcome === "success" && (key === risk.account || proven);
    await (clears ? clearThrottle(deps, key) : giveBack(deps, key));
  }
}
