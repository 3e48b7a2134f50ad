import { describe, expect, it } from "vitest";
import { generateKeySet } from "../../../src/auth/sessions/jwk";
import { PASSWORD, uniqueEmail } from "../../support/accounts";
import { withDb } from "../../support/db";
import { mailsTo } from "../../support/mail";
import { captchaAudit, captchaEnv, solve, spendElsewhere, turnstile, verificationsOf } from "../../support/turnstile";
import { call, freshIp, json, runScheduled } from "../../support/worker";

/**
 * The routes that always need a token once TURNSTILE_SECRET_KEY is set (register, forgot-password,
 * sign-in by code), through the Worker, against the local siteverify stand-in: each refuses a
 * missing, failed, spent, expired, wrong-hostname and wrong-action token, and accepts a passing one,
 * once. What they did (an account, a mail) happens only for the passing one.
 */

interface Protected {
  path: string;
  action: string;
  ok: number;
  body: (email: string) => Record<string, unknown>;
  /** Whether the route did its work for this email (an account, a mail). */
  didWork: (email: string) => Promise<boolean>;
}

const accountExists = (email: string) =>
  withDb(async (sql) => (await sql`select 1 from users where lower(email) = ${email.toLowerCase()}`).length === 1);

const ALWAYS: Protected[] = [
  {
    path: "/auth/register",
    action: "register",
    ok: 201,
    body: (email) => ({ full_name: "Bot Check", email, password: PASSWORD }),
    didWork: accountExists,
  },
  {
    path: "/auth/forgot-password",
    action: "forgot_password",
    ok: 200,
    body: (email) => ({ email }),
    didWork: async (email) => (await mailsTo(email, "password_reset")).length > 0,
  },
  {
    path: "/auth/sign-in/code",
    action: "sign_in_code",
    ok: 202,
    body: (email) => ({ email }),
    didWork: async (email) => (await mailsTo(email, "sign_in_code")).length > 0,
  },
];

/** For forgot-password and sign-in codes the email must belong to an account for a mail to be sent. */
async function accountFor(route: Protected): Promise<string> {
  const email = uniqueEmail("bot");
  if (route.action === "register") return email;
  const res = await call("/auth/register", { body: { full_name: "Has Account", email, password: PASSWORD } });
  expect(res.status).toBe(201);
  return email;
}

const send = (route: Protected, email: string, token?: unknown, env: Record<string, string> = captchaEnv(), ip = freshIp()) =>
  call(route.path, { body: { ...route.body(email), ...(token === undefined ? {} : { turnstile_token: token }) }, env, ip });

