/**
 * Conversions between the three offset units that meet in tokenization:
 * code points (what the Rust `tokenizers` binding reports), UTF-16 code units
 * (how JavaScript strings index) and UTF-8 bytes (the unit of every span that
 * vocagno stores). Each function names its source and target unit.
 */

/**
 * Builds the table from code-point index to UTF-8 byte offset for `text`:
 * entry `k` is the byte offset where code point `k` starts, and the entry
 * after the last code point is the byte length. The table has
 * `codePointCount + 1` meaningful entries; `codePointCount` is returned with it.
 *
 * @example
 * const { byteOffsets } = codePointToUtf8Offsets("a😀b");
 * // byteOffsets[0] = 0, [1] = 1, [2] = 5, [3] = 6
 */
export function codePointToUtf8Offsets(text: string): { byteOffsets: Int32Array; codePointCount: number } {
  // A string of n UTF-16 units has at most n code points.
  const byteOffsets = new Int32Array(text.length + 1);
  let codePoint = 0;
  let byte = 0;
  for (let unit = 0; unit < text.length; unit++) {
    byteOffsets[codePoint++] = byte;
    const c = text.charCodeAt(unit);
    if (c < 0x80) {
      byte += 1;
    } else if (c < 0x800) {
      byte += 2;
    } else if (
      c >= 0xd800 &&
      c <= 0xdbff &&
      unit + 1 < text.length &&
      isLowSurrogate(text.charCodeAt(unit + 1))
    ) {
      // A surrogate pair is one astral code point of 4 UTF-8 bytes.
      byte += 4;
      unit++;
    } else {
      // Other BMP characters, and lone surrogates, which UTF-8 encoders replace by U+FFFD (3 bytes).
      byte += 3;
    }
  }
  byteOffsets[codePoint] = byte;
  return { byteOffsets, codePointCount: codePoint };
}

/** Returns the UTF-8 byte length of `text`, counting a lone surrogate as U+FFFD (3 bytes). */
export function utf8ByteLength(text: string): number {
  return Buffer.byteLength(text, "utf8");
}

/**
 * Converts a UTF-16 code-unit offset of `text` to the UTF-8 byte offset of the
 * same position. An offset that falls between the two halves of a surrogate
 * pair is rejected, because no byte offset corresponds to it.
 *
 * @example
 * utf16ToUtf8Offset("😀x", 2); // 4
 */
export function utf16ToUtf8Offset(text: string, utf16Offset: number): number {
  if (!Number.isInteger(utf16Offset) || utf16Offset < 0 || utf16Offset > text.length) {
    throw new RangeError(`UTF-16 offset ${utf16Offset} is outside the text of ${text.length} code units`);
  }
  if (utf16Offset > 0 && utf16Offset < text.length && isLowSurrogate(text.charCodeAt(utf16Offset))) {
    if (isHighSurrogate(text.charCodeAt(utf16Offset - 1))) {
      throw new RangeError(`UTF-16 offset ${utf16Offset} falls inside a surrogate pair`);
    }
  }
  return utf8ByteLength(text.slice(0, utf16Offset));
}

/**
 * Converts a UTF-8 byte offset of `text` to the UTF-16 code-unit offset of
 * the same position. A byte offset inside a multi-byte character is rejected.
 *
 * @example
 * utf8ToUtf16Offset("😀x", 4); // 2
 */
export function utf8ToUtf16Offset(text: string, byteOffset: number): number {
  let byte = 0;
  let unit = 0;
  while (byte < byteOffset && unit < text.length) {
    const c = text.charCodeAt(unit);
    if (c < 0x80) {
      byte += 1;
      unit += 1;
    } else if (c < 0x800) {
      byte += 2;
      unit += 1;
    } else if (isHighSurrogate(c) && unit + 1 < text.length && isLowSurrogate(text.charCodeAt(unit + 1))) {
      byte += 4;
      unit += 2;
    } else {
      byte += 3;
      unit += 1;
    }
  }
  if (byte !== byteOffset) {
    throw new RangeError(
      byte < byteOffset
        ? `UTF-8 offset ${byteOffset} is past the end of the text (${byte} bytes)`
        : `UTF-8 offset ${byteOffset} falls inside a multi-byte character`,
    );
  }
  return unit;
}

/**
 * Returns the substring of `text` covered by the UTF-8 byte span
 * `[startByte, endByte)`. Both ends must fall on character boundaries; a span
 * that splits a character has no string form, so use the bytes instead.
 */
export function sliceUtf8Span(text: string, startByte: number, endByte: number): string {
  return text.slice(utf8ToUtf16Offset(text, startByte), utf8ToUtf16Offset(text, endByte));
}

function isHighSurrogate(c: number): boolean {
  return c >= 0xd800 && c <= 0xdbff;
}

function isLowSurrogate(c: number): boolean {
  return c >= 0xdc00 && c <= 0xdfff;
}
