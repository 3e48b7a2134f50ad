import { describe, expect, inject, it } from "vitest";
import { type Env, getConfig, settingsSchema } from "../../src/config";
import { clientAddress } from "../../src/middleware/client-address";
import { PASSWORD, uniqueEmail } from "../support/accounts";
import { auditRows, withDb } from "../support/db";
import { gateway } from "../support/gateway";
import { inOneWindow } from "../support/limits";
import { call, freshIp, json, testEnv } from "../support/worker";

/**
 * Issue 13: behind the platform's gateway every request comes from the gateway's address. Its
 * X-Client-IP is believed only from TRUSTED_PROXY_IPS with the right X-Proxy-Secret; rate limits,
 * sessions and audit rows then use the real client's address.
 */

const SECRET = "a-gateway-secret-of-thirty-two-chars!";
const parse = (env: Record<string, unknown>) => settingsSchema.safeParse({ ...testEnv, ...env });
const problems = (env: Record<string, unknown>) => {
  const r = parse(env);
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
};

/** The address the Worker would record for a request with these headers and settings. */
const resolve = (headers: Record<string, string>, env: Record<string, unknown> = {}) =>
  clientAddress(new Request("http://auth.test/auth/login", { headers }), getConfig({ ...testEnv, ...env } as Env));

describe("TRUSTED_PROXY_IPS and TRUSTED_PROXY_SECRET (checked when the settings are read)", () => {
  it("accepts IPv4 and IPv6 ranges and single addresses", () => {
    const r = parse({
      TRUSTED_PROXY_SECRET: SECRET,
      TRUSTED_PROXY_IPS: " 192.0.2.0/24, 2001:DB8:1::/48,198.51.100.7 , ::ffff:203.0.113.9",
    });
    expect(r.success).toBe(true);
    expect(r.data!.TRUSTED_PROXY_IPS.map(([a, bits]) => `${a.toString()}/${bits}`)).toEqual([
      "192.0.2.0/24",
      "2001:db8:1::/48",
      "198.51.100.7/32",
      "203.0.113.9/32",
    ]);
    expect(parse({}).data!.TRUSTED_PROXY_IPS).toEqual([]);
  });

  it.each([
    "192.0.2.0/33",
    "2001:db8::/129",
    "192.0.2.0/0",
    "::/0",
    "010.0.0.0/8", // octal in ipaddr.js's lenient parser: refused, not read as 8.0.0.0
    "127.1",
    "192.0.2.0/24/8",
    "192.0.2.0/x",
    "fe80::1%eth0",
    "gateway.example.com",
    "192.0.2.0/24, 300.1.1.1",
  ])("refuses %j", (value) => {
    expect(problems({ TRUSTED_PROXY_SECRET: SECRET, TRUSTED_PROXY_IPS: value }).join()).toMatch(
      /^TRUSTED_PROXY_IPS: ".+" is not an IPv4\/IPv6 address/,
    );
  });

  it("needs both settings, and a secret of 32+ characters", () => {
    expect(problems({ TRUSTED_PROXY_IPS: "192.0.2.0/24" })).toEqual([
      "TRUSTED_PROXY_SECRET: must be set (32+ characters) when TRUSTED_PROXY_IPS is set",
    ]);
    expect(problems({ TRUSTED_PROXY_SECRET: SECRET })).toEqual([
      "TRUSTED_PROXY_IPS: must list the gateway's addresses when TRUSTED_PROXY_SECRET is set",
    ]);
    expect(problems({ TRUSTED_PROXY_SECRET: "short", TRUSTED_PROXY_IPS: "192.0.2.1" })).toEqual([
      "TRUSTED_PROXY_SECRET: must have 32+ characters",
    ]);
  });

  it("a misconfigured Worker answers the generic 500, as for any configuration error", async () => {
    const res = await call("/auth/login", { body: { email: "a@example.com", password: "x" }, env: { TRUSTED_PROXY_IPS: "10.0.0.0/8" } });
    expect(res.status).toBe(500);
    expect((await json(res)).code).toBe("internal_error");
  });
});

