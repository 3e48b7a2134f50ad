import { afterEach, describe, expect, it, vi } from "vitest";
import {
  cappedWebCryptoPbkdf2,
  type Pbkdf2Derive,
  pbkdf2Sha256,
  verifyLegacyHash,
  webCryptoPbkdf2,
} from "../../../src/auth/password/legacy-hashes";
import { utf8 } from "../../../src/lib/encoding";
import fixtures from "../../fixtures/legacy-hashes.json";
import { uniqueEmail } from "../../support/accounts";
import { db } from "../../support/db";
import { call, json } from "../../support/worker";

// Hashes made by independent reference implementations (scripts/fixtures/make-legacy-hashes.py):
// Django's format with Python's hashlib.pbkdf2_hmac, published bcrypt vectors and pyca/bcrypt.
const SCRYPT = /^\$scrypt\$ln=\d+,r=\d+,p=\d+\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/;
const legacyRows = [
  ...fixtures.django.map((r) => ({ ...r, format: `django ${r.label}` })),
  ...fixtures.bcrypt.map((r) => ({ ...r, format: `bcrypt ${r.label}` })),
];

async function insertUser(hash: string) {
  const id = crypto.randomUUID();
  const email = uniqueEmail("legacy");
  const sql = db();
  await sql`insert into users (id, full_name, email, password, role) values (${id}, 'Legacy User', ${email}, ${hash}, 'student')`;
  await sql.end();
  return { id, email };
}

async function storedHash(id: string): Promise<string> {
  const sql = db();
  const [row] = await sql`select password from users where id = ${id}`;
  await sql.end();
  return row.password;
}

async function auditEvents(id: string, event: string) {
  const sql = db();
  const rows = await sql`select detail from auth_audit_events where user_id = ${id} and event = ${event} order by id`;
  await sql.end();
  return rows.map((r) => r.detail);
}

const login = (email: string, password: string, env?: Record<string, string>) => call("/auth/login", { body: { email, password }, env });

/** The body an unknown email gets: every other failure must be indistinguishable from it. */
async function usual401(): Promise<string> {
  const res = await call("/auth/login", { body: { email: uniqueEmail("nobody"), password: "Whatever-123" } });
  expect(res.status).toBe(401);
  return res.text();
}

