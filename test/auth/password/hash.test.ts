import * as nodeCrypto from "node:crypto";
import { scrypt as nobleScrypt } from "@noble/hashes/scrypt.js";
import { describe, expect, it } from "vitest";
import { hashPassword, type ScryptParams, scrypt, verifyPassword } from "../../../src/auth/password/hash";
import { SALSA_CORES_PER_SLICE, scryptWasm } from "../../../src/auth/password/scrypt-wasm";
import { fromB64, utf8 } from "../../../src/lib/encoding";

// Runs inside workerd (nodejs_compat). No timing here: speed is measured by `npm run bench`
// (BENCHMARKS.md), never in the tests.

const DEFAULTS: ScryptParams = { logN: 14, r: 8, p: 5 }; // SCRYPT_LOG_N / SCRYPT_R / SCRYPT_P defaults (config.ts)
const PARAM_SETS: ScryptParams[] = [
  { logN: 10, r: 8, p: 1 },
  { logN: 12, r: 4, p: 2 },
  { logN: 11, r: 16, p: 1 },
  { logN: 4, r: 1, p: 3 },
  DEFAULTS,
];
const hex = (u8: Uint8Array) => Array.from(u8, (b) => b.toString(16).padStart(2, "0")).join("");

type Impl = (pw: Uint8Array, salt: Uint8Array, p: ScryptParams, dkLen?: number) => Promise<Uint8Array>;
const opts = (p: ScryptParams, dkLen: number) => ({ N: 2 ** p.logN, r: p.r, p: p.p, dkLen });
/** Independent implementations the app's must agree with, byte for byte (noble is pure JS: slow here, small inputs only). */
const REFERENCES: Record<string, Impl> = {
  "node:crypto scrypt (native)": (pw, salt, p, dkLen = 32) =>
    new Promise((resolve, reject) =>
      nodeCrypto.scrypt(pw, salt, dkLen, { ...opts(p, dkLen), maxmem: 256 * 2 ** p.logN * p.r }, (err, key) =>
        err ? reject(err) : resolve(new Uint8Array(key)),
      ),
    ),
  "@noble/hashes scrypt": async (pw, salt, p, dkLen = 32) => nobleScrypt(pw, salt, opts(p, dkLen)),
};
/** The app's: scrypt-wasm with its own slice, and with slices that do not divide N. */
const APP: Record<string, Impl> = {
  "scrypt-wasm": (pw, salt, p, dkLen = 32) => scryptWasm(pw, salt, opts(p, dkLen)),
  "scrypt-wasm, slices of 7 BlockMix (not a divisor of N)": (pw, salt, p, dkLen = 32) =>
    scryptWasm(pw, salt, opts(p, dkLen), 2 * p.r * 7 + 3),
};

/** Pure-JS noble and the 7-BlockMix slices take seconds at large costs in the test runtime: they run on the small inputs. */
const heavy = (name: string) => name.startsWith("@noble") || name.endsWith("(not a divisor of N)");

// RFC 7914 §12, full 64-byte outputs.
const RFC_VECTORS = [
  {
    pw: "",
    salt: "",
    params: { logN: 4, r: 1, p: 1 },
    key: "77d6576238657b203b19ca42c18a0497f16b4844e3074ae8dfdffa3fede21442fcd0069ded0948f8326a753a0fc81f17e8d3e0fb2e0d3628cf35e20c38d18906",
  },
  {
    pw: "password",
    salt: "NaCl",
    params: { logN: 10, r: 8, p: 16 },
    key: "fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b3731622eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d8360cbdfa2cc0640",
  },
  {
    pw: "pleaseletmein",
    salt: "SodiumChloride",
    params: { logN: 14, r: 8, p: 1 },
    key: "7023bdcb3afd7348461c06cd81fd38ebfda8fbba904f8e3ea9b543f6545da1f2d5432955613f0fcf62d49705242a9af9e61e85dc0d651e40dfcf017b45575887",
  },
];

