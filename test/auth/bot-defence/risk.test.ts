import { describe, expect, it } from "vitest";
import { loginAs, loginFailures, registerUser, uniqueEmail, wrongCode } from "../../support/accounts";
import { fakeClock, SEC } from "../../support/clock";
import { codeIn, mailsTo } from "../../support/mail";
import { captchaAudit, captchaEnv, solve, spendElsewhere, turnstile } from "../../support/turnstile";
import { type CallOptions, call, freshIp, json } from "../../support/worker";

/**
 * The routes challenged only under risk: login (action `login`), and code verification
 * (sign-in/code/verify and reset-password, action `verify_code`). Under risk: after
 * TURNSTILE_LOGIN_AFTER_FAILURES (3) failures within TURNSTILE_RISK_WINDOW for the account, or from
 * the client address; then 403 captcha_required until a valid token comes; a success resets the
 * account's count.
 */

const WRONG = "Wrong-Password-42x";
const on = (opts: CallOptions = {}): CallOptions => ({ ...opts, env: captchaEnv() });
const expectRequired = async (res: Response, action: string) => {
  expect(res.status).toBe(403);
  expect(await json(res)).toMatchObject({ code: "captcha_required", site_key: turnstile().siteKey, action });
};

describe("login under risk", () => {
  it("3 failed logins for an account (from 3 addresses): the next needs a token, with the right password too; a success resets it", async () => {
    const u = await registerUser();
    for (let i = 0; i < 3; i++) expect((await loginAs(u.email, WRONG, on())).status).toBe(401);
    const refused = await loginAs(u.email, u.password, on());
    await expectRequired(refused, "login");
    expect(await captchaAudit(refused)).toEqual([
      { event: "captcha_refused", outcome: "blocked", detail: { action: "login", reason: "missing" } },
    ]);
    // Not counted as an attempt: the password was never checked.
    expect(await loginFailures(u.email)).toBe(3);

    const withToken = await call("/auth/login", {
      body: { email: u.email, password: u.password, turnstile_token: (await solve("login")).token },
      ...on(),
    });
    expect(withToken.status).toBe(200);
    expect(await captchaAudit(withToken)).toEqual([{ event: "captcha_passed", outcome: "success", detail: { action: "login" } }]);

    // Reset: three free failures again.
    for (let i = 0; i < 3; i++) expect((await loginAs(u.email, WRONG, on())).status).toBe(401);
    await expectRequired(await loginAs(u.email, WRONG, on()), "login");
  });

  it("under risk, a wrong password with a valid token still counts: each further guess needs a new token", async () => {
    const u = await registerUser();
    for (let i = 0; i < 3; i++) await loginAs(u.email, WRONG, on());
    const guess = await call("/auth/login", {
      body: { email: u.email, password: WRONG, turnstile_token: (await solve("login")).token },
      ...on(),
    });
    expect(guess.status).toBe(401);
    await expectRequired(await loginAs(u.email, u.password, on()), "login");
  });

  it("3 failed logins from one address (any accounts): every login from it needs a token; other addresses do not", async () => {
    const ip = freshIp();
    for (let i = 0; i < 3; i++) expect((await loginAs(uniqueEmail("stuffed"), WRONG, on({ ip }))).status).toBe(401);
    const u = await registerUser();
    await expectRequired(await loginAs(u.email, u.password, on({ ip })), "login");
    expect((await loginAs(u.email, u.password, on())).status).toBe(200);
    // A person passes the challenge from there: the address is clear again.
    const passed = await call("/auth/login", {
      body: { email: u.email, password: u.password, turnstile_token: (await solve("login")).token },
      ...on({ ip }),
    });
    expect(passed.status).toBe(200);
    expect((await loginAs(uniqueEmail("stuffed"), WRONG, on({ ip }))).status).toBe(401);
  });

  it("a success without a token gives back only its own attempt at the address: one working account does not reset it", async () => {
    const ip = freshIp();
    const u = await registerUser();
    for (let i = 0; i < 2; i++) expect((await loginAs(uniqueEmail("stuffed"), WRONG, on({ ip }))).status).toBe(401);
    expect((await loginAs(u.email, u.password, on({ ip }))).status).toBe(200);
    expect((await loginAs(uniqueEmail("stuffed"), WRONG, on({ ip }))).status).toBe(401);
    await expectRequired(await loginAs(u.email, u.password, on({ ip })), "login");
  });

  it("failures older than TURNSTILE_RISK_WINDOW no longer count", async () => {
    const u = await registerUser();
    const clock = fakeClock();
    for (let i = 0; i < 3; i++) await loginAs(u.email, WRONG, on({ now: clock.now }));
    await expectRequired(await loginAs(u.email, u.password, on({ now: clock.now })), "login");
    clock.advance(3600 * SEC + SEC);
    expect((await loginAs(u.email, u.password, on({ now: clock.now }))).status).toBe(200);
  });

  it("50 wrong passwords at once for one account: at most 3 reach the password check, the rest answer captcha_required", async () => {
    const u = await registerUser();
    const results = await Promise.all(Array.from({ length: 50 }, () => loginAs(u.email, WRONG, on())));
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 401).length).toBeLessThanOrEqual(3);
    expect(statuses.filter((s) => s === 401).length).toBeGreaterThan(0);
    expect(statuses.filter((s) => s === 403)).toHaveLength(statuses.length - statuses.filter((s) => s === 401).length);
    expect(await loginFailures(u.email)).toBeLessThanOrEqual(3);
  });

  it("TURNSTILE_LOGIN_AFTER_FAILURES sets the count; without the secret nothing is ever challenged", async () => {
    const u = await registerUser();
    expect((await loginAs(u.email, WRONG, { env: captchaEnv({ TURNSTILE_LOGIN_AFTER_FAILURES: "1" }) })).status).toBe(401);
    await expectRequired(await loginAs(u.email, u.password, { env: captchaEnv({ TURNSTILE_LOGIN_AFTER_FAILURES: "1" }) }), "login");
    const v = await registerUser();
    for (let i = 0; i < 4; i++) expect((await loginAs(v.email, WRONG)).status).toBe(401);
    expect((await loginAs(v.email, v.password)).status).toBe(200);
  });
});