describe("legacy password hashes at login", () => {
  it.each(legacyRows)("$format: logs in, is moved to scrypt, and the next login uses scrypt", async (row) => {
    const u = await insertUser(row.encoded);
    const first = await login(u.email, row.password);
    expect(first.status).toBe(200);
    expect((await json(first)).user).toMatchObject({ id: u.id, email: u.email });

    const rehashed = await storedHash(u.id);
    expect(rehashed).toMatch(SCRYPT);
    expect(await auditEvents(u.id, "password_rehashed")).toEqual([{ from: row.format.startsWith("django") ? "pbkdf2_sha256" : "bcrypt" }]);

    const second = await login(u.email, row.password);
    expect(second.status).toBe(200);
    expect(await storedHash(u.id)).toBe(rehashed); // verified against scrypt, nothing left to rehash
    expect(await auditEvents(u.id, "password_rehashed")).toHaveLength(1);
  });

  it.each(legacyRows)("$format: a wrong password gives the usual 401 and keeps the hash", async (row) => {
    const u = await insertUser(row.encoded);
    // The first character changed (past 72 bytes bcrypt ignores the rest, so not the end).
    const wrong = await login(u.email, (row.password[0] === "Z" ? "Y" : "Z") + row.password.slice(1));
    expect(wrong.status).toBe(401);
    expect(await wrong.text()).toBe(await usual401());
    expect(await storedHash(u.id)).toBe(row.encoded);
  });

  it("bcrypt follows the 72-byte rule exactly like the reference implementations", async () => {
    for (const row of fixtures.bcrypt) {
      expect(await verifyLegacyHash(row.password, row.encoded)).toEqual({ ok: true, scheme: "bcrypt" });
      for (const pw of (row as { alsoVerifies?: string[] }).alsoVerifies ?? [])
        expect(await verifyLegacyHash(pw, row.encoded), `${row.label}: ${pw.length} chars`).toEqual({ ok: true, scheme: "bcrypt" });
      for (const pw of (row as { rejects?: string[] }).rejects ?? [])
        expect(await verifyLegacyHash(pw, row.encoded), `${row.label}: ${pw.length} chars`).toEqual({ ok: false, scheme: "bcrypt" });
    }
    // At least one vector of each kind is present, so the loops above cannot pass vacuously.
    expect(fixtures.bcrypt.filter((r) => (r as { alsoVerifies?: string[] }).alsoVerifies?.length).length).toBeGreaterThanOrEqual(2);
    // Through login too: a password cut at byte 72 (inside a UTF-8 character) opens a >72-byte hash.
    const long = fixtures.bcrypt.find((r) => r.label.includes("inside a UTF-8 character"))!;
    const u = await insertUser(long.encoded);
    const res = await login(u.email, (long as { alsoVerifies?: string[] }).alsoVerifies![1]);
    expect(res.status).toBe(200);
  });

  it("verifies legacy passwords as the old system saw them: no Unicode normalisation", async () => {
    const row = fixtures.django.find((r) => r.label === "unnormalised unicode")!;
    expect(row.password.normalize("NFKC")).not.toBe(row.password);
    expect(await verifyLegacyHash(row.password, row.encoded)).toEqual({ ok: true, scheme: "pbkdf2_sha256" });
    expect(await verifyLegacyHash(row.password.normalize("NFKC"), row.encoded)).toEqual({ ok: false, scheme: "pbkdf2_sha256" });
  });

  it("a malformed or unknown hash answers the usual 401 (never 500) and is logged once", async () => {
    const usual = await usual401();
    const malformed = [
      "",
      "plaintext-password",
      "md5$abc$0123456789abcdef0123456789abcdef",
      "pbkdf2_sha256$abc$salt$KDohNBqh1OdIdQM8UaTKZsfpXI/bqE2HOm/qYylcpVE=",
      "pbkdf2_sha256$0$salt$KDohNBqh1OdIdQM8UaTKZsfpXI/bqE2HOm/qYylcpVE=",
      "pbkdf2_sha256$99999999$salt$KDohNBqh1OdIdQM8UaTKZsfpXI/bqE2HOm/qYylcpVE=",
      "pbkdf2_sha256$1000$salt$not-base64!",
      "pbkdf2_sha256$1000$salt$KDohNBqh1OdIdQM8UaTKZsfpXI",
      "pbkdf2_sha1$1000$salt$KDohNBqh1OdIdQM8UaTKZsfpXI/bqE2HOm/qYylcpVE=",
      "$2b$10$short",
      "$2b$03$cVWp4XaNU8a4v1uMRum2SO026BWLIoQMD/TXg5uZV.0P.uO8m3YEm",
      "$2b$31$cVWp4XaNU8a4v1uMRum2SO026BWLIoQMD/TXg5uZV.0P.uO8m3YEm",
      "$2x$05$/OK.fbVrR/bpIqNJ5ianF.CE5elHaaO4EbggVDjb8P19RukzXSM3e",
      "$2b$04$cVWp4XaNU8a4v1uMRum2SO026BWLIoQMD/TXg5uZV.0P.uO8m3YE!",
      "$scrypt$ln=14,r=8,p=1$AAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
      "$scrypt$ln=20,r=99,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
      "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA",
    ];
    for (const hash of malformed) {
      const u = await insertUser(hash);
      const res = await login(u.email, "Kk4DQuMMfZL9o");
      expect(res.status, JSON.stringify(hash)).toBe(401);
      expect(await res.text()).toBe(usual);
      expect(await storedHash(u.id)).toBe(hash);
      expect(await auditEvents(u.id, "login_failed")).toEqual([{ failures: 1, reason: "unusable_stored_hash" }]);
    }

    // Logged once per account (per isolate), not once per attempt; the hash itself never appears.
    const warn = vi.spyOn(console, "warn");
    const u = await insertUser("pbkdf2_sha256$abc$salt$secret-looking-value");
    for (let i = 0; i < 3; i++) expect((await login(u.email, "Kk4DQuMMfZL9o")).status).toBe(401);
    const lines = warn.mock.calls.map((c) => String(c[0])).filter((l) => l.includes(u.id));
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0])).toMatchObject({ level: "warn", userId: u.id, scheme: "pbkdf2_sha256" });
    expect(lines[0]).not.toContain("secret-looking-value");
  });

  it("two concurrent logins with a legacy hash both succeed and exactly one rehash happens", async () => {
    const row = fixtures.bcrypt.find((r) => r.label === "$2b$ cost 10 (pyca/bcrypt)")!;
    const u = await insertUser(row.encoded);
    const [a, b] = await Promise.all([login(u.email, row.password), login(u.email, row.password)]);
    expect([a.status, b.status]).toEqual([200, 200]);
    expect(await auditEvents(u.id, "password_rehashed")).toHaveLength(1);
    const final = await storedHash(u.id);
    expect(final).toMatch(SCRYPT);
    expect((await login(u.email, row.password)).status).toBe(200);
    expect(await storedHash(u.id)).toBe(final);
  });
});

