import { describe, expect, it } from "vitest";
import { aggregateTeacherLoss } from "./aggregation.ts";

// Teacher losses of 5 tokens; token 0 is NaN (no BOS) and token 3 is NaN too.
const losses = Float32Array.of(Number.NaN, 1.5, 4, Number.NaN, 0.25);
// Student ranges: [0,3) mixes NaN and values; [3,4) is all NaN; [2,2) is unmapped; [3,5) one NaN; [1,2) single.
const starts = Int32Array.of(0, 3, 2, 3, 1);
const ends = Int32Array.of(3, 4, 2, 5, 2);

describe("aggregateTeacherLoss", () => {
  it("computes max ignoring NaN", () => {
    // max(1.5, 4) = 4; max(0.25) = 0.25; max(1.5) = 1.5.
    expect([...aggregateTeacherLoss(losses, starts, ends, "max")]).toEqual([
      4,
      Number.NaN,
      Number.NaN,
      0.25,
      1.5,
    ]);
  });

  it("computes mean over defined losses", () => {
    // (1.5 + 4) / 2 = 2.75: the NaN of token 0 counts neither in the sum nor in the count.
    expect([...aggregateTeacherLoss(losses, starts, ends, "mean")]).toEqual([
      2.75,
      Number.NaN,
      Number.NaN,
      0.25,
      1.5,
    ]);
  });

  it("computes sum and min", () => {
    // sum: 1.5 + 4 = 5.5; min: min(1.5, 4) = 1.5.
    expect([...aggregateTeacherLoss(losses, starts, ends, "sum")]).toEqual([
      5.5,
      Number.NaN,
      Number.NaN,
      0.25,
      1.5,
    ]);
    expect([...aggregateTeacherLoss(losses, starts, ends, "min")]).toEqual([
      1.5,
      Number.NaN,
      Number.NaN,
      0.25,
      1.5,
    ]);
  });

  it("returns an empty result without student tokens", () => {
    expect(aggregateTeacherLoss(losses, new Int32Array(0), new Int32Array(0), "max")).toHaveLength(0);
  });
});
