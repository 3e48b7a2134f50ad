import { spawnSync } from "node:child_process";
import { createHmac } from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { SignJWT } from "jose";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAdmin } from "../../../scripts/ops/create-admin-db.ts";
import { freePorts } from "../../../scripts/stack/local-service.ts";
import { type LocalStack, startStack } from "../../../scripts/stack/stack.ts";
import { createVerifier, VerifyError } from "../src/index.js";

/**
 * The kit under Node against the real Worker: `wrangler dev` of this repository with an embedded
 * PostgreSQL (the local stack, scripts/stack/stack.ts). A service client is made the way an
 * operator makes one (create-admin, setup, MFA, the admin API); then tokens issued by the API are
 * verified, and a session ended on the API is refused by the kit within REVOCATION_MAX_LAG. No
 * timing is asserted: each test waits for the condition it expects, bounded generously.
 */

let stack: LocalStack;
let dataDir: string;
let api: string;
let client: { clientId: string; clientSecret: string };
let adminToken: string;
const PASSWORD = "Kit-Test-Passphrase-2026";

/** RFC 6238 TOTP (SHA-1, 6 digits, 30 s) for a base32 secret. */
function totp(secretBase32: string, at = Date.now()): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const ch of secretBase32.replace(/=+$/, "").toUpperCase()) bits += alphabet.indexOf(ch).toString(2).padStart(5, "0");
  const key = Buffer.from((bits.match(/.{8}/g) ?? []).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(at / 30_000)));
  const mac = createHmac("sha1", key).update(counter).digest();
  const o = mac[mac.length - 1] & 15;
  return String((mac.readUInt32BE(o) & 0x7fffffff) % 1_000_000).padStart(6, "0");
}

