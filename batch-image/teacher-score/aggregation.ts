import type { Aggregation } from "../../core/shards/index.ts";

/**
 * Aggregates teacher losses to student tokens: student token `i` gets
 * `aggregation` over `teacherLoss[teacherStart[i] .. teacherEnd[i])`, ignoring
 * NaN. The result is NaN for an unmapped token (`teacherStart[i] === teacherEnd[i]`)
 * and for a range whose losses are all NaN.
 *
 * @example
 * aggregateTeacherLoss(Float32Array.of(NaN, 2, 4), Int32Array.of(0, 1), Int32Array.of(2, 3), "max");
 * // Float32Array [2, 4]
 */
export function aggregateTeacherLoss(
  teacherLoss: Float32Array,
  teacherStart: Int32Array,
  teacherEnd: Int32Array,
  aggregation: Aggregation,
): Float32Array {
  const result = new Float32Array(teacherStart.length);
  for (let i = 0; i < teacherStart.length; i++) {
    result[i] = aggregateRange(teacherLoss, teacherStart[i], teacherEnd[i], aggregation);
  }
  return result;
}

function aggregateRange(losses: Float32Array, start: number, end: number, aggregation: Aggregation): number {
  let count = 0;
  let sum = 0;
  let max = Number.NEGATIVE_INFINITY;
  let min = Number.POSITIVE_INFINITY;
  for (let j = start; j < end; j++) {
    const loss = losses[j];
    if (Number.isNaN(loss)) continue;
    count++;
    sum += loss;
    if (loss > max) max = loss;
    if (loss < min) min = loss;
  }
  if (count === 0) return Number.NaN;
  switch (aggregation) {
    case "max":
      return max;
    case "min":
      return min;
    case "sum":
      return sum;
    case "mean":
      return sum / count;
  }
}
