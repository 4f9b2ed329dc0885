function utf8Size(codePoint: number): number {
  if (codePoint < 0x80) return 1;
  if (codePoint < 0x800) return 2;
  return codePoint < 0x10000 ? 3 : 4;
}

/**
 * Splits a text into pieces of at most `maxBytes` UTF-8 bytes (`maxBytes` of
 * 4 or more): at the last line break before the limit, else the last
 * whitespace, else the last character boundary. The pieces concatenate to
 * the original text exactly.
 *
 * @example
 * splitLongText("a\nb\nc", 4); // ["a\nb\n", "c"]
 */
export function splitLongText(text: string, maxBytes: number): string[] {
  if (Buffer.byteLength(text, "utf8") <= maxBytes) return [text];
  const pieces: string[] = [];
  let start = 0;
  while (Buffer.byteLength(text.slice(start, start + maxBytes + 1), "utf8") > maxBytes) {
    // Longest prefix within the byte limit, in UTF-16 units, never ending inside a surrogate pair.
    let bytes = 0;
    let end = start;
    while (end < text.length) {
      const codePoint = text.codePointAt(end)!;
      const size = utf8Size(codePoint);
      if (bytes + size > maxBytes) break;
      bytes += size;
      end += codePoint > 0xffff ? 2 : 1;
    }
    const window = text.slice(start, end);
    const lineBreak = window.lastIndexOf("\n");
    const space = window.search(/\s\S*$/);
    let cut = window.length;
    if (lineBreak > 0) cut = lineBreak + 1;
    else if (space > 0) cut = space + 1;
    pieces.push(window.slice(0, cut));
    start += cut;
  }
  if (start < text.length) pieces.push(text.slice(start));
  return pieces;
}
