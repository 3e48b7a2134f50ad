import { describe, expect, it } from "vitest";
import { rankedCommonPasswords } from "../../scripts/build/common-passwords";
import { commonPasswords } from "../../src/auth/password/common-passwords";

// The bundled list is sorted and front-coded to keep the Worker small; what it decodes to must be
// exactly the dictionary's most common passwords, so a coding slip can't drop or invent one.
describe("src/auth/password/common-passwords.ts", () => {
  it("decodes to the 5000 most common passwords of the dictionary, no more and no fewer", () => {
    const expected = rankedCommonPasswords(5000);
    const decoded = commonPasswords();
    expect(decoded.size).toBe(5000);
    expect([...decoded].sort()).toEqual([...expected].sort());
  });

  it("keeps entries that share more than nine leading characters with their neighbour", () => {
    const decoded = commonPasswords();
    const long = [...decoded].sort().filter((pw, i, all) => i > 0 && pw.slice(0, 10) === all[i - 1].slice(0, 10));
    expect(long.length).toBeGreaterThan(0);
    for (const pw of long) expect(rankedCommonPasswords(5000)).toContain(pw);
  });
});
