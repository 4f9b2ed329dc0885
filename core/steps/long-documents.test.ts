import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { splitLongText } from "./long-documents.ts";

describe("splitLongText", () => {
  test("cuts at line breaks", () => {
    expect(splitLongText("aaa\nbbb\nccc", 8)).toEqual(["aaa\nbbb\n", "ccc"]);
  });

  test("keeps emoji whole", () => {
    // "😀" is 4 UTF-8 bytes, so 6 bytes hold one emoji and two ASCII letters at most.
    expect(splitLongText("😀😀😀", 6)).toEqual(["😀", "😀", "😀"]);
  });

  test("pieces rebuild the text within the limit", () => {
    fc.assert(
      fc.property(
        fc.string({ unit: "grapheme", maxLength: 200 }),
        fc.integer({ min: 4, max: 40 }),
        (text, maxBytes) => {
          const pieces = splitLongText(text, maxBytes);
          expect(pieces.join("")).toBe(text);
          for (const piece of pieces) expect(Buffer.byteLength(piece, "utf8")).toBeLessThanOrEqual(maxBytes);
          if (text.length > 0) for (const piece of pieces) expect(piece.length).toBeGreaterThan(0);
        },
      ),
    );
  });
});