describe.each(ALWAYS)("$path (action $action) with TURNSTILE_SECRET_KEY set", (route) => {
  it("no token: 403 captcha_required with the site key and the action, audited, nothing done", async () => {
    const email = await accountFor(route);
    const res = await send(route, email);
    expect(res.status).toBe(403);
    expect(await json(res)).toEqual({
      status: "error",
      code: "captcha_required",
      message: expect.stringMatching(/security check/),
      site_key: turnstile().siteKey,
      action: route.action,
    });
    expect(await captchaAudit(res)).toEqual([
      { event: "captcha_refused", outcome: "blocked", detail: { action: route.action, reason: "missing" } },
    ]);
    expect(await route.didWork(email)).toBe(false);
    // An empty token is no token.
    expect((await json(await send(route, email, ""))).code).toBe("captcha_required");
  });

  it("a forged, a spent, an expired, a wrong-hostname and a wrong-action token: 400 captcha_invalid, each audited with its reason", async () => {
    const email = await accountFor(route);
    const spent = await solve(route.action);
    await spendElsewhere(spent.token);
    const other = route.action === "register" ? "login" : "register";
    const cases: [string, unknown, string][] = [
      ["forged", `0.forged-token-that-no-widget-made-${crypto.randomUUID()}`, "invalid"],
      ["spent", spent.token, "spent_or_expired"],
      ["expired", (await solve(route.action, { ageSeconds: 301 })).token, "spent_or_expired"],
      ["wrong hostname", (await solve(route.action, { hostname: "evil.example" })).token, "wrong_hostname"],
      ["wrong action", (await solve(other)).token, "wrong_action"],
      ["too long", "x".repeat(2049), "n/a"],
    ];
    for (const [name, token, reason] of cases) {
      const res = await send(route, email, token);
      const body = await json(res);
      if (name === "too long") {
        // Longer than any Turnstile token: refused by the body's schema before anything is asked.
        expect(res.status, name).toBe(400);
        expect(body.code, name).toBe("validation_failed");
        continue;
      }
      expect(res.status, name).toBe(400);
      expect(body, name).toMatchObject({ code: "captcha_invalid", site_key: turnstile().siteKey, action: route.action });
      const [row] = await captchaAudit(res);
      expect(row, name).toMatchObject({ event: "captcha_refused", outcome: "failure", detail: { action: route.action, reason } });
      expect(JSON.stringify(row.detail), name).not.toContain(String(token).slice(2, 40));
    }
    expect(await route.didWork(email)).toBe(false);
  });

  it("a passing token: the route answers as without Turnstile, once; siteverify got the secret's widget, the client address and an idempotency key", async () => {
    const email = await accountFor(route);
    const { token, id } = await solve(route.action);
    const ip = freshIp();
    const res = await send(route, email, token, captchaEnv(), ip);
    expect(res.status).toBe(route.ok);
    expect(await captchaAudit(res)).toEqual([{ event: "captcha_passed", outcome: "success", detail: { action: route.action } }]);
    expect(await route.didWork(email)).toBe(true);
    const [asked] = await verificationsOf(id);
    expect(asked).toMatchObject({ secret: "widget", remoteip: ip, outcome: "answered", error_codes: [] });
    expect(asked.idempotency_key).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);

    // The same token again: refused here, before siteverify is asked.
    const again = await send(route, route.action === "register" ? uniqueEmail("bot") : email, token);
    expect(again.status).toBe(400);
    expect(await json(again)).toMatchObject({ code: "captcha_invalid" });
    expect(await captchaAudit(again)).toEqual([
      { event: "captcha_refused", outcome: "failure", detail: { action: route.action, reason: "replayed" } },
    ]);
    expect(await verificationsOf(id)).toHaveLength(1);
  });
});

describe("one passing token, many requests at once", () => {
  it("50 parallel registrations with one token: exactly one account, the rest 400 captcha_invalid; siteverify asked once", async () => {
    const { token, id } = await solve("register");
    const emails = Array.from({ length: 50 }, () => uniqueEmail("burst"));
    const results = await Promise.all(emails.map((email) => send(ALWAYS[0], email, token)));
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 201)).toHaveLength(1);
    expect(statuses.filter((s) => s === 400)).toHaveLength(49);
    for (const r of results.filter((r) => r.status === 400)) expect((await json(r)).code).toBe("captcha_invalid");
    const created = await withDb((sql) => sql`select email from users where email in ${sql(emails)}`);
    expect(created).toHaveLength(1);
    expect(await verificationsOf(id)).toHaveLength(1);
  });
});

