/**
 * The byte-to-character table of byte-level BPE (GPT-2, Qwen, Llama-3): every
 * byte value is written as one printable character, so a vocabulary entry such
 * as `Ġthe` stands for the bytes ` the`. Printable Latin-1 bytes map to
 * themselves; the 68 others map to U+0100 onward in byte order, as in GPT-2's
 * `bytes_to_unicode`.
 */
const byteToCharCode = buildByteToCharCode();

/** Character code to byte value, -1 for a character outside the table. */
const charCodeToByte = buildCharCodeToByte();

/** Returns the character that stands for `byte` in byte-level vocabularies. */
export function byteLevelChar(byte: number): string {
  return String.fromCharCode(byteToCharCode[byte]);
}

/**
 * Decodes a byte-level vocabulary entry into the bytes it stands for, or
 * returns null when a character is outside the table (the entry is then not
 * a byte-level piece, for example an added token).
 *
 * @example
 * byteLevelTokenToBytes("Ġhi"); // Uint8Array [0x20, 0x68, 0x69]
 */
export function byteLevelTokenToBytes(token: string): Uint8Array | null {
  const bytes = new Uint8Array(token.length);
  for (let i = 0; i < token.length; i++) {
    const code = token.charCodeAt(i);
    const byte = code < charCodeToByte.length ? charCodeToByte[code] : -1;
    if (byte < 0) {
      return null;
    }
    bytes[i] = byte;
  }
  return bytes;
}

function buildByteToCharCode(): Int32Array {
  const table = new Int32Array(256);
  let next = 256;
  for (let byte = 0; byte < 256; byte++) {
    const printable =
      (byte >= 0x21 && byte <= 0x7e) || (byte >= 0xa1 && byte <= 0xac) || (byte >= 0xae && byte <= 0xff);
    table[byte] = printable ? byte : next++;
  }
  return table;
}

function buildCharCodeToByte(): Int32Array {
  const table = new Int32Array(256 + 68).fill(-1);
  for (let byte = 0; byte < 256; byte++) {
    table[byteToCharCode[byte]] = byte;
  }
  return table;
}
