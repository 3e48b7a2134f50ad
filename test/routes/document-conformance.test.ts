import { describe, expect, it } from "vitest";
import { PASSWORD, registerUser, uniqueEmail } from "../support/accounts";
import { adminAccount, adminCall } from "../support/admin";
import { fakeClock } from "../support/clock";
import { auditRows, withDb } from "../support/db";
import { idTokenSignIn, nativeToken, uniqueSub } from "../support/oidc";
import { serviceCall, serviceClient } from "../support/services";
import { call, json, testEnv } from "../support/worker";

/**
 * Issue 33: seven answers the API's own document (/openapi.json) did not allow, each sent
 * through the Worker. test/routes/contract.test.ts checks every operation against the document.
 */

type Doc = { paths: Record<string, Record<string, { responses: Record<string, { headers?: Record<string, unknown> }> }>> };
const documentOf = async () => (await (await call("/openapi.json")).json()) as Doc;

/** ASCII as its full-width forms (U+FF01..U+FF5E), which NFKC maps back. */
const fullWidth = (s: string) => s.replace(/[\x21-\x7e]/g, (ch) => String.fromCharCode(ch.charCodeAt(0) + 0xfee0));

describe("1. CF-Connecting-IP is one address or none", () => {
  it.each([
    ["a list", "203.0.113.1, 203.0.113.2, 203.0.113.3, 203.0.113.4, 203.0.113.5, 203.0.113.6, 2001:db8::1"],
    ["2,000 a's", "a".repeat(2000)],
    ["a name", "client.example.com"],
    ["an octal IPv4", "010.0.0.1"],
  ])("%s is ignored: nothing stored or returned but null", async (_, header) => {
    const email = uniqueEmail("ip");
    const res = await call("/auth/register", {
      body: { full_name: "Ip Test", email, password: PASSWORD },
      headers: { "cf-connecting-ip": header },
    });
    expect(res.status).toBe(201);
    const u = await json(res);
    const sessions = await json(await call("/auth/sessions", { token: u.access_token }));
    expect(sessions.sessions.map((s: { ip: string | null }) => s.ip)).toEqual([null]);
    const rows = await auditRows(u.user.id);
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) expect(row.ip).toBeNull();
  });

  it("a valid address is stored in its canonical form (at most 39 characters)", async () => {
    const u = await registerUser({}, { headers: { "cf-connecting-ip": " 2001:DB8:0:0:0:0:0:7 " } });
    const sessions = await json(await call("/auth/sessions", { token: u.access_token }));
    expect(sessions.sessions[0].ip).toBe("2001:db8::7");
  });
});

describe("2. the email claim of a Google or Apple ID token", () => {
  it.each(["google", "apple"] as const)(
    "%s: an email claim that is not an address refuses the token (401 id_token_email_invalid)",
    async (provider) => {
      for (const email of ["not-an-email-2", "a@b@example.com", `${"x".repeat(250)}@example.com`]) {
        const sub = uniqueSub("bad-email");
        const res = await idTokenSignIn(provider, await nativeToken(provider, { sub, email }));
        expect(res.status, email).toBe(401);
        expect((await json(res)).code).toBe("id_token_email_invalid");
        const [row] = await withDb((sql) => sql`select count(*)::int as n from auth_identities where subject = ${sub}`);
        expect(row.n).toBe(0);
      }
    },
  );

  it("a full-width address is normalised (NFKC, trimmed, lower-cased) before it makes an account", async () => {
    const ascii = uniqueEmail("wide");
    const res = await idTokenSignIn(
      "google",
      await nativeToken("google", { sub: uniqueSub("wide"), email: ` ${fullWidth(ascii.toUpperCase())} ` }),
    );
    expect(res.status, await res.clone().text()).toBe(200);
    expect((await json(res)).user.email).toBe(ascii);
  });

  it("the document declares the code on the ID-token routes", async () => {
    const doc = await documentOf();
    const described = JSON.stringify(doc.paths["/auth/oauth/{provider}/id-token"].post.responses["401"]);
    expect(described).toContain("id_token_email_invalid");
  });
});