/** A risk route brought under risk for one account, with what a passing request sends. */
interface AtRisk {
  body: (extra: Record<string, unknown>) => Record<string, unknown>;
  ok: number;
}

const RISK_ROUTES: { path: string; action: string; atRisk: () => Promise<AtRisk> }[] = [
  {
    path: "/auth/login",
    action: "login",
    atRisk: async () => {
      const u = await registerUser();
      for (let i = 0; i < 3; i++) expect((await loginAs(u.email, WRONG, on())).status).toBe(401);
      return { body: (extra) => ({ email: u.email, password: u.password, ...extra }), ok: 200 };
    },
  },
  {
    path: "/auth/sign-in/code/verify",
    action: "verify_code",
    atRisk: async () => {
      const u = await registerUser();
      expect((await call("/auth/sign-in/code", { body: { email: u.email } })).status).toBe(202);
      const code = codeIn((await mailsTo(u.email, "sign_in_code"))[0]);
      for (let i = 1; i <= 3; i++)
        expect((await call("/auth/sign-in/code/verify", { body: { email: u.email, code: wrongCode(code, i) }, ...on() })).status).toBe(400);
      return { body: (extra) => ({ email: u.email, code, ...extra }), ok: 200 };
    },
  },
  {
    path: "/auth/reset-password",
    action: "verify_code",
    atRisk: async () => {
      const u = await registerUser();
      expect((await call("/auth/forgot-password", { body: { email: u.email } })).status).toBe(200);
      const code = codeIn((await mailsTo(u.email, "password_reset"))[0]);
      const body = (otp: string, extra: Record<string, unknown> = {}) => ({
        email: u.email,
        otp,
        new_password: "A-New-Long-Passphrase-7",
        ...extra,
      });
      for (let i = 1; i <= 3; i++)
        expect((await call("/auth/reset-password", { body: body(wrongCode(code, i)), ...on() })).status).toBe(400);
      return { body: (extra) => body(code, extra), ok: 200 };
    },
  },
];

describe.each(RISK_ROUTES)("$path under risk (action $action)", (route) => {
  it("refuses a missing, forged, spent, wrong-hostname and wrong-action token; accepts a passing one", async () => {
    const r = await route.atRisk();
    const send = (token?: string) => call(route.path, { body: r.body(token === undefined ? {} : { turnstile_token: token }), ...on() });
    await expectRequired(await send(), route.action);
    const spent = await solve(route.action);
    await spendElsewhere(spent.token);
    for (const [name, token] of [
      ["forged", `0.forged-${crypto.randomUUID()}`],
      ["spent", spent.token],
      ["wrong hostname", (await solve(route.action, { hostname: "evil.example" })).token],
      ["wrong action", (await solve(route.action === "login" ? "verify_code" : "login")).token],
    ]) {
      const res = await send(token);
      expect(res.status, name).toBe(400);
      expect(await json(res), name).toMatchObject({ code: "captcha_invalid", site_key: turnstile().siteKey, action: route.action });
    }
    const passed = await send((await solve(route.action)).token);
    expect(passed.status).toBe(r.ok);
    // The success reset the account's count: no token needed now (the address had no failures).
    expect((await call(route.path, { body: r.body({}), ...on() })).status).not.toBe(403);
  });
});
