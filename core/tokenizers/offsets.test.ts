import { describe, expect, it } from "vitest";
import {
  codePointToUtf8Offsets,
  sliceUtf8Span,
  utf8ByteLength,
  utf8ToUtf16Offset,
  utf16ToUtf8Offset,
} from "./offsets.ts";

// "😀" is U+1F600: one code point, two UTF-16 units, four UTF-8 bytes.
// "é" is U+00E9: one unit, two bytes. "中" is U+4E2D: one unit, three bytes.
const TEXT = "😀a é中😀b";

describe("codePointToUtf8Offsets", () => {
  it("maps each code point to its byte offset", () => {
    const { byteOffsets, codePointCount } = codePointToUtf8Offsets(TEXT);
    // Code points: 😀 a ␠ é 中 😀 b, with byte lengths 4 1 1 2 3 4 1.
    expect(codePointCount).toBe(7);
    expect(Array.from(byteOffsets.subarray(0, 8))).toEqual([0, 4, 5, 6, 8, 11, 15, 16]);
  });

  it("ends at the byte length", () => {
    const { byteOffsets, codePointCount } = codePointToUtf8Offsets(TEXT);
    expect(byteOffsets[codePointCount]).toBe(Buffer.byteLength(TEXT));
  });

  it("maps the empty string to one offset", () => {
    const { byteOffsets, codePointCount } = codePointToUtf8Offsets("");
    expect(codePointCount).toBe(0);
    expect(byteOffsets[0]).toBe(0);
  });

  it("agrees with Buffer on every prefix", () => {
    const codePoints = Array.from(TEXT);
    const { byteOffsets } = codePointToUtf8Offsets(TEXT);
    for (let k = 0; k <= codePoints.length; k++) {
      expect(byteOffsets[k]).toBe(Buffer.byteLength(codePoints.slice(0, k).join("")));
    }
  });
});

describe("utf16ToUtf8Offset", () => {
  it("converts offsets around astral characters", () => {
    // UTF-16 units: 😀=0..2, a=2, ␠=3, é=4, 中=5, 😀=6..8, b=8.
    expect(utf16ToUtf8Offset(TEXT, 0)).toBe(0);
    expect(utf16ToUtf8Offset(TEXT, 2)).toBe(4);
    expect(utf16ToUtf8Offset(TEXT, 6)).toBe(11);
    expect(utf16ToUtf8Offset(TEXT, 8)).toBe(15);
    expect(utf16ToUtf8Offset(TEXT, TEXT.length)).toBe(16);
  });

  it("rejects an offset inside a surrogate pair", () => {
    expect(() => utf16ToUtf8Offset(TEXT, 1)).toThrow(/surrogate pair/);
  });

  it("rejects an offset past the end", () => {
    expect(() => utf16ToUtf8Offset(TEXT, TEXT.length + 1)).toThrow(/outside/);
  });
});

describe("utf8ToUtf16Offset", () => {
  it("inverts utf16ToUtf8Offset at every character boundary", () => {
    for (let unit = 0; unit <= TEXT.length; unit++) {
      if (unit === 1 || unit === 7) continue; // inside the two surrogate pairs
      expect(utf8ToUtf16Offset(TEXT, utf16ToUtf8Offset(TEXT, unit))).toBe(unit);
    }
  });

  it("rejects a byte offset inside a character", () => {
    expect(() => utf8ToUtf16Offset(TEXT, 2)).toThrow(/inside a multi-byte character/);
  });

  it("rejects a byte offset past the end", () => {
    expect(() => utf8ToUtf16Offset(TEXT, 17)).toThrow(/past the end/);
  });
});

describe("sliceUtf8Span", () => {
  it("slices astral characters before and after a span", () => {
    // Bytes [4, 11) are "a é中" minus 中: a(4) ␠(5) é(6..8) 中(8..11).
    expect(sliceUtf8Span(TEXT, 4, 11)).toBe("a é中");
    expect(sliceUtf8Span(TEXT, 0, 4)).toBe("😀");
    expect(sliceUtf8Span(TEXT, 11, 16)).toBe("😀b");
  });
});

describe("utf8ByteLength", () => {
  it("counts bytes, not units", () => {
    expect(utf8ByteLength(TEXT)).toBe(16);
  });
});
