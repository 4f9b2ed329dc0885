/** One line of a byte stream, without its `\n` or `\r\n` terminator. */
export type Line =
  | { readonly kind: "line"; readonly bytes: Uint8Array }
  /** A line longer than the limit: only its first bytes and its length are kept. */
  | { readonly kind: "too_large"; readonly head: Uint8Array; readonly byteLength: number }
  /** A line before the requested start: counted for numbering, never copied. */
  | { readonly kind: "skipped" };

const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;

function joinChunks(chunks: readonly Uint8Array[]): Uint8Array {
  if (chunks.length === 1) return chunks[0];
  const length = chunks.reduce((sum, chunk) => sum + chunk.length, 0);
  const out = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}

function stripCarriageReturn(line: Uint8Array): Uint8Array {
  return line.length > 0 && line[line.length - 1] === CARRIAGE_RETURN
    ? line.subarray(0, line.length - 1)
    : line;
}

/**
 * Splits a byte stream into lines. A last line without a newline is still a
 * line; an empty piece after the final newline is not. Lines numbered below
 * `skipLines` come out as `skipped` without being copied, and a line longer
 * than `maxLineBytes` comes out as `too_large` with only its first
 * `headBytes` bytes, so one huge line cannot exhaust memory.
 */
export async function* splitLines(
  chunks: AsyncIterable<Uint8Array>,
  options: { maxLineBytes: number; headBytes: number; skipLines?: number },
): AsyncGenerator<Line> {
  const skipLines = options.skipLines ?? 0;
  let lineNumber = 0;
  // The current line so far: its chunks (unless skipped or oversized), its length, and its head once oversized.
  let pending: Uint8Array[] = [];
  let pendingBytes = 0;
  let oversizedHead: Uint8Array | undefined;

  const finishLine = (tail: Uint8Array): Line => {
    const skipped = lineNumber < skipLines;
    const byteLength = pendingBytes + tail.length;
    let line: Line;
    if (skipped) {
      line = { kind: "skipped" };
    } else if (oversizedHead !== undefined) {
      line = { kind: "too_large", head: oversizedHead, byteLength };
    } else if (byteLength > options.maxLineBytes) {
      line = {
        kind: "too_large",
        head: joinChunks([...pending, tail]).slice(0, options.headBytes),
        byteLength,
      };
    } else {
      line = { kind: "line", bytes: stripCarriageReturn(joinChunks([...pending, tail])) };
    }
    lineNumber += 1;
    pending = [];
    pendingBytes = 0;
    oversizedHead = undefined;
    return line;
  };

  for await (const chunk of chunks) {
    let start = 0;
    while (start < chunk.length) {
      const newline = chunk.indexOf(NEWLINE, start);
      if (newline !== -1) {
        yield finishLine(chunk.subarray(start, newline));
        start = newline + 1;
        continue;
      }
      const rest = chunk.subarray(start);
      pendingBytes += rest.length;
      if (lineNumber >= skipLines && oversizedHead === undefined) {
        // Copy: a stream may reuse its chunk buffers.
        pending.push(rest.slice());
        if (pendingBytes > options.maxLineBytes) {
          oversizedHead = joinChunks(pending).slice(0, options.headBytes);
          pending = [];
        }
      }
      break;
    }
  }
  if (pendingBytes > 0) yield finishLine(new Uint8Array(0));
}
