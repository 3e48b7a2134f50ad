import { afterEach, describe, expect, inject, it, vi } from "vitest";
import { loginAs, registerUser, uniqueEmail } from "../../support/accounts";
import { latestCode } from "../../support/mail";
import { call, json } from "../../support/worker";

/**
 * Issue 6: abuse resistance. Per-client rate limits (Workers Rate Limiting binding, simulated by
 * the test runtime with the numbers in wrangler.toml), per-account throttling in Postgres,
 * breached and common passwords, REGISTER_ENUMERATION_SAFE, the audit log, hardened responses.
 */

const pwnedUrl = inject("pwnedUrl");
const [BREACHED, BREACHED_ACCENTED] = inject("breachedPasswords");
const [PADDING_ONLY] = inject("paddedPasswords");

afterEach(() => {
  vi.restoreAllMocks();
});

async function sha1Hex(text: string): Promise<string> {
  const d = await crypto.subtle.digest("SHA-1", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(d), (b) => b.toString(16).padStart(2, "0"))
    .join("")
    .toUpperCase();
}

describe("breached and common passwords", () => {
  const register = (password: string, opts: Parameters<typeof call>[1] = {}) =>
    call("/auth/register", { body: { full_name: "P", email: uniqueEmail("pw"), password, role: "student" }, ...opts });

  it("refuses a breached password via the local range API, sending only a 5-character prefix with Add-Padding", async () => {
    const before = ((await (await fetch(`${pwnedUrl}/__requests`)).json()) as unknown[]).length;
    const res = await register(BREACHED);
    expect(res.status).toBe(400);
    const body = await json(res);
    expect(body).toMatchObject({ status: "error", code: "password_breached" });
    expect(body.message).toMatch(/known data breach/);
    expect(body.issues).toEqual([{ path: "password", message: body.message }]);

    const requests = (await (await fetch(`${pwnedUrl}/__requests`)).json()) as { path: string; addPadding: boolean }[];
    const mine = requests.slice(before);
    const prefix = (await sha1Hex(BREACHED)).slice(0, 5);
    expect(mine).toEqual([{ path: `/range/${prefix}`, addPadding: true }]);

    // The server's answer really carries padding lines (count 0) among the real ones.
    const answer = await (await fetch(`${pwnedUrl}/range/${prefix}`, { headers: { "Add-Padding": "true" } })).text();
    const lines = answer.split("\r\n");
    expect(lines.some((l) => /^[0-9A-F]{35}:0$/.test(l))).toBe(true);
    expect(lines).toContain(`${(await sha1Hex(BREACHED)).slice(5)}:1000`);
  });

  it("normalises (NFKC) before hashing: a decomposed spelling of a breached password is refused too", async () => {
    const decomposed = BREACHED_ACCENTED.normalize("NFD");
    expect(decomposed).not.toBe(BREACHED_ACCENTED);
    const res = await register(decomposed);
    expect(res.status).toBe(400);
    expect((await json(res)).code).toBe("password_breached");
  });

  it("a password that appears only on a padding line (count 0) is accepted", async () => {
    const hash = await sha1Hex(PADDING_ONLY);
    const answer = await (await fetch(`${pwnedUrl}/range/${hash.slice(0, 5)}`, { headers: { "Add-Padding": "true" } })).text();
    expect(answer.split("\r\n")).toContain(`${hash.slice(5)}:0`);
    expect((await register(PADDING_ONLY)).status).toBe(201);
  });

  it("refuses breached passwords at change-password and reset-password as well", async () => {
    const u = await registerUser();
    const change = await call("/auth/change-password", {
      token: u.access_token,
      body: { current_password: u.password, new_password: BREACHED },
    });
    expect(change.status).toBe(400);
    expect(await json(change)).toMatchObject({ code: "password_breached", issues: [{ path: "new_password" }] });

    expect((await call("/auth/forgot-password", { body: { email: u.email } })).status).toBe(200);
    const otp = await latestCode(u.email, /reset/);
    const reset = await call("/auth/reset-password", { body: { email: u.email, otp, new_password: BREACHED } });
    expect(reset.status).toBe(400);
    expect((await json(reset)).code).toBe("password_breached");
    // The password was not changed by either.
    expect((await loginAs(u.email, u.password)).status).toBe(200);
  });

  it("fail-open (the default): a breached password is accepted when the range server is down or answers an error", async () => {
    for (const url of ["http://127.0.0.1:1", `${pwnedUrl}/not-the-api`]) {
      const res = await register(BREACHED, { env: { PWNED_PASSWORDS_URL: url } });
      expect(res.status, url).toBe(201);
    }
  });

  it("fail-closed: refused with 503 and Retry-After when the range server is down; a clean password passes when it is up", async () => {
    const down = await register("Unlisted-Long-Passphrase-8", {
      env: { PWNED_PASSWORDS_URL: "http://127.0.0.1:1", BREACHED_PASSWORD_CHECK: "fail-closed" },
    });
    expect(down.status).toBe(503);
    expect(down.headers.get("Retry-After")).toMatch(/^\d+$/);
    expect(await json(down)).toMatchObject({ status: "error", code: "password_check_unavailable" });

    const up = await register("Unlisted-Long-Passphrase-8", { env: { BREACHED_PASSWORD_CHECK: "fail-closed" } });
    expect(up.status).toBe(201);
    const breached = await register(BREACHED, { env: { BREACHED_PASSWORD_CHECK: "fail-closed" } });
    expect((await json(breached)).code).toBe("password_breached");
  });

  it("off: the range API is not asked at all", async () => {
    const count = async () => ((await (await fetch(`${pwnedUrl}/__requests`)).json()) as unknown[]).length;
    const before = await count();
    expect((await register(BREACHED, { env: { BREACHED_PASSWORD_CHECK: "off" } })).status).toBe(201);
    expect(await count()).toBe(before);
  });

  it("refuses a common password with no network (check off, or range server unreachable and fail-closed), in any letter case", async () => {
    const count = async () => ((await (await fetch(`${pwnedUrl}/__requests`)).json()) as unknown[]).length;
    const before = await count();
    for (const [password, env] of [
      ["baseball", { BREACHED_PASSWORD_CHECK: "off" }],
      ["Password123", { BREACHED_PASSWORD_CHECK: "off" }],
      ["QWERTY123", { PWNED_PASSWORDS_URL: "http://127.0.0.1:1", BREACHED_PASSWORD_CHECK: "fail-closed" }],
      ["p@ssw0rd", {}],
    ] as const) {
      const res = await register(password, { env });
      expect(res.status, password).toBe(400);
      const body = await json(res);
      expect(body, password).toMatchObject({ status: "error", code: "password_too_common", issues: [{ path: "password" }] });
      expect(body.message).toMatch(/most common passwords/);
    }
    expect(await count()).toBe(before); // no network: the offline list answered first
  });

  it("refuses a common password at change-password", async () => {
    const u = await registerUser();
    const res = await call("/auth/change-password", {
      token: u.access_token,
      body: { current_password: u.password, new_password: "Iloveyou1" },
      env: { BREACHED_PASSWORD_CHECK: "off" },
    });
    expect(res.status).toBe(400);
    expect(await json(res)).toMatchObject({ code: "password_too_common", issues: [{ path: "new_password" }] });
  });
});
