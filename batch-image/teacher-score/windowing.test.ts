import { describe, expect, it } from "vitest";
import { planWindows, WindowOptionsError } from "./windowing.ts";

describe("planWindows", () => {
  it("gives a short document one window", () => {
    expect(planWindows(7, { contextTokens: 8, minContextTokens: 2, bosTokenId: 1 })).toEqual([
      { inputStart: 0, inputEnd: 7, scoreStart: 0 },
    ]);
  });

  it("splits a long document with BOS", () => {
    // Capacity 4 document tokens after BOS; later windows start 2 tokens before their first scored token.
    expect(planWindows(10, { contextTokens: 5, minContextTokens: 2, bosTokenId: 1 })).toEqual([
      { inputStart: 0, inputEnd: 4, scoreStart: 0 },
      { inputStart: 2, inputEnd: 6, scoreStart: 4 },
      { inputStart: 4, inputEnd: 8, scoreStart: 6 },
      { inputStart: 6, inputEnd: 10, scoreStart: 8 },
    ]);
  });

  it("keeps one context token without BOS", () => {
    // Position 0 of a window without BOS has no prediction, so min context 0 acts as 1.
    expect(planWindows(6, { contextTokens: 4, minContextTokens: 0, bosTokenId: null })).toEqual([
      { inputStart: 0, inputEnd: 4, scoreStart: 0 },
      { inputStart: 3, inputEnd: 6, scoreStart: 4 },
    ]);
  });

  it("covers every token once with enough context", () => {
    for (const bosTokenId of [null, 0]) {
      for (let tokens = 0; tokens < 60; tokens++) {
        const options = { contextTokens: 9, minContextTokens: 3, bosTokenId };
        const windows = planWindows(tokens, options);
        const scored = new Array(tokens).fill(0);
        for (const [index, window] of windows.entries()) {
          expect(window.inputEnd - window.inputStart).toBeLessThanOrEqual(9 - (bosTokenId === null ? 0 : 1));
          if (index > 0) expect(window.scoreStart - window.inputStart).toBeGreaterThanOrEqual(3);
          for (let j = window.scoreStart; j < window.inputEnd; j++) scored[j]++;
        }
        expect(scored.every((count) => count === 1)).toBe(true);
      }
    }
  });

  it("rejects a min context that fills the window", () => {
    expect(() => planWindows(10, { contextTokens: 5, minContextTokens: 4, bosTokenId: 1 })).toThrow(
      WindowOptionsError,
    );
    expect(() => planWindows(10, { contextTokens: 5, minContextTokens: 4, bosTokenId: 1 })).toThrow(
      "set --min-context-tokens below 4",
    );
  });

  it("rejects a context without room", () => {
    expect(() => planWindows(10, { contextTokens: 2, minContextTokens: 0, bosTokenId: 1 })).toThrow(
      "invalid context of 2 tokens",
    );
  });
});
