import { describe, expect, it } from "vitest";
import { isolateMemo } from "../../src/lib/isolate-memo";

describe("isolateMemo: values shared by the isolate's requests", () => {
  it("a computation that never settles (its request was cancelled) does not hold up the next caller", async () => {
    let calls = 0;
    const memo = isolateMemo(async (k: string) => {
      calls++;
      if (calls === 1) return new Promise<string>(() => {}); // the cancelled request's
      return `value of ${k}`;
    });
    void memo("a");
    expect(await memo("a")).toBe("value of a");
    expect(await memo("a")).toBe("value of a");
    expect(calls).toBe(2); // stored once settled: the third caller computed nothing
  });

  it("keeps the first value stored when two computations race, and does not store a failure", async () => {
    let n = 0;
    const memo = isolateMemo(async () => `v${++n}`);
    const [a, b] = await Promise.all([memo("k"), memo("k")]);
    expect([a, b]).toEqual(["v1", "v1"]);
    let fail = true;
    const flaky = isolateMemo(async () => {
      if (fail) throw new Error("down");
      return "up";
    });
    await expect(flaky("x")).rejects.toThrow("down");
    fail = false;
    expect(await flaky("x")).toBe("up");
  });
});
