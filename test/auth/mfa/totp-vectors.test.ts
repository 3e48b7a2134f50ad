// The tests' own TOTP (test/support/mfa.ts) against the RFCs' published vectors, so the codes the
// other MFA tests send are right by the standard, not by the library the Worker uses.
import { describe, expect, it } from "vitest";
import { base32Decode, type HashName, hotp, totp } from "../../support/mfa";

const ascii = (s: string) => new TextEncoder().encode(s);

describe("the tests' TOTP implementation", () => {
  it("matches RFC 4226 Appendix D (HOTP, SHA-1)", async () => {
    const key = ascii("12345678901234567890");
    const expected = ["755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489"];
    expect(await Promise.all(expected.map((_, counter) => hotp(key, counter)))).toEqual(expected);
  });

  it("matches RFC 6238 Appendix B (TOTP, 8 digits, SHA-1 / SHA-256 / SHA-512)", async () => {
    const seeds: Record<HashName, Uint8Array> = {
      "SHA-1": ascii("12345678901234567890"),
      "SHA-256": ascii("12345678901234567890123456789012"),
      "SHA-512": ascii("1234567890123456789012345678901234567890123456789012345678901234"),
    };
    const vectors: [number, string, HashName][] = [
      [59, "94287082", "SHA-1"],
      [59, "46119246", "SHA-256"],
      [59, "90693936", "SHA-512"],
      [1111111109, "07081804", "SHA-1"],
      [1111111109, "68084774", "SHA-256"],
      [1111111109, "25091201", "SHA-512"],
      [1111111111, "14050471", "SHA-1"],
      [1111111111, "67062674", "SHA-256"],
      [1111111111, "99943326", "SHA-512"],
      [1234567890, "89005924", "SHA-1"],
      [1234567890, "91819424", "SHA-256"],
      [1234567890, "93441116", "SHA-512"],
      [2000000000, "69279037", "SHA-1"],
      [2000000000, "90698825", "SHA-256"],
      [2000000000, "38618901", "SHA-512"],
      [20000000000, "65353130", "SHA-1"],
      [20000000000, "77737706", "SHA-256"],
      [20000000000, "47863826", "SHA-512"],
    ];
    for (const [seconds, code, hash] of vectors) {
      expect(await totp(seeds[hash], seconds * 1000, { digits: 8, hash }), `${hash} at ${seconds}`).toBe(code);
    }
  });

  it("decodes base32 as RFC 4648 section 10 does", () => {
    const text = (s: string) => new TextDecoder().decode(base32Decode(s));
    expect(text("MZXW6YTBOI======")).toBe("foobar");
    expect(text("MZXW6YQ")).toBe("foob");
    expect(text("my")).toBe("f");
  });
});