describe("scrypt implementations", () => {
  it("matches the RFC 7914 test vectors with the app's and every reference implementation", { timeout: 120_000 }, async () => {
    for (const v of RFC_VECTORS)
      for (const [name, impl] of Object.entries({ ...APP, ...REFERENCES })) {
        if (heavy(name) && v.params.logN > 4) continue;
        expect(`${name}: ${hex(await impl(utf8(v.pw), utf8(v.salt), v.params, 64))}`).toBe(`${name}: ${v.key}`);
      }
  });

  for (const params of PARAM_SETS) {
    // The defaults: one input.
    const inputs =
      params === DEFAULTS
        ? [["Correct-Horse-Battery-9", "0123456789abcdef"]]
        : [
            ["Correct-Horse-Battery-9", "0123456789abcdef"],
            ["pässwörd ünicode ✓", "another-salt-16b"],
            ["", "empty-password!!"],
          ];
    it(`the app's scrypt and every reference give identical keys at ln=${params.logN} r=${params.r} p=${params.p}`, {
      timeout: 120_000,
    }, async () => {
      for (const [k, [pw, salt]] of inputs.entries()) {
        const expected = hex(await REFERENCES["node:crypto scrypt (native)"](utf8(pw), utf8(salt), params));
        const impls = { ...APP, ...REFERENCES, "app scrypt()": (a: Uint8Array, b: Uint8Array, p: ScryptParams) => scrypt(a, b, p) };
        for (const [name, impl] of Object.entries(impls)) {
          if (heavy(name) && (k > 0 || 2 ** params.logN * params.r * params.p > 8192)) continue;
          expect(`${name}: ${hex(await impl(utf8(pw), utf8(salt), params))}`).toBe(`${name}: ${expected}`);
        }
      }
    });
  }

  it("hashes requested together each get their own key (one WebAssembly memory, shared in turn)", { timeout: 120_000 }, async () => {
    // Different sizes in one burst: the memory grows, is reused and wiped between hashes.
    const jobs = [...PARAM_SETS.filter((p) => p !== DEFAULTS), DEFAULTS, { logN: 10, r: 8, p: 1 }].flatMap((p, i) => [
      { p, pw: `password-${i}`, salt: `salt-number-${i}` },
      { p, pw: `other-${i}`, salt: `salt-number-${i}` },
    ]);
    const got = await Promise.all(jobs.map((j) => scrypt(utf8(j.pw), utf8(j.salt), j.p)));
    for (const [i, j] of jobs.entries())
      expect(hex(got[i])).toBe(hex(await REFERENCES["node:crypto scrypt (native)"](utf8(j.pw), utf8(j.salt), j.p)));
  });

  it("lets the isolate's other work run between slices, where native scrypt holds the thread for the whole hash", async () => {
    // Count macrotasks (what an incoming request or an I/O completion needs) run while one hash runs.
    const ticksDuring = async (hash: () => Promise<unknown>) => {
      let ticks = 0;
      let done = false;
      const counter = (async () => {
        while (!done) {
          await new Promise((r) => setTimeout(r, 0));
          ticks++;
        }
      })();
      await hash();
      done = true;
      await counter;
      return ticks;
    };
    const pw = utf8("Correct-Horse-Battery-9");
    const salt = utf8("0123456789abcdef");
    // Each of ROMix's two loops, for each of the p blocks, in slices of SALSA_CORES_PER_SLICE / 2r BlockMix calls.
    const N = 2 ** DEFAULTS.logN;
    const slices = 2 * DEFAULTS.p * Math.ceil(N / Math.floor(SALSA_CORES_PER_SLICE / (2 * DEFAULTS.r)));
    expect(slices).toBeGreaterThanOrEqual(10);
    expect(await ticksDuring(() => scrypt(pw, salt, DEFAULTS))).toBeGreaterThanOrEqual(slices / 2);
    expect(await ticksDuring(() => REFERENCES["node:crypto scrypt (native)"](pw, salt, DEFAULTS))).toBeLessThanOrEqual(1);
  });
});

describe("hashPassword / verifyPassword", () => {
  it("hashes at the configured parameters into a PHC-style string that plain scrypt reproduces", { timeout: 120_000 }, async () => {
    const stored = await hashPassword("Correct-Horse-Battery-9", DEFAULTS);
    const m = /^\$scrypt\$ln=14,r=8,p=5\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/.exec(stored);
    expect(m).not.toBeNull();
    const salt = fromB64(m![1]);
    expect(salt).toHaveLength(16);
    // The stored key is standard scrypt of the NFKC password: node:crypto, computed independently, agrees.
    expect(hex(await REFERENCES["node:crypto scrypt (native)"](utf8("Correct-Horse-Battery-9"), salt, DEFAULTS))).toBe(hex(fromB64(m![2])));
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

  it("verifies what node:crypto's scrypt produced (hashes stored before scrypt-wasm stay valid)", { timeout: 120_000 }, async () => {
    const salt = utf8("legacy-native-st");
    const key = await REFERENCES["node:crypto scrypt (native)"](utf8("Correct-Horse-Battery-9"), salt, DEFAULTS);
    const b64 = (u8: Uint8Array) => btoa(String.fromCharCode(...u8)).replace(/=+$/, "");
    const stored = `$scrypt$ln=14,r=8,p=5$${b64(salt)}$${b64(key)}`;
    expect(await verifyPassword("Correct-Horse-Battery-9", stored, DEFAULTS)).toMatchObject({ ok: true, needsRehash: false });
  });
});