describe("Cloudflare's test keys (npm run dev): the dummy token", () => {
  const DUMMY = "XXXX.DUMMY.TOKEN.XXXX";
  const register = (secret: string, env: Record<string, string> = {}) =>
    send(ALWAYS[0], uniqueEmail("dummy"), DUMMY, captchaEnv({ TURNSTILE_SECRET_KEY: secret, ...env }));

  it("always passes with 1x…AA (and stays usable: Cloudflare's dummy token is not single-use), outside production", async () => {
    for (let i = 0; i < 2; i++) {
      const res = await register("1x0000000000000000000000000000000AA");
      expect(res.status).toBe(201);
      expect(await captchaAudit(res)).toEqual([
        { event: "captcha_passed", outcome: "success", detail: { action: "register", testing_key: true } },
      ]);
    }
  });

  it("always fails with 2x…AA; answers 'already spent' with 3x…AA", async () => {
    const failed = await register("2x0000000000000000000000000000000AA");
    expect(failed.status).toBe(400);
    expect((await captchaAudit(failed))[0].detail).toMatchObject({ reason: "invalid", error_codes: "invalid-input-response" });
    const spent = await register("3x0000000000000000000000000000000AA");
    expect(spent.status).toBe(400);
    expect((await captchaAudit(spent))[0].detail).toMatchObject({ reason: "spent_or_expired", error_codes: "timeout-or-duplicate" });
  });

  it("a test key in production is a misconfiguration: 503, never a pass, even with fail-open", async () => {
    const production = { ENVIRONMENT: "production", JWT_PRIVATE_KEYS: JSON.stringify(await generateKeySet()), TURNSTILE_FAIL_OPEN: "true" };
    const res = await register("1x0000000000000000000000000000000AA", production);
    expect(res.status).toBe(503);
    expect(await json(res)).toMatchObject({ code: "captcha_unavailable" });
    expect(await captchaAudit(res)).toEqual([
      { event: "captcha_unavailable", outcome: "blocked", detail: { action: "register", reason: "testing_key", fail_open: false } },
    ]);
  });

  it("a secret siteverify does not know: 503 (our misconfiguration, not the client's fault)", async () => {
    const res = await send(
      ALWAYS[0],
      uniqueEmail("bot"),
      (await solve("register")).token,
      captchaEnv({ TURNSTILE_SECRET_KEY: "0x4AAAAAAAnotTheSecret" }),
    );
    expect(res.status).toBe(503);
    expect((await captchaAudit(res))[0].detail).toMatchObject({ reason: "invalid-input-secret" });
  });
});

describe("without TURNSTILE_SECRET_KEY nothing changes", () => {
  it("no token needed, a token sent is ignored, siteverify never asked", async () => {
    const { token, id } = await solve("register");
    const env = { TURNSTILE_SECRET_KEY: "" };
    for (const route of ALWAYS) {
      const email = await accountFor(route);
      expect((await send(route, email, undefined, env)).status, route.path).toBe(route.ok);
      const withToken = await send(route, route.action === "register" ? uniqueEmail("bot") : email, token, env);
      expect([route.ok, 429], route.path).toContain(withToken.status);
      expect(await captchaAudit(withToken)).toEqual([]);
    }
    expect(await verificationsOf(id)).toEqual([]);
  });
});

describe("the claimed tokens (auth_turnstile_tokens)", () => {
  it("hold a keyed hash, never the token; the hourly purge drops them once past any token's lifetime", async () => {
    const { token } = await solve("register");
    const email = uniqueEmail("claim");
    const res = await send(ALWAYS[0], email, token);
    expect(res.status).toBe(201);
    const rows = await withDb((sql) => sql`select token_hash, expires_at from auth_turnstile_tokens`);
    expect(JSON.stringify(rows)).not.toContain(token);
    const mine = crypto.randomUUID();
    await withDb(
      (sql) => sql`insert into auth_turnstile_tokens (token_hash, expires_at) values
                   (${`dead-${mine}`}, now() - interval '1 minute'), (${`live-${mine}`}, now() + interval '5 minutes')`,
    );
    await runScheduled();
    const left = await withDb((sql) => sql`select token_hash from auth_turnstile_tokens where token_hash like ${`%-${mine}`}`);
    expect(left.map((r) => r.token_hash)).toEqual([`live-${mine}`]);
  });
});

describe("settings", () => {
  it("a secret without its site key is a configuration error: every request answers 500 and names nothing secret", async () => {
    const res = await call("/auth/forgot-password", {
      body: { email: uniqueEmail("cfg") },
      env: captchaEnv({ TURNSTILE_SITE_KEY: "" }),
    });
    expect(res.status).toBe(500);
    const body = await json(res);
    expect(body).toMatchObject({ code: "internal_error", message: expect.stringMatching(/misconfigured/) });
    expect(JSON.stringify(body)).not.toContain(turnstile().secret);
  });
});
