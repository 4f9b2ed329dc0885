import type { ScoringStats, TeacherEngine } from "./engine.ts";
import { planWindows, type WindowOptions } from "./windowing.ts";

/**
 * Computes `-log p_teacher(t_j | t_<j)` for every teacher token of every
 * document, in nats. Each document is scored after the teacher's BOS when it
 * has one; without BOS its first token has no prediction and stays NaN. Long
 * documents are split into overlapping windows (see `planWindows`), and all
 * windows of all documents are batched together by length.
 *
 * @example
 * const { losses } = await scoreDocuments(engine, [Int32Array.of(415, 2936)],
 *   { contextTokens: 4096, minContextTokens: 1024, bosTokenId: 1 }, 16384);
 */
export async function scoreDocuments(
  engine: TeacherEngine,
  documents: readonly Int32Array[],
  windowOptions: WindowOptions,
  batchTokens: number,
): Promise<{ losses: Float32Array[]; stats: ScoringStats }> {
  const bosTokens = windowOptions.bosTokenId === null ? 0 : 1;
  const sequences: Int32Array[] = [];
  const owners: { document: number; inputStart: number; scoreStart: number; inputEnd: number }[] = [];
  documents.forEach((ids, document) => {
    for (const window of planWindows(ids.length, windowOptions)) {
      const sequence = new Int32Array(bosTokens + window.inputEnd - window.inputStart);
      if (windowOptions.bosTokenId !== null) sequence[0] = windowOptions.bosTokenId;
      sequence.set(ids.subarray(window.inputStart, window.inputEnd), bosTokens);
      sequences.push(sequence);
      owners.push({ document, ...window });
    }
  });

  const { losses: windowLosses, stats } = await engine.scoreSequences(sequences, batchTokens);

  const losses = documents.map((ids) => new Float32Array(ids.length).fill(Number.NaN));
  owners.forEach((owner, index) => {
    // Window position of document token j is j - inputStart, shifted by one past BOS.
    const from = owner.scoreStart - owner.inputStart + bosTokens;
    const to = owner.inputEnd - owner.inputStart + bosTokens;
    losses[owner.document].set(windowLosses[index].subarray(from, to), owner.scoreStart);
  });
  return { losses, stats };
}