describe("which address is the client's", () => {
  const env = { TRUSTED_PROXY_SECRET: SECRET, TRUSTED_PROXY_IPS: "192.0.2.0/24, 2001:db8:ffff::/48" };
  const fromGateway = { "cf-connecting-ip": "192.0.2.10", "x-proxy-secret": SECRET };

  it("a trusted gateway's X-Client-IP, validated and normalised", async () => {
    expect(await resolve({ ...fromGateway, "x-client-ip": "203.0.113.7" }, env)).toBe("203.0.113.7");
    expect(await resolve({ ...fromGateway, "x-client-ip": " 2001:0DB8:00AA:0000:0000:0000:0000:0001 " }, env)).toBe("2001:db8:aa::1");
    // Express's req.ip on a dual-stack socket: IPv4-mapped IPv6.
    expect(await resolve({ ...fromGateway, "x-client-ip": "::ffff:203.0.113.8" }, env)).toBe("203.0.113.8");
    expect(await resolve({ "cf-connecting-ip": "2001:db8:ffff:1::5", "x-proxy-secret": SECRET, "x-client-ip": "198.51.100.1" }, env)).toBe(
      "198.51.100.1",
    );
  });

  it.each([
    ["a wrong secret", { ...fromGateway, "x-proxy-secret": `${SECRET}x`, "x-client-ip": "203.0.113.7" }],
    ["a secret differing in one character", { ...fromGateway, "x-proxy-secret": `${SECRET.slice(0, -1)}?`, "x-client-ip": "203.0.113.7" }],
    ["an empty secret", { ...fromGateway, "x-proxy-secret": "", "x-client-ip": "203.0.113.7" }],
    ["no secret", { "cf-connecting-ip": "192.0.2.10", "x-client-ip": "203.0.113.7" }],
    ["the right secret from outside TRUSTED_PROXY_IPS", { ...fromGateway, "cf-connecting-ip": "192.0.3.10", "x-client-ip": "203.0.113.7" }],
    ["a list in X-Client-IP", { ...fromGateway, "x-client-ip": "203.0.113.7, 198.51.100.1" }],
    ["an address with a port", { ...fromGateway, "x-client-ip": "203.0.113.7:443" }],
    ["a host name", { ...fromGateway, "x-client-ip": "localhost" }],
    ["a short IPv4 form", { ...fromGateway, "x-client-ip": "127.1" }],
    ["an IPv6 zone", { ...fromGateway, "x-client-ip": "fe80::1%eth0" }],
    ["no X-Client-IP", { ...fromGateway }],
  ])("%s: CF-Connecting-IP, the forwarded header ignored", async (_what, headers) => {
    expect(await resolve(headers, env)).toBe(headers["cf-connecting-ip"]);
  });

  it("without the settings, forwarded headers are ignored whatever they say; X-Forwarded-For never counts", async () => {
    const spoof = { "x-client-ip": "203.0.113.7", "x-proxy-secret": SECRET, "x-forwarded-for": "203.0.113.9", "x-real-ip": "203.0.113.10" };
    expect(await resolve({ "cf-connecting-ip": "192.0.2.10", ...spoof })).toBe("192.0.2.10");
    const { "x-client-ip": _dropped, ...noClientIp } = spoof;
    expect(await resolve({ "cf-connecting-ip": "192.0.2.10", ...noClientIp }, env)).toBe("192.0.2.10");
  });
});

