import { describe, expect, it } from "vitest";
import { paddingShare, planBatches } from "./batching.ts";

describe("planBatches", () => {
  it("groups longest first within the token budget", () => {
    // Sorted lengths 9, 8, 5, 4, 3; budget 18: [9, 8] pads to 2 x 9 = 18, [5, 4, 3] to 3 x 5 = 15.
    expect(planBatches([4, 9, 3, 8, 5], 18)).toEqual([
      { indexes: [1, 3], paddedLength: 9 },
      { indexes: [4, 0, 2], paddedLength: 5 },
    ]);
  });

  it("gives an oversized sequence its own batch", () => {
    expect(planBatches([50, 2], 10)).toEqual([
      { indexes: [0], paddedLength: 50 },
      { indexes: [1], paddedLength: 2 },
    ]);
  });

  it("skips empty sequences", () => {
    expect(planBatches([0, 3], 10)).toEqual([{ indexes: [1], paddedLength: 3 }]);
  });
});

describe("paddingShare", () => {
  it("counts padded slots", () => {
    // Slots 2 x 9 + 3 x 5 = 33, tokens 9 + 8 + 5 + 4 + 3 = 29, padding 4 / 33.
    const lengths = [4, 9, 3, 8, 5];
    expect(paddingShare(lengths, planBatches(lengths, 18))).toBeCloseTo(4 / 33, 12);
  });
});
