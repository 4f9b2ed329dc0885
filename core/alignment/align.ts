/**
 * Token-level lexical alignment of a student tokenization to a teacher
 * tokenization of the same text.
 *
 * Student token `i` maps to `[teacherStart[i], teacherEnd[i])` (end
 * exclusive): the contiguous teacher tokens from the first to the last one
 * whose byte span overlaps the student's span. The range covers the whole
 * student span and is the smallest that does. A student token is unmapped
 * when `teacherStart[i] === teacherEnd[i]`: its span is empty (BOS, EOS,
 * special tokens) or no teacher token overlaps it. Unmapped entries hold the
 * sweep position, which carries no meaning; files store them as null.
 */
export interface TokenAlignment {
  /** First teacher token of each student token's range. */
  readonly teacherStart: Int32Array;
  /** One past the last teacher token of each student token's range; equal to `teacherStart` when unmapped. */
  readonly teacherEnd: Int32Array;
}

/**
 * Aligns student tokens to teacher tokens in one linear two-pointer sweep,
 * O(N + M), without allocating per token.
 *
 * Both span arrays are UTF-8 byte spans, flattened `[s0, e0, s1, e1, ...]`,
 * and must be monotone: starts and ends never decrease from one token to the
 * next, as the spans of `encode` are. Empty spans are allowed anywhere and
 * overlap nothing.
 *
 * @example
 * const { teacherStart, teacherEnd } = alignTokens(student.spans, teacher.spans);
 * // student token i maps to teacher tokens teacherStart[i] .. teacherEnd[i] - 1
 */
export function alignTokens(studentSpans: Int32Array, teacherSpans: Int32Array): TokenAlignment {
  const studentCount = studentSpans.length >> 1;
  const teacherStart = new Int32Array(studentCount);
  const teacherEnd = new Int32Array(studentCount);
  alignTokensInto(studentSpans, teacherSpans, teacherStart, teacherEnd);
  return { teacherStart, teacherEnd };
}

/**
 * Runs the sweep of `alignTokens` into caller-owned arrays, for callers that
 * reuse buffers across documents. It writes one entry per student token.
 */
export function alignTokensInto(
  studentSpans: Int32Array,
  teacherSpans: Int32Array,
  teacherStart: Int32Array,
  teacherEnd: Int32Array,
): void {
  const studentCount = studentSpans.length >> 1;
  const teacherCount = teacherSpans.length >> 1;

  checkSpanArray("student", studentSpans);
  checkSpanArray("teacher", teacherSpans);
  checkMonotone("teacher", teacherSpans);
  if (teacherStart.length < studentCount || teacherEnd.length < studentCount) {
    throw new RangeError(`alignment arrays hold fewer than the ${studentCount} student tokens`);
  }

  // Indices below step over flattened pairs: `first` and `limit` are twice a teacher token index.
  // first: the first teacher token that ends after the student start (ends never decrease).
  // limit: the first teacher token that starts at or after the student end (starts never decrease).
  const teacherLength = 2 * teacherCount;
  let first = 0;
  let limit = 0;
  let previousStart = 0;
  let previousEnd = 0;
  for (let i = 0, pair = 0; i < studentCount; i++, pair += 2) {
    const start = studentSpans[pair];
    const end = studentSpans[pair + 1];
    if (start < previousStart || end < previousEnd || end < start) {
      throw notMonotone("student", i, start, end, previousStart, previousEnd);
    }
    previousStart = start;
    previousEnd = end;
    while (first < teacherLength && teacherSpans[first + 1] <= start) {
      first += 2;
    }
    if (limit < first) {
      limit = first;
    }
    while (limit < teacherLength && teacherSpans[limit] < end) {
      limit += 2;
    }
    if (start === end) {
      teacherStart[i] = first >> 1;
      teacherEnd[i] = first >> 1;
      continue;
    }
    // Teacher tokens in [first, limit) end after `start` and start before `end`. Only the
    // empty ones among them overlap nothing, so trim those from both edges.
    let j0 = first;
    while (j0 < limit && teacherSpans[j0] === teacherSpans[j0 + 1]) {
      j0 += 2;
    }
    let j1 = limit;
    while (j1 > j0 && teacherSpans[j1 - 2] === teacherSpans[j1 - 1]) {
      j1 -= 2;
    }
    teacherStart[i] = j0 >> 1;
    teacherEnd[i] = j1 >> 1;
  }
}

function checkMonotone(side: string, spans: Int32Array): void {
  let previousStart = 0;
  let previousEnd = 0;
  for (let k = 0; k < spans.length; k += 2) {
    const start = spans[k];
    const end = spans[k + 1];
    if (start < previousStart || end < previousEnd || end < start) {
      throw notMonotone(side, k >> 1, start, end, previousStart, previousEnd);
    }
    previousStart = start;
    previousEnd = end;
  }
}

function notMonotone(
  side: string,
  token: number,
  start: number,
  end: number,
  previousStart: number,
  previousEnd: number,
): RangeError {
  return new RangeError(
    `${side} span ${token} [${start}, ${end}) does not follow [${previousStart}, ${previousEnd}) in text order; ` +
      "starts and ends must never decrease, as the spans from encode() do",
  );
}

function checkSpanArray(side: string, spans: Int32Array): void {
  if ((spans.length & 1) !== 0) {
    throw new RangeError(
      `${side} spans have odd length ${spans.length}; expected flattened [start, end) pairs`,
    );
  }
}
