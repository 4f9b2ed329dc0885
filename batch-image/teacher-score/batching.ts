/** Grouping of token sequences into right-padded batches of similar length. */

/** Indexes of the sequences in one batch and the padded length they share. */
export interface SequenceBatch {
  readonly indexes: number[];
  readonly paddedLength: number;
}

/**
 * Groups sequences into batches of at most `batchTokens` padded tokens
 * (batch size times the longest length). Sequences are sorted longest first so
 * that neighbours have similar lengths and padding stays low; a sequence longer
 * than `batchTokens` gets a batch of its own.
 *
 * @example
 * planBatches([5, 3, 4], 8); // [{ indexes: [0], paddedLength: 5 }, { indexes: [2, 1], paddedLength: 4 }]
 */
export function planBatches(lengths: readonly number[], batchTokens: number): SequenceBatch[] {
  const order = lengths.map((_, index) => index).sort((a, b) => lengths[b] - lengths[a] || a - b);
  const batches: SequenceBatch[] = [];
  let current: number[] = [];
  let currentLength = 0;
  for (const index of order) {
    if (lengths[index] === 0) continue;
    if (current.length > 0 && (current.length + 1) * currentLength > batchTokens) {
      batches.push({ indexes: current, paddedLength: currentLength });
      current = [];
    }
    if (current.length === 0) currentLength = lengths[index];
    current.push(index);
  }
  if (current.length > 0) batches.push({ indexes: current, paddedLength: currentLength });
  return batches;
}

/** Share of padding among all token slots of the batches, between 0 and 1. */
export function paddingShare(lengths: readonly number[], batches: readonly SequenceBatch[]): number {
  let slots = 0;
  let tokens = 0;
  for (const batch of batches) {
    slots += batch.indexes.length * batch.paddedLength;
    for (const index of batch.indexes) tokens += lengths[index];
  }
  return slots === 0 ? 0 : 1 - tokens / slots;
}
