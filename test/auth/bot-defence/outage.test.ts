import { describe, expect, it } from "vitest";
import { PASSWORD, uniqueEmail } from "../../support/accounts";
import { withDb } from "../../support/db";
import { type Behaviour, captchaAudit, captchaEnv, solve, verificationsOf } from "../../support/turnstile";
import { call, freshIp, json } from "../../support/worker";

/**
 * siteverify that cannot give a verdict: it hangs past TURNSTILE_TIMEOUT, cuts the connection,
 * cannot be reached at all, or answers its retryable internal-error. By default the request
 * answers 503 captcha_unavailable with Retry-After and the token is given back (a retry may use
 * it); with TURNSTILE_FAIL_OPEN it goes through, audited. No latency is asserted: the stand-in
 * says whether the Worker gave up on a hung request, and the answer says what the Worker did.
 */

const register = (email: string, token: string, env: Record<string, string> = {}, ip = freshIp()) =>
  call("/auth/register", {
    body: { full_name: "Outage Test", email, password: PASSWORD, turnstile_token: token },
    env: captchaEnv(env),
    ip,
  });

const accountExists = (email: string) => withDb(async (sql) => (await sql`select 1 from users where lower(email) = ${email}`).length === 1);

/** Until the stand-in has seen the Worker give up on the hung verification of `id` (bounded: a wait on an event, not a guess). */
async function untilAbandoned(id: string, timeoutMs = 20_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const [v] = await verificationsOf(id);
    if (v?.outcome === "abandoned") return;
    if (Date.now() > until) throw new Error(`the Worker never gave up on verification ${id}: ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("siteverify without a verdict, by default (TURNSTILE_FAIL_OPEN=false)", () => {
  it("hangs: the Worker gives up after TURNSTILE_TIMEOUT and answers 503 captcha_unavailable with Retry-After; nothing is created", async () => {
    const email = uniqueEmail("hang");
    const { token, id } = await solve("register", { behaviour: "hang" });
    const res = await register(email, token);
    expect(res.status).toBe(503);
    expect(Number(res.headers.get("Retry-After"))).toBeGreaterThan(0);
    expect(await json(res)).toMatchObject({ status: "error", code: "captcha_unavailable" });
    await untilAbandoned(id);
    expect(await captchaAudit(res)).toEqual([
      { event: "captcha_unavailable", outcome: "blocked", detail: { action: "register", reason: "timeout", fail_open: false } },
    ]);
    expect(await accountExists(email)).toBe(false);
  });

  it.each<[string, Behaviour | "down", string]>([
    ["cuts the connection", "unreachable", "network"],
    ["answers internal-error", "internal-error", "internal-error"],
    ["cannot be reached", "down", "network"],
  ])("%s: 503 captcha_unavailable (reason %s)", async (_name, behaviour, reason) => {
    const email = uniqueEmail("down");
    const { token } = await solve("register", behaviour === "down" ? {} : { behaviour });
    const res = await register(
      email,
      token,
      behaviour === "down" ? { TURNSTILE_VERIFY_URL: "http://127.0.0.1:1/turnstile/v0/siteverify" } : {},
    );
    expect(res.status).toBe(503);
    expect(res.headers.get("Retry-After")).toBeTruthy();
    expect((await captchaAudit(res))[0]).toMatchObject({ event: "captcha_unavailable", outcome: "blocked", detail: { reason } });
    expect(await accountExists(email)).toBe(false);
  });

  it("the token is given back: the client's retry with the same token passes once siteverify is back", async () => {
    const email = uniqueEmail("retry");
    const { token } = await solve("register");
    const down = await register(email, token, { TURNSTILE_VERIFY_URL: "http://127.0.0.1:1/turnstile/v0/siteverify" });
    expect(down.status).toBe(503);
    const retry = await register(email, token);
    expect(retry.status).toBe(201);
    expect(await accountExists(email)).toBe(true);
  });

  it("siteverify spent the token but its answer was lost: the retry sends the same idempotency key and gets Cloudflare's first answer", async () => {
    const email = uniqueEmail("idem");
    const { token, id } = await solve("register", { behaviour: "hang-once" });
    const lost = await register(email, token);
    expect(lost.status).toBe(503);
    await untilAbandoned(id);
    const retry = await register(email, token);
    expect(retry.status).toBe(201);
    const [first, second] = await verificationsOf(id);
    expect(second.idempotency_key).toBe(first.idempotency_key);
    expect(second).toMatchObject({ outcome: "answered", error_codes: [] });
  });
});

describe("TURNSTILE_FAIL_OPEN=true", () => {
  it("siteverify hangs or is down: the request goes through, audited as let through (never the token)", async () => {
    for (const [behaviour, env] of [
      ["hang", {}],
      [undefined, { TURNSTILE_VERIFY_URL: "http://127.0.0.1:1/turnstile/v0/siteverify" }],
    ] as const) {
      const email = uniqueEmail("open");
      const { token } = await solve("register", behaviour ? { behaviour } : {});
      const res = await register(email, token, { TURNSTILE_FAIL_OPEN: "true", ...env });
      expect(res.status).toBe(201);
      const rows = await captchaAudit(res);
      expect(rows).toEqual([
        {
          event: "captcha_unavailable",
          outcome: "success",
          detail: { action: "register", reason: behaviour ? "timeout" : "network", fail_open: true },
        },
      ]);
      expect(JSON.stringify(rows)).not.toContain(token.slice(2, 30));
      // Let through once: the token is spent here all the same.
      const again = await register(uniqueEmail("open"), token, { TURNSTILE_FAIL_OPEN: "true", ...env });
      expect(again.status).toBe(400);
    }
  });

  it("still refuses a token siteverify does answer about (fail-open is for outages only)", async () => {
    const res = await register(uniqueEmail("open"), `0.forged-${crypto.randomUUID()}`, { TURNSTILE_FAIL_OPEN: "true" });
    expect(res.status).toBe(400);
    expect((await json(res)).code).toBe("captcha_invalid");
  });
});
