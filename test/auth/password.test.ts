import { scrypt as nodeScryptCallback } from "node:crypto";
import { describe, expect, it } from "vitest";
import { fromB64, utf8 } from "../../src/auth/encoding";
import {
  hashPassword,
  nativeScrypt,
  nobleScryptImpl,
  nobleScryptSync,
  type ScryptParams,
  scrypt,
  verifyPassword,
} from "../../src/auth/password";

// Runs inside workerd (nodejs_compat), where `nativeScrypt` is node:crypto's scrypt.
// No timing here: speed is measured by `npm run bench` (BENCHMARKS.md), never in the tests.

const DEFAULTS: ScryptParams = { logN: 14, r: 8, p: 5 }; // SCRYPT_LOG_N / SCRYPT_R / SCRYPT_P defaults (config.ts)
const PARAM_SETS: ScryptParams[] = [{ logN: 10, r: 8, p: 1 }, { logN: 12, r: 4, p: 2 }, { logN: 11, r: 16, p: 1 }, DEFAULTS];
const hex = (u8: Uint8Array) => Array.from(u8, (b) => b.toString(16).padStart(2, "0")).join("");

describe("scrypt implementations", () => {
  it("has node:crypto scrypt in workerd", () => {
    expect(typeof nodeScryptCallback).toBe("function");
    expect(nativeScrypt).toBeTypeOf("function");
  });

  it("matches the RFC 7914 test vector (password / NaCl, N=1024, r=8, p=16) with every implementation", async () => {
    // First 32 bytes of the 64-byte vector: PBKDF2 output blocks are independent, so a 32-byte
    // key is the prefix of the 64-byte one.
    const expected = "fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b373162";
    const params = { logN: 10, r: 8, p: 16 };
    for (const impl of [nativeScrypt!, nobleScryptImpl, nobleScryptSync]) {
      expect(hex(await impl(utf8("password"), utf8("NaCl"), params))).toBe(expected);
    }
  });

  for (const params of PARAM_SETS) {
    // Pure-JS scrypt at the defaults takes seconds inside the test runtime: one input there.
    const inputs =
      params === DEFAULTS
        ? [["Correct-Horse-Battery-9", "0123456789abcdef"]]
        : [
            ["Correct-Horse-Battery-9", "0123456789abcdef"],
            ["pässwörd ünicode ✓", "another-salt-16b"],
            ["", "empty-password!!"],
          ];
    it(`native and noble give identical keys at ln=${params.logN} r=${params.r} p=${params.p}`, { timeout: 120_000 }, async () => {
      for (const [pw, salt] of inputs) {
        const native = await nativeScrypt!(utf8(pw), utf8(salt), params);
        const async_ = await nobleScryptImpl(utf8(pw), utf8(salt), params);
        const sync = await nobleScryptSync(utf8(pw), utf8(salt), params);
        expect(native).toHaveLength(32);
        expect(hex(native)).toBe(hex(async_));
        expect(hex(native)).toBe(hex(sync));
      }
    });
  }

  it("the app's scrypt (native when present) equals noble", { timeout: 120_000 }, async () => {
    const salt = utf8("salt-for-the-app");
    expect(hex(await scrypt(utf8("Correct-Horse-Battery-9"), salt, DEFAULTS))).toBe(
      hex(await nobleScryptSync(utf8("Correct-Horse-Battery-9"), salt, DEFAULTS)),
    );
  });
});

describe("hashPassword / verifyPassword", () => {
  it("hashes at the configured parameters into a PHC-style string that plain scrypt reproduces", { timeout: 120_000 }, async () => {
    const stored = await hashPassword("Correct-Horse-Battery-9", DEFAULTS);
    const m = /^\$scrypt\$ln=14,r=8,p=5\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/.exec(stored);
    expect(m).not.toBeNull();
    const salt = fromB64(m![1]);
    expect(salt).toHaveLength(16);
    // The stored key is standard scrypt of the NFKC password: noble, computed independently, agrees.
    expect(hex(await nobleScryptSync(utf8("Correct-Horse-Battery-9"), salt, DEFAULTS))).toBe(hex(fromB64(m![2])));
    // A fresh salt every time.
    expect(await hashPassword("Correct-Horse-Battery-9", DEFAULTS)).not.toBe(stored);
  });

  it("round-trips at the current parameters without asking for a rehash", async () => {
    const stored = await hashPassword("Correct-Horse-Battery-9", DEFAULTS);
    expect(await verifyPassword("Correct-Horse-Battery-9", stored, DEFAULTS)).toMatchObject({
      ok: true,
      needsRehash: false,
      scheme: "scrypt",
    });
    expect(await verifyPassword("Correct-Horse-Battery-8", stored, DEFAULTS)).toMatchObject({ ok: false, needsRehash: false });
  });

  it("verifies a hash made with older (weaker) parameters and flags it for rehash", async () => {
    const old = { logN: 10, r: 8, p: 1 };
    const stored = await hashPassword("Correct-Horse-Battery-9", old);
    expect(stored.startsWith("$scrypt$ln=10,r=8,p=1$")).toBe(true);
    expect(await verifyPassword("Correct-Horse-Battery-9", stored, DEFAULTS)).toMatchObject({ ok: true, needsRehash: true });
    // A wrong password is never "needs rehash".
    expect(await verifyPassword("wrong-password-123", stored, DEFAULTS)).toMatchObject({ ok: false, needsRehash: false });
    // Any parameter differing counts: r and p too.
    for (const other of [
      { logN: 14, r: 4, p: 5 },
      { logN: 14, r: 8, p: 1 },
    ]) {
      const s = await hashPassword("Correct-Horse-Battery-9", other);
      expect((await verifyPassword("Correct-Horse-Battery-9", s, DEFAULTS)).needsRehash).toBe(true);
    }
  });

  it("verifies what noble alone produced (hashes made before native was used stay valid)", { timeout: 120_000 }, async () => {
    const salt = utf8("legacy-noble-slt");
    const key = await nobleScryptSync(utf8("Correct-Horse-Battery-9"), salt, DEFAULTS);
    const b64 = (u8: Uint8Array) => btoa(String.fromCharCode(...u8)).replace(/=+$/, "");
    const stored = `$scrypt$ln=14,r=8,p=5$${b64(salt)}$${b64(key)}`;
    expect(await verifyPassword("Correct-Horse-Battery-9", stored, DEFAULTS)).toMatchObject({ ok: true, needsRehash: false });
  });
});