describe("PBKDF2: Web Crypto, and the pure-JS fallback when it refuses", () => {
  afterEach(() => vi.restoreAllMocks());

  const refusing: Pbkdf2Derive = () =>
    Promise.reject(new DOMException("iteration counts above 100000 are not supported", "NotSupportedError"));
  const b64 = (u8: Uint8Array) => btoa(String.fromCharCode(...u8));

  // Pure-JS PBKDF2 is slow inside the test runner's workerd (about 10 s per 100,000 iterations
  // here), so the fallback runs on the 1,000-iteration reference hashes in workerd; the same code
  // reproduces the 720,000 and 870,000-iteration hashes in Node (test/node/legacy-pbkdf2.test.ts).
  it("when Web Crypto refuses, noble gives Python's result and the hash still verifies", async () => {
    for (const row of fixtures.django.filter((r) => r.iterations === 1000)) {
      const expected = row.encoded.split("$")[3];
      const viaNoble = await pbkdf2Sha256(utf8(row.password), utf8(row.salt), row.iterations, 32, refusing);
      expect(viaNoble.via).toBe("noble");
      expect(b64(viaNoble.key)).toBe(expected);
      expect(await verifyLegacyHash(row.password, row.encoded, { webCryptoPbkdf2: refusing })).toEqual({
        ok: true,
        scheme: "pbkdf2_sha256",
      });
      expect(await verifyLegacyHash(`${row.password}!`, row.encoded, { webCryptoPbkdf2: refusing })).toEqual({
        ok: false,
        scheme: "pbkdf2_sha256",
      });
    }
  });

  it("locally (like wrangler dev) workerd's Web Crypto takes Django's iteration counts and agrees with Python", async () => {
    for (const row of fixtures.django.filter((r) => r.iterations >= 600_000)) {
      const res = await pbkdf2Sha256(utf8(row.password), utf8(row.salt), row.iterations, 32);
      expect(res.via).toBe("webcrypto");
      expect(b64(res.key)).toBe(row.encoded.split("$")[3]);
    }
  });

  it("PBKDF2_WEBCRYPTO_MAX_ITERATIONS makes Web Crypto refuse above the cap, as deployed Workers do", async () => {
    const capped = cappedWebCryptoPbkdf2(100_000);
    await expect(capped(utf8("pw"), utf8("salt"), 100_001, 32)).rejects.toThrow(/not supported/);
    expect(await capped(utf8("pw"), utf8("salt"), 1000, 32)).toEqual(await webCryptoPbkdf2(utf8("pw"), utf8("salt"), 1000, 32));
    const low = fixtures.django.find((r) => r.iterations === 1000)!;
    expect((await pbkdf2Sha256(utf8(low.password), utf8(low.salt), 1000, 32, cappedWebCryptoPbkdf2(999))).via).toBe("noble");
  });

  it("a Django user above the cap logs in over HTTP through the noble fallback and is moved to scrypt", async () => {
    const row = fixtures.django.find((r) => r.label === "low iteration count")!;
    const u = await insertUser(row.encoded);
    const env = { PBKDF2_WEBCRYPTO_MAX_ITERATIONS: String(row.iterations - 1) };
    const wrong = await login(u.email, `not-${row.password}`, env);
    expect(wrong.status).toBe(401);
    expect(await wrong.text()).toBe(await usual401());
    const res = await login(u.email, row.password, env);
    expect(res.status).toBe(200);
    expect(await storedHash(u.id)).toMatch(SCRYPT);
    expect((await login(u.email, row.password, env)).status).toBe(200);
  });
});