describe("3. validation errors echo a bounded, sanitised piece of the input", () => {
  it("a 2,000-character key holding NUL comes back at most 200 characters long, without control characters", async () => {
    const key = `${"k".repeat(2000)}\u0001\ud800`;
    for (const body of [
      { email: "a@example.com", password: "x", [key]: "\u0000" },
      { email: "a@example.com", password: "x", nested: { [key]: "\u0000" } },
    ]) {
      const res = await call("/auth/login", { body });
      expect(res.status).toBe(400);
      const answer = await json(res);
      expect(answer.code).toBe("validation_failed");
      expect(answer.issues.length).toBeGreaterThan(0);
      for (const issue of answer.issues) {
        expect([...issue.path].length).toBeLessThanOrEqual(200);
        expect(issue.path).not.toMatch(/[\u0000-\u001f\u007f-\u009f]|[\ud800-\udfff]/);
      }
    }
  });
});

describe("4. the NUL/lone-surrogate query guard answers only a declared 400", () => {
  it("GET /auth/me?x=%00 answers 400, which every operation declares", async () => {
    const u = await registerUser();
    const res = await call("/auth/me?x=%00", { token: u.access_token });
    expect(res.status).toBe(400);
    expect((await json(res)).code).toBe("validation_failed");
    const health = await call("/health/live?x=%ED%A0%80");
    expect([200, 400]).toContain(health.status);
    const doc = await documentOf();
    for (const [path, ops] of Object.entries(doc.paths))
      for (const [method, op] of Object.entries(ops)) {
        if (!op.responses) continue;
        expect(JSON.stringify(op.responses["400"] ?? null), `${method} ${path}`).toContain("validation_failed");
      }
  });
});

describe("5. the media type is checked before the body is read", () => {
  it("a JSON operation answers 415 to multipart, malformed or not", async () => {
    const malformed = '--b\r\nContent-Disposition: form-data; name="email"\r\n\r\nx'; // no closing boundary
    const wellFormed = new FormData();
    wellFormed.set("email", "a@example.com");
    for (const body of [malformed, wellFormed]) {
      const res = await call("/auth/login", {
        method: "POST",
        body,
        headers: typeof body === "string" ? { "content-type": "multipart/form-data; boundary=b" } : {},
      });
      expect(res.status).toBe(415);
      expect((await json(res)).code).toBe("unsupported_media_type");
    }
  });

  it("the multipart operation answers 415 to JSON, before reading it", async () => {
    const u = await registerUser();
    const res = await call("/auth/update-profile", {
      method: "POST",
      body: '{"full_name":',
      token: u.access_token,
      headers: { "content-type": "application/json" },
    });
    expect(res.status).toBe(415);
  });
});

describe("6. integer query parameters are decimal digits only", () => {
  it("limit=0x10, 0b1, 0o7, 1e1, +5 and ' 5' answer 400; 16 answers 200", async () => {
    const clock = fakeClock();
    const admin = await adminAccount(clock);
    for (const limit of ["0x10", "0b1", "0o7", "1e1", "+5", " 5", "5.0", ""]) {
      const res = await adminCall(`/users?limit=${encodeURIComponent(limit)}`, admin.token, clock);
      expect(res.status, limit).toBe(400);
      expect((await json(res)).code).toBe("validation_failed");
    }
    expect((await adminCall("/users?limit=16", admin.token, clock)).status).toBe(200);
    const client = await serviceClient(admin, clock, ["events:read"]);
    expect((await serviceCall(client, "/auth/events?after=0x1")).status).toBe(400);
    expect((await serviceCall(client, "/auth/events?after=1&limit=0x10")).status).toBe(400);
    expect((await serviceCall(client, "/auth/events?after=1&limit=16")).status).toBe(200);
  });
});

describe("7. every 503 carries Retry-After", () => {
  it("GET /health while the database is down, as its document says", async () => {
    const down = { HYPERDRIVE: { ...(testEnv.HYPERDRIVE as object), connectionString: "postgres://postgres:postgres@127.0.0.1:1/nope" } };
    const res = await call("/health", { env: down });
    expect(res.status).toBe(503);
    expect(Number(res.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    const doc = await documentOf();
    expect(Object.keys(doc.paths["/health"].get.responses["503"].headers ?? {})).toContain("Retry-After");
  });
});
