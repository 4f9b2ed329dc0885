import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { alignTokens, alignTokensInto } from "./align.ts";
import { bruteForceAlignment } from "./reference.ts";

function spans(...pairs: Array<[number, number]>): Int32Array {
  return Int32Array.from(pairs.flat());
}

function ranges(alignment: {
  teacherStart: Int32Array;
  teacherEnd: Int32Array;
}): Array<[number, number] | null> {
  return Array.from(alignment.teacherStart, (start, i) =>
    start === alignment.teacherEnd[i] ? null : [start, alignment.teacherEnd[i]],
  );
}

describe("alignTokens", () => {
  it("maps equal tokenizations one to one", () => {
    const s = spans([0, 3], [3, 5], [5, 9]);
    expect(ranges(alignTokens(s, s))).toEqual([
      [0, 1],
      [1, 2],
      [2, 3],
    ]);
  });

  it("maps a student token to every teacher token it overlaps", () => {
    // Student "hello" [0,5) against teacher "he" [0,2), "llo" [2,5): both overlap.
    const student = spans([0, 5], [5, 6]);
    const teacher = spans([0, 2], [2, 5], [5, 6]);
    expect(ranges(alignTokens(student, teacher))).toEqual([
      [0, 2],
      [2, 3],
    ]);
  });

  it("lets byte pieces of one character share a teacher token", () => {
    // Four student byte pieces of 😀 [1,5) against one teacher token [1,5).
    const student = spans([0, 1], [1, 2], [2, 3], [3, 4], [4, 5]);
    const teacher = spans([0, 1], [1, 5]);
    expect(ranges(alignTokens(student, teacher))).toEqual([
      [0, 1],
      [1, 2],
      [1, 2],
      [1, 2],
      [1, 2],
    ]);
  });

  it("leaves empty student spans unmapped", () => {
    const student = spans([0, 0], [0, 2], [2, 2]);
    const teacher = spans([0, 1], [1, 2]);
    expect(ranges(alignTokens(student, teacher))).toEqual([null, [0, 2], null]);
  });

  it("never maps to empty teacher spans at the edges", () => {
    // Teacher BOS [0,0) and EOS [4,4) overlap nothing.
    const student = spans([0, 4]);
    const teacher = spans([0, 0], [0, 2], [2, 4], [4, 4]);
    expect(ranges(alignTokens(student, teacher))).toEqual([[1, 3]]);
  });

  it("leaves a student token past the teacher's text unmapped", () => {
    // The teacher covers only bytes [0,3), as when its scored range is shorter.
    const student = spans([0, 3], [3, 6]);
    const teacher = spans([0, 3]);
    expect(ranges(alignTokens(student, teacher))).toEqual([[0, 1], null]);
  });

  it("handles no teacher tokens", () => {
    expect(ranges(alignTokens(spans([0, 2]), new Int32Array(0)))).toEqual([null]);
  });

  it("handles no student tokens", () => {
    const result = alignTokens(new Int32Array(0), spans([0, 2]));
    expect(result.teacherStart.length).toBe(0);
  });

  it("rejects student spans out of order", () => {
    expect(() => alignTokens(spans([2, 4], [0, 2]), spans([0, 4]))).toThrow(/student span 1/);
  });

  it("rejects teacher spans out of order", () => {
    expect(() => alignTokens(spans([0, 4]), spans([2, 4], [0, 2]))).toThrow(/teacher span 1/);
  });

  it("rejects an odd-length span array", () => {
    expect(() => alignTokens(Int32Array.of(0, 1, 2), spans([0, 4]))).toThrow(/odd length/);
  });

  it("agrees with the brute-force reference on random monotone spans", () => {
    // Spans drawn as cut points of a text, with empty tokens and gaps, which
    // also covers tokenizations that do not partition the text.
    const monotoneSpans = fc.array(fc.tuple(fc.nat(4), fc.nat(4)), { maxLength: 40 }).map((steps) => {
      const out: number[] = [];
      let position = 0;
      for (const [gap, length] of steps) {
        position += gap === 4 ? 1 : 0;
        out.push(position, position + (length === 0 ? 0 : length));
        position += length;
      }
      return Int32Array.from(out);
    });
    fc.assert(
      fc.property(monotoneSpans, monotoneSpans, (student, teacher) => {
        const fast = ranges(alignTokens(student, teacher));
        const reference = ranges(bruteForceAlignment(student, teacher));
        expect(fast).toEqual(reference);
      }),
      { numRuns: 500 },
    );
  });
});

describe("alignTokensInto", () => {
  it("writes into reused arrays", () => {
    const teacherStart = new Int32Array(8).fill(-7);
    const teacherEnd = new Int32Array(8).fill(-7);
    alignTokensInto(spans([0, 2], [2, 4]), spans([0, 4]), teacherStart, teacherEnd);
    expect(Array.from(teacherStart.subarray(0, 2))).toEqual([0, 0]);
    expect(Array.from(teacherEnd.subarray(0, 2))).toEqual([1, 1]);
  });

  it("rejects arrays shorter than the student tokens", () => {
    expect(() =>
      alignTokensInto(spans([0, 2], [2, 4]), spans([0, 4]), new Int32Array(1), new Int32Array(1)),
    ).toThrow(/fewer than the 2 student tokens/);
  });
});
