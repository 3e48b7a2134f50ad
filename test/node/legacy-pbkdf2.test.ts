import { describe, expect, it } from "vitest";
import { noblePbkdf2, type Pbkdf2Derive, pbkdf2Sha256, verifyLegacyHash } from "../../src/auth/password/legacy-hashes";
import fixtures from "../fixtures/legacy-hashes.json";

// The pure-JS fallback at Django's real iteration counts. In Node, where it runs at full speed;
// the workerd suite (test/legacy-passwords.test.ts) runs the same code on low-iteration hashes.
const enc = new TextEncoder();
const refusing: Pbkdf2Derive = () =>
  Promise.reject(new DOMException("iteration counts above 100000 are not supported", "NotSupportedError"));

describe("PBKDF2 fallback at Django's iteration counts", () => {
  it.each(fixtures.django.filter((r) => r.iterations >= 720_000))("noble reproduces Python's $iterations-iteration hash", async (row) => {
    const expected = row.encoded.split("$")[3];
    const res = await pbkdf2Sha256(enc.encode(row.password), enc.encode(row.salt), row.iterations, 32, refusing);
    expect(res.via).toBe("noble");
    expect(Buffer.from(res.key).toString("base64")).toBe(expected);
    expect(await verifyLegacyHash(row.password, row.encoded, { pbkdf2WebCryptoMaxIterations: 100_000 })).toEqual({
      ok: true,
      scheme: "pbkdf2_sha256",
    });
  });

  it("noble and Web Crypto agree", async () => {
    const pw = enc.encode("pässword"),
      salt = enc.encode("s4lt");
    const viaWeb = await pbkdf2Sha256(pw, salt, 5000, 32);
    expect(viaWeb.via).toBe("webcrypto");
    expect(await noblePbkdf2(pw, salt, 5000, 32)).toEqual(viaWeb.key);
  });
});