describe("through the gateway", () => {
  const limits = inject("rateLimits");

  /** `limit` requests at once from `first` (cheap: refused by validation after counting), then one more from each client. */
  async function exhaust(gw: ReturnType<typeof gateway>, first: string, second: string) {
    const { limit, period } = limits.RL_LOGIN;
    return inOneWindow(period, async () => {
      const burst = await Promise.all(Array.from({ length: limit }, () => gw.call(first, "/api/auth/login", { body: {} })));
      return {
        burst: burst.map((r) => r.status),
        first: (await gw.call(first, "/api/auth/login", { body: {} })).status,
        second: (await gw.call(second, "/api/auth/login", { body: {} })).status,
      };
    });
  }

  it("limits each client behind it separately: one client's exhausted login limit leaves another's open", async () => {
    const { limit } = limits.RL_LOGIN;
    const r = await exhaust(gateway(), freshIp(), freshIp());
    expect(r.burst).toEqual(Array(limit).fill(400));
    expect(r).toMatchObject({ first: 429, second: 400 });
  });

  it("IPv6 clients behind it are keyed by /64, as direct ones", async () => {
    const hex4 = () => ((Math.random() * 0xffff) | 0).toString(16);
    const net = `2001:db8:${hex4()}:${hex4()}`;
    const r = await exhaust(gateway(), `${net}::1`, `${net}::2`);
    expect(r).toMatchObject({ first: 429, second: 429 });
  });

  it.each([
    ["a wrong secret", { sends: "not-the-gateway-secret-but-long-enough" }],
    ["no secret", { sends: null }],
    ["the right secret from outside TRUSTED_PROXY_IPS", { trusted: "192.0.2.0/24" }],
  ])("%s: every client shares the gateway's bucket", async (_what, opts) => {
    const r = await exhaust(gateway(opts), freshIp(), freshIp());
    expect(r).toMatchObject({ first: 429, second: 429 });
  });

  it("sessions and audit rows record the real client's address", async () => {
    const gw = gateway();
    const client = freshIp();
    const email = uniqueEmail("proxied");
    const body = { full_name: "Behind Gateway", email, password: PASSWORD, role: "student" };
    const reg = await gw.call(client, "/api/auth/register", { body });
    expect(reg.status).toBe(201);
    const { user, access_token } = await json(reg);
    expect((await gw.call(client, "/api/auth/login", { body: { email, password: PASSWORD } })).status).toBe(200);
    expect((await gw.call(client, "/api/auth/login", { body: { email, password: "wrong-password-1" } })).status).toBe(401);

    const sessions = await withDb((sql) => sql`select ip from auth_sessions where user_id = ${user.id}`);
    expect(sessions.map((s) => s.ip)).toEqual([client, client]);
    const rows = await auditRows(user.id);
    // Every new account is mailed a verification code (docs/email-verification.md): audited with the same address.
    expect(rows.map((r) => r.event)).toEqual(["registered", "email_verification_requested", "login_succeeded", "login_failed"]);
    for (const r of rows) expect(r.ip).toBe(client);
    const listed = await json(await gw.call(client, "/api/auth/sessions", { token: access_token }));
    expect(listed.sessions.map((s: { ip: string }) => s.ip)).toEqual([client, client]);
  });

  it("with a wrong secret, the rows record the gateway's address, never the forwarded one", async () => {
    const gw = gateway({ sends: "not-the-gateway-secret-but-long-enough" });
    const client = freshIp();
    const reg = await gw.call(client, "/api/auth/register", {
      body: { full_name: "Spoofed", email: uniqueEmail("spoof"), password: PASSWORD, role: "student" },
    });
    expect(reg.status).toBe(201);
    const { user } = await json(reg);
    const [session] = await withDb((sql) => sql`select ip from auth_sessions where user_id = ${user.id}`);
    expect(session.ip).toBe(gw.address);
    // registered, email_verification_requested
    expect((await auditRows(user.id)).map((r) => r.ip)).toEqual([gw.address, gw.address]);
  });
});

it("registers with the gateway's two headers exactly as the docs give them", async () => {
  // docs/legacy-clients.md: proxyReq.setHeader("X-Client-IP", req.ip); proxyReq.setHeader("X-Proxy-Secret", SECRET)
  const gw = gateway();
  const client = freshIp();
  const res = await call("/auth/register", {
    headers: { "CF-Connecting-IP": gw.address, "X-Client-IP": client, "X-Proxy-Secret": gw.secret, "Content-Type": "application/json" },
    body: JSON.stringify({ full_name: "Docs", email: uniqueEmail("docs"), password: PASSWORD, role: "student" }),
    env: gw.env,
  });
  expect(res.status).toBe(201);
  const { user } = await json(res);
  // registered, email_verification_requested
  expect((await auditRows(user.id)).map((r) => r.ip)).toEqual([client, client]);
});
