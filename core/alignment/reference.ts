import type { TokenAlignment } from "./align.ts";

/**
 * Aligns by the rule in its plainest form, O(N·M): student token `i` maps
 * from the first to one past the last teacher token whose span overlaps its
 * own (`[a, b)` and `[c, d)` overlap when both are non-empty, `c < b` and
 * `a < d`). Tests compare `alignTokens` with it; it is too slow for corpora.
 */
export function bruteForceAlignment(studentSpans: Int32Array, teacherSpans: Int32Array): TokenAlignment {
  const studentCount = studentSpans.length >> 1;
  const teacherCount = teacherSpans.length >> 1;
  const teacherStart = new Int32Array(studentCount);
  const teacherEnd = new Int32Array(studentCount);
  for (let i = 0; i < studentCount; i++) {
    const a = studentSpans[2 * i];
    const b = studentSpans[2 * i + 1];
    let first = -1;
    let last = -1;
    for (let j = 0; j < teacherCount; j++) {
      const c = teacherSpans[2 * j];
      const d = teacherSpans[2 * j + 1];
      if (a < b && c < d && c < b && a < d) {
        if (first < 0) first = j;
        last = j;
      }
    }
    // Unmapped: an empty range, like alignTokens returns.
    teacherStart[i] = Math.max(first, 0);
    teacherEnd[i] = first < 0 ? 0 : last + 1;
  }
  return { teacherStart, teacherEnd };
}
