import type { ShardDocument } from "../shard-document.ts";

/** A small deterministic generator, so that sample documents are the same on every run. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

/** Cuts `[0, byteLength)` into `count` contiguous spans, flattened. */
function contiguousSpans(byteLength: number, count: number, random: () => number): Int32Array {
  const cuts = new Set<number>();
  while (cuts.size < count - 1) cuts.add(1 + Math.floor(random() * (byteLength - 1)));
  const bounds = [0, ...[...cuts].sort((a, b) => a - b), byteLength];
  const spans = new Int32Array(2 * count);
  for (let i = 0; i < count; i++) {
    spans[2 * i] = bounds[i];
    spans[2 * i + 1] = bounds[i + 1];
  }
  return spans;
}

/**
 * Builds a consistent document: student and teacher spans tile the text,
 * each student token maps to the teacher tokens overlapping its span, and
 * every `unmappedEvery`-th student token is unmapped.
 */
export function sampleDocument(index: number, options: { unmappedEvery?: number } = {}): ShardDocument {
  const random = seededRandom(index + 1);
  const studentCount = 1 + Math.floor(random() * 20);
  const teacherCount = 1 + Math.floor(random() * 20);
  const byteLength = Math.max(studentCount, teacherCount) + Math.floor(random() * 50);
  const studentSpans = contiguousSpans(byteLength, studentCount, random);
  const teacherSpans = contiguousSpans(byteLength, teacherCount, random);
  const teacherStart = new Int32Array(studentCount);
  const teacherEnd = new Int32Array(studentCount);
  const unmappedEvery = options.unmappedEvery ?? 4;
  for (let i = 0; i < studentCount; i++) {
    if (i % unmappedEvery === unmappedEvery - 1) continue;
    const [a, b] = [studentSpans[2 * i], studentSpans[2 * i + 1]];
    let j0 = 0;
    while (teacherSpans[2 * j0 + 1] <= a) j0 += 1;
    let j1 = j0;
    while (j1 < teacherCount && teacherSpans[2 * j1] < b) j1 += 1;
    teacherStart[i] = j0;
    teacherEnd[i] = j1;
  }
  return {
    id: `doc-${index}-é🙂`,
    byteLength,
    studentIds: Int32Array.from({ length: studentCount }, () => Math.floor(random() * 32000)),
    studentSpans,
    teacherIds: Int32Array.from({ length: teacherCount }, () => Math.floor(random() * 151_000)),
    teacherSpans,
    teacherStart,
    teacherEnd,
  };
}

/** Sample teacher losses for a document: NaN for the first teacher token and for unmapped student tokens. */
export function sampleScores(document: ShardDocument): {
  id: string;
  teacherLoss: Float32Array;
  studentTeacherLoss: Float32Array;
} {
  const teacherLoss = Float32Array.from(document.teacherIds, (id, j) =>
    j === 0 ? Number.NaN : (id % 1000) / 97,
  );
  const studentTeacherLoss = Float32Array.from(document.studentIds, (_, i) => {
    if (document.teacherStart[i] === document.teacherEnd[i]) return Number.NaN;
    let max = Number.NEGATIVE_INFINITY;
    for (let j = document.teacherStart[i]; j < document.teacherEnd[i]; j++) {
      if (!Number.isNaN(teacherLoss[j])) max = Math.max(max, teacherLoss[j]);
    }
    return max === Number.NEGATIVE_INFINITY ? Number.NaN : max;
  });
  return { id: document.id, teacherLoss, studentTeacherLoss };
}
