import type { TokenAlignment } from "./align.ts";

/**
 * Counts that describe alignments, kept as sums so that the statistics of
 * documents merge into those of a shard and of a run by addition.
 */
export interface AlignmentStats {
  /** Documents counted. */
  readonly documents: number;
  /** Student tokens, mapped and unmapped. */
  readonly studentTokens: number;
  /** Teacher tokens. */
  readonly teacherTokens: number;
  /** Student tokens with an empty teacher range. */
  readonly unmappedStudentTokens: number;
  /** Sum of the teacher range lengths of mapped student tokens. */
  readonly teacherTokensInRanges: number;
  /** Student tokens whose span equals the span of exactly one teacher token, their whole range. */
  readonly exactMatches: number;
}

/** Ratios derived from `AlignmentStats`; null where the denominator is 0. */
export interface AlignmentSummary {
  /** Mean teacher range length over mapped student tokens. */
  readonly meanTeacherTokensPerStudentToken: number | null;
  /** Share of student tokens that are exact one-to-one matches. */
  readonly exactMatchShare: number | null;
  /** Share of student tokens that are unmapped. */
  readonly unmappedShare: number | null;
}

/** Statistics of no documents, the starting point of a merge. */
export const EMPTY_ALIGNMENT_STATS: AlignmentStats = {
  documents: 0,
  studentTokens: 0,
  teacherTokens: 0,
  unmappedStudentTokens: 0,
  teacherTokensInRanges: 0,
  exactMatches: 0,
};

/**
 * Counts the statistics of one document's alignment.
 *
 * @example
 * const stats = computeAlignmentStats(student.spans, teacher.spans, alignTokens(student.spans, teacher.spans));
 */
export function computeAlignmentStats(
  studentSpans: Int32Array,
  teacherSpans: Int32Array,
  alignment: TokenAlignment,
): AlignmentStats {
  const studentCount = studentSpans.length >> 1;
  const { teacherStart, teacherEnd } = alignment;
  let unmapped = 0;
  let inRanges = 0;
  let exact = 0;
  for (let i = 0; i < studentCount; i++) {
    const j0 = teacherStart[i];
    const length = teacherEnd[i] - j0;
    if (length === 0) {
      unmapped++;
      continue;
    }
    inRanges += length;
    if (
      length === 1 &&
      teacherSpans[2 * j0] === studentSpans[2 * i] &&
      teacherSpans[2 * j0 + 1] === studentSpans[2 * i + 1]
    ) {
      exact++;
    }
  }
  return {
    documents: 1,
    studentTokens: studentCount,
    teacherTokens: teacherSpans.length >> 1,
    unmappedStudentTokens: unmapped,
    teacherTokensInRanges: inRanges,
    exactMatches: exact,
  };
}

/** Adds two sets of statistics, for example a document's to its shard's. */
export function mergeAlignmentStats(a: AlignmentStats, b: AlignmentStats): AlignmentStats {
  return {
    documents: a.documents + b.documents,
    studentTokens: a.studentTokens + b.studentTokens,
    teacherTokens: a.teacherTokens + b.teacherTokens,
    unmappedStudentTokens: a.unmappedStudentTokens + b.unmappedStudentTokens,
    teacherTokensInRanges: a.teacherTokensInRanges + b.teacherTokensInRanges,
    exactMatches: a.exactMatches + b.exactMatches,
  };
}

/** Derives the ratios that reports show. */
export function summarizeAlignmentStats(stats: AlignmentStats): AlignmentSummary {
  const mapped = stats.studentTokens - stats.unmappedStudentTokens;
  return {
    meanTeacherTokensPerStudentToken: mapped === 0 ? null : stats.teacherTokensInRanges / mapped,
    exactMatchShare: stats.studentTokens === 0 ? null : stats.exactMatches / stats.studentTokens,
    unmappedShare: stats.studentTokens === 0 ? null : stats.unmappedStudentTokens / stats.studentTokens,
  };
}
