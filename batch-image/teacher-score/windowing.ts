/**
 * Overlapping windows over a long document, so that every scored teacher token
 * has at least `minContextTokens` preceding tokens (when the document has them)
 * while no window passes the teacher's context.
 */

/** Settings of the window plan; token counts include the BOS token when the teacher has one. */
export interface WindowOptions {
  /** Max tokens per window, BOS included. */
  readonly contextTokens: number;
  /** Min preceding document tokens before every token scored after the first window. */
  readonly minContextTokens: number;
  /** Token prepended to every window, or null when the teacher has no BOS. */
  readonly bosTokenId: number | null;
}

/**
 * One window over document tokens `[inputStart, inputEnd)`. It supplies the
 * losses of tokens `[scoreStart, inputEnd)`; the earlier ones are context only.
 */
export interface ScoringWindow {
  readonly inputStart: number;
  readonly inputEnd: number;
  readonly scoreStart: number;
}

/** Window settings that cannot make progress or do not fit the teacher. */
export class WindowOptionsError extends Error {
  readonly code = "invalid_window_options";
}

/** Rejects settings under which windows could not advance; returns the min context actually used. */
export function checkWindowOptions(options: WindowOptions): number {
  const bosTokens = options.bosTokenId === null ? 0 : 1;
  const capacity = options.contextTokens - bosTokens;
  if (!Number.isInteger(options.contextTokens) || capacity < 2) {
    throw new WindowOptionsError(
      `invalid context of ${options.contextTokens} tokens: a window needs room for at least 2 document tokens${bosTokens ? " after BOS" : ""}; raise --context-tokens`,
    );
  }
  if (!Number.isInteger(options.minContextTokens) || options.minContextTokens < 0) {
    throw new WindowOptionsError(
      `invalid min context of ${options.minContextTokens} tokens; use an integer of at least 0`,
    );
  }
  if (options.minContextTokens >= capacity) {
    throw new WindowOptionsError(
      `min context of ${options.minContextTokens} tokens leaves no token to score in a window of ${capacity} document tokens; set --min-context-tokens below ${capacity}`,
    );
  }
  // Without BOS the first position of a window has no prediction, so it can never be a scored token.
  return bosTokens === 0 ? Math.max(1, options.minContextTokens) : options.minContextTokens;
}

/**
 * Plans the windows of a document of `tokenCount` teacher tokens. A document
 * that fits one window gets exactly one window, so its losses equal a single pass.
 *
 * @example
 * planWindows(10, { contextTokens: 5, minContextTokens: 2, bosTokenId: 1 });
 * // [{ inputStart: 0, inputEnd: 4, scoreStart: 0 }, { inputStart: 2, inputEnd: 6, scoreStart: 4 }, ...]
 */
export function planWindows(tokenCount: number, options: WindowOptions): ScoringWindow[] {
  const minContext = checkWindowOptions(options);
  const capacity = options.contextTokens - (options.bosTokenId === null ? 0 : 1);
  const windows: ScoringWindow[] = [];
  if (tokenCount === 0) return windows;

  windows.push({ inputStart: 0, inputEnd: Math.min(capacity, tokenCount), scoreStart: 0 });
  let scoredEnd = windows[0].inputEnd;
  while (scoredEnd < tokenCount) {
    const inputStart = scoredEnd - minContext;
    const inputEnd = Math.min(inputStart + capacity, tokenCount);
    windows.push({ inputStart, inputEnd, scoreStart: scoredEnd });
    scoredEnd = inputEnd;
  }
  return windows;
}
