import { describe, expect, it } from "vitest";
import { measuringOrder, PAIRS, SCENARIOS } from "../../scripts/bench/scenarios.ts";

/** The bench measures each peer scenario right after ours, so a slow phase of the machine falls on both sides of a ratio. */
describe("the bench's measuring order", () => {
  const ids = (xs: { id: string }[]) => xs.map((x) => x.id);
  const order = ids(measuringOrder(SCENARIOS));

  it("measures every scenario once", () => {
    expect([...order].sort()).toEqual(ids(SCENARIOS).sort());
  });

  it("puts each pair's peer scenario right after ours (the first pair naming it), ours in their own order", () => {
    for (const theirs of new Set(PAIRS.map((p) => p.theirs))) {
      const ours = PAIRS.find((p) => p.theirs === theirs)!.ours;
      const i = order.indexOf(ours);
      const between = order.slice(i + 1, order.indexOf(theirs));
      expect(
        between.every((id) => PAIRS.some((p) => p.ours === ours && p.theirs === id)),
        `${ours} … ${theirs}`,
      ).toBe(true);
    }
    const ourIds = ids(SCENARIOS.filter((s) => !PAIRS.some((p) => p.theirs === s.id)));
    expect(order.filter((id) => ourIds.includes(id))).toEqual(ourIds);
  });

  it("keeps a peer scenario in place when ours is not measured", () => {
    const only = SCENARIOS.filter((s) => s.id === "select1" || s.id === "peer-session");
    expect(ids(measuringOrder(only))).toEqual(ids(only));
    const pair = [{ id: "b" }, { id: "a" }, { id: "t" }];
    expect(ids(measuringOrder(pair, [{ ours: "a", theirs: "t" }]))).toEqual(["b", "a", "t"]);
    expect(ids(measuringOrder([{ id: "t" }, { id: "a" }], [{ ours: "a", theirs: "t" }]))).toEqual(["a", "t"]);
  });
});