async function post(p: string, body: unknown, token?: string) {
  const res = await fetch(`${api}${p}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

/** Waits until `check` holds (polling), or fails after `ms`: the kit's lag is never asserted as a time. */
async function until(what: string, check: () => Promise<boolean>, ms = 120_000) {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const refused = async (v: ReturnType<typeof createVerifier>, token: string) =>
  v.verify(token).then(
    () => null,
    (err: unknown) => (err instanceof VerifyError ? err.code : `unexpected: ${err}`),
  );

let users = 0;
async function newUser() {
  const email = `kit-${Date.now().toString(36)}-${++users}@example.com`;
  const res = await post("/auth/register", { full_name: "Kit User", email, password: PASSWORD });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return { email, id: res.body.user.id as string, access: res.body.access_token as string, refresh: res.body.refresh_token as string };
}

beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "edge-auth-verify-kit-"));
  const [port, dbPort, mailPort, s3Port, oidcPort] = await freePorts(5);
  stack = await startStack({ dataDir, persistent: false, port, dbPort, mailPort, s3Port, oidcPort, inheritOutput: false });
  api = stack.apiUrl;

  // An administrator, as an operator makes the first one: create-admin, setup, MFA, then the admin API.
  const email = `kit-admin-${Date.now().toString(36)}@example.com`;
  const sql = postgres(stack.dbUrl, { max: 1, onnotice: () => {} });
  const made = await createAdmin(sql, { email }).finally(() => sql.end());
  expect((await post("/auth/account/setup", { token: made.token, new_password: PASSWORD })).status).toBe(200);
  const first = await post("/auth/login", { email, password: PASSWORD });
  const enroll = await post("/auth/mfa/totp/enroll", {}, first.body.access_token);
  const confirm = await post(
    "/auth/mfa/totp/confirm",
    { code: totp(enroll.body.secret), current_password: PASSWORD },
    first.body.access_token,
  );
  expect(confirm.status, JSON.stringify(confirm.body)).toBe(200);
  const challenge = await post("/auth/login", { email, password: PASSWORD });
  const verified = await post("/auth/mfa/verify", { mfa_token: challenge.body.mfa_token, recovery_code: confirm.body.recovery_codes[0] });
  expect(verified.status, JSON.stringify(verified.body)).toBe(200);
  adminToken = verified.body.access_token;
  const created = await post("/auth/admin/service-clients", { name: "Course service", scopes: ["events:read"] }, adminToken);
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  client = { clientId: created.body.client.client_id, clientSecret: created.body.client_secret };
}, 600_000);

afterAll(async () => {
  await stack?.stop();
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
}, 120_000);

describe("createVerifier against the running Worker", () => {
  it("verifies the API's tokens from its JWKS, and refuses a session after logout within REVOCATION_MAX_LAG", async () => {
    const v = createVerifier({ url: api, ...client });
    try {
      const u = await newUser();
      const claims = await v.verify(u.access);
      expect(claims).toMatchObject({ sub: u.id, id: u.id, role: "student", token_use: "access", aud: "platform", iss: "edge-auth-api" });

      expect((await post("/auth/logout", {}, u.access)).status).toBe(200);
      await until("the kit refuses the ended session", async () => (await refused(v, u.access)) === "session_revoked");
      // Another session of the same account is untouched.
      const other = await post("/auth/login", { email: u.email, password: PASSWORD });
      expect(await v.verify(other.body.access_token)).toMatchObject({ sub: u.id });
    } finally {
      v.close();
    }
  });

  it("refuses every token of a suspended account, and accepts new ones once it is active again", async () => {
    const v = createVerifier({ url: api, ...client });
    try {
      const u = await newUser();
      await v.verify(u.access);
      const suspend = await fetch(`${api}/auth/admin/users/${u.id}`, {
        method: "PATCH",
        headers: { "content-type": "application/json", authorization: `Bearer ${adminToken}` },
        body: JSON.stringify({ status: "suspended" }),
      });
      expect(suspend.status).toBe(200);
      await until("the kit refuses the suspended account", async () => (await refused(v, u.access)) !== null);
      expect(["session_revoked", "account_disabled"]).toContain(await refused(v, u.access));
      const reactivate = await fetch(`${api}/auth/admin/users/${u.id}`, {
        method: "PATCH",
        headers: { "content-type": "application/json", authorization: `Bearer ${adminToken}` },
        body: JSON.stringify({ status: "active" }),
      });
      expect(reactivate.status).toBe(200);
      const back = await post("/auth/login", { email: u.email, password: PASSWORD });
      expect(back.status).toBe(200);
      await until("the kit accepts the account's new session", async () => (await refused(v, back.body.access_token)) === null);
      expect(await refused(v, u.access)).toBe("session_revoked");
    } finally {
      v.close();
    }
  });

  it("the Express-style middleware: the claims on req.auth, 401 without a valid live token", async () => {
    const v = createVerifier({ url: api, ...client });
    const { url, close } = await serve(v);
    try {
      const u = await newUser();
      const ok = await fetch(url, { headers: { authorization: `Bearer ${u.access}` } });
      expect([ok.status, await ok.json()]).toEqual([200, { user: u.id }]);
      const none = await fetch(url);
      expect(none.status).toBe(401);
      expect(none.headers.get("www-authenticate")).toMatch(/^Bearer/);
      expect((await none.json()).code).toBe("invalid_token");
      // A token minted with a shared secret (the course service's own /api/login) is not one of the API's.
      const forged = await new SignJWT({ id: u.id, role: "student", sid: crypto.randomUUID(), token_use: "access" })
        .setProtectedHeader({ alg: "HS256", typ: "JWT" })
        .setSubject(u.id)
        .setIssuer("edge-auth-api")
        .setAudience("platform")
        .setExpirationTime("30d")
        .sign(new TextEncoder().encode("x".repeat(32)));
      expect((await fetch(url, { headers: { authorization: `Bearer ${forged}` } })).status).toBe(401);
      expect((await post("/auth/logout-all", {}, u.access)).status).toBe(200);
      await until("the middleware refuses the ended session", async () => {
        const res = await fetch(url, { headers: { authorization: `Bearer ${u.access}` } });
        return res.status === 401 && (await res.json()).code === "session_revoked";
      });
    } finally {
      await close();
      v.close();
    }
  });

  it("fails closed: with a feed it cannot read it refuses every token (503 from the middleware)", async () => {
    const v = createVerifier({ url: api, clientId: client.clientId, clientSecret: "not-the-secret", maxLag: 1000 });
    const { url, close } = await serve(v);
    try {
      const u = await newUser();
      expect(await refused(v, u.access)).toBe("revocation_unavailable");
      const res = await fetch(url, { headers: { authorization: `Bearer ${u.access}` } });
      expect([res.status, (await res.json()).code]).toEqual([503, "revocation_unavailable"]);
    } finally {
      await close();
      v.close();
    }
  });
});

/** A Python 3 with PyJWT (and cryptography), if this machine has one: the docs' AI-service example needs it. */
const PYTHON = ["python3", "/usr/bin/python3"].find((bin) => spawnSync(bin, ["-c", "import jwt, cryptography"]).status === 0);

describe("the AI service's Python verifier in docs/services.md", () => {
  it.skipIf(!PYTHON)(
    PYTHON ? "verifies a token, then refuses it once its session ended" : "verifies a token (skipped: no python3 with PyJWT here)",
    async () => {
      const doc = fs.readFileSync(path.resolve(__dirname, "../../../docs/services.md"), "utf8");
      const code = /## The AI service: Python[\s\S]*?```python\n([\s\S]*?)```/.exec(doc)?.[1];
      expect(code, "docs/services.md has the Python example").toBeDefined();
      const script = path.join(dataDir, "verify.py");
      fs.writeFileSync(script, code!);
      const env = { ...process.env, AUTH_URL: api, AUTH_CLIENT_ID: client.clientId, AUTH_CLIENT_SECRET: client.clientSecret };
      const run = (token: string) => {
        const out = spawnSync(PYTHON!, [script, token], { env, encoding: "utf8", timeout: 60_000 });
        expect(out.status, out.stderr).toBe(0);
        return out.stdout.trim();
      };
      const u = await newUser();
      expect(run(u.access)).toBe(`valid ${u.id}`);
      expect((await post("/auth/logout", {}, u.access)).status).toBe(200);
      expect(run(u.access)).toBe("refused the session or the account has ended");
    },
  );
});

/** A plain node:http server in front of the kit's middleware (what Express does with it), answering the claims' subject. */
async function serve(v: ReturnType<typeof createVerifier>) {
  const mw = v.middleware();
  const server = http.createServer((req, res) =>
    mw(req as http.IncomingMessage & Record<string, any>, res, () => {
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ user: (req as unknown as { auth: { sub: string } }).auth.sub }));
    }),
  );
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/courses`,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
