import { describe, expect, it } from "vitest";
import { alignTokens } from "./align.ts";
import {
  computeAlignmentStats,
  EMPTY_ALIGNMENT_STATS,
  mergeAlignmentStats,
  summarizeAlignmentStats,
} from "./stats.ts";

// Student: "ab" [0,2), BOS-like empty [2,2), "cde" [2,5), "f" [5,6).
// Teacher: "ab" [0,2), "c" [2,3), "de" [3,5), nothing past byte 5.
const student = Int32Array.of(0, 2, 2, 2, 2, 5, 5, 6);
const teacher = Int32Array.of(0, 2, 2, 3, 3, 5);

describe("computeAlignmentStats", () => {
  const stats = computeAlignmentStats(student, teacher, alignTokens(student, teacher));

  it("counts tokens of both sides", () => {
    expect(stats.studentTokens).toBe(4);
    expect(stats.teacherTokens).toBe(3);
    expect(stats.documents).toBe(1);
  });

  it("counts the empty span and the uncovered token as unmapped", () => {
    expect(stats.unmappedStudentTokens).toBe(2);
  });

  it("sums range lengths of mapped tokens", () => {
    // "ab" -> 1 teacher token, "cde" -> 2.
    expect(stats.teacherTokensInRanges).toBe(3);
  });

  it("counts only identical single-token spans as exact", () => {
    expect(stats.exactMatches).toBe(1);
  });
});

describe("mergeAlignmentStats", () => {
  it("adds every count", () => {
    const one = computeAlignmentStats(student, teacher, alignTokens(student, teacher));
    const two = mergeAlignmentStats(mergeAlignmentStats(EMPTY_ALIGNMENT_STATS, one), one);
    expect(two).toEqual({
      documents: 2,
      studentTokens: 8,
      teacherTokens: 6,
      unmappedStudentTokens: 4,
      teacherTokensInRanges: 6,
      exactMatches: 2,
    });
  });
});

describe("summarizeAlignmentStats", () => {
  it("derives the ratios", () => {
    const summary = summarizeAlignmentStats(
      computeAlignmentStats(student, teacher, alignTokens(student, teacher)),
    );
    // 3 teacher tokens over 2 mapped student tokens; 1 exact and 2 unmapped of 4.
    expect(summary.meanTeacherTokensPerStudentToken).toBe(1.5);
    expect(summary.exactMatchShare).toBe(0.25);
    expect(summary.unmappedShare).toBe(0.5);
  });

  it("returns null ratios for no tokens", () => {
    expect(summarizeAlignmentStats(EMPTY_ALIGNMENT_STATS)).toEqual({
      meanTeacherTokensPerStudentToken: null,
      exactMatchShare: null,
      unmappedShare: null,
    });
  });
});
