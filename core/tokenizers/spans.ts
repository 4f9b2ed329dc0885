import type { TokenPieces } from "./pieces.ts";
import type { TokenizerTraits } from "./tokenizer-json.ts";

/** The encoded document that span repair reads. */
export interface SpanRepairInput {
  /** The original document text as UTF-8. */
  readonly textBytes: Uint8Array;
  /** Token ids, in order. */
  readonly ids: Int32Array;
  /**
   * The library's spans converted to UTF-8 bytes, flattened `[start, end)`
   * pairs. They are exact only to the character, and a normalizer can make
   * them skip bytes (NFC reports a composed letter without its combining mark).
   */
  readonly coarseSpans: Int32Array;
  /** 1 where the token is special (it covers no text). */
  readonly special: Uint8Array;
}

/** The tokenizer's piece bytes and text conventions, which span repair reads token ids with. */
export interface SpanRepairModel {
  readonly pieces: TokenPieces;
  readonly traits: TokenizerTraits;
}

const SPACE = 0x20;

/**
 * Computes exact UTF-8 byte spans of the original text for every token,
 * flattened `[start0, end0, start1, end1, ...]` with ends exclusive.
 *
 * The result partitions the text: the spans of content (non-special) tokens
 * are in order, touch without gaps or overlaps, start at byte 0 and end at
 * the byte length, so every byte belongs to exactly one content token. A
 * token's span is found by matching its piece bytes against the text at the
 * current position (`▁` matching a space where the tokenizer replaces
 * spaces), which splits a character among the byte pieces that encode it.
 * Where a normalizer changed the bytes and no match is possible, the
 * library's character spans decide and any bytes they skip join the
 * neighbouring token. A token gets an empty span only when it covers no text:
 * special tokens, and a dummy-prefix `▁` that is a token by itself.
 *
 * @example
 * const spans = repairSpans({ textBytes, ids, coarseSpans, special }, { pieces, traits });
 */
export function repairSpans(input: SpanRepairInput, model: SpanRepairModel): Int32Array {
  const { textBytes, ids, coarseSpans, special } = input;
  const { pieces, traits } = model;
  const tokenCount = ids.length;
  const byteLength = textBytes.length;
  const spans = new Int32Array(2 * tokenCount);
  const replacement =
    traits.spaceReplacement === null ? null : new TextEncoder().encode(traits.spaceReplacement);
  const matcher = new PieceMatcher(textBytes, pieces, replacement);

  let cursor = 0;
  let segmentStart = true;
  let lastNonEmpty = -1;
  let k = 0;
  while (k < tokenCount) {
    if (special[k] === 1) {
      spans[2 * k] = cursor;
      spans[2 * k + 1] = cursor;
      segmentStart = true;
      k++;
      continue;
    }
    const id = ids[k];
    const next = nextContentToken(special, k + 1);
    const nextStart = next < 0 ? byteLength : coarseSpans[2 * next];
    const dummyExpected =
      segmentStart && expectsDummyPrefix(traits.dummyPrefix, textBytes, cursor, replacement);

    let end = matchToken(matcher, id, cursor, coarseSpans[2 * k], dummyExpected);
    if (end >= 0 && end > Math.max(coarseSpans[2 * k + 1], cursor)) {
      // The bytes match but reach past the library's span, so the position drifted: trust the library.
      end = -1;
    }
    if (end >= 0) {
      if (end > cursor && nextStart > end) {
        // The library starts the next token later: the skipped bytes (a combining mark
        // absorbed by normalization) belong to this token.
        end = nextStart;
      }
      spans[2 * k] = cursor;
      spans[2 * k + 1] = end;
      if (end > cursor) {
        lastNonEmpty = k;
      }
      cursor = end;
      segmentStart = pieces.added[id] === 1;
      k++;
      continue;
    }

    // No exact match: share the bytes of the characters these tokens cover among them.
    let last = k;
    while (
      last + 1 < tokenCount &&
      special[last + 1] === 0 &&
      coarseSpans[2 * (last + 1)] < coarseSpans[2 * last + 1]
    ) {
      last++;
    }
    const after = nextContentToken(special, last + 1);
    const regionEnd = after < 0 ? byteLength : Math.max(cursor, coarseSpans[2 * after]);
    distributeRegion(spans, ids, pieces, k, last, cursor, regionEnd);
    for (let t = k; t <= last; t++) {
      if (spans[2 * t + 1] > spans[2 * t]) {
        lastNonEmpty = t;
      }
    }
    cursor = regionEnd;
    segmentStart = pieces.added[ids[last]] === 1;
    k = last + 1;
  }

  if (cursor < byteLength) {
    coverTail(spans, special, lastNonEmpty, byteLength);
  }
  return spans;
}

/** Returns the index of the first non-special token at or after `from`, or -1. */
function nextContentToken(special: Uint8Array, from: number): number {
  for (let t = from; t < special.length; t++) {
    if (special[t] === 0) {
      return t;
    }
  }
  return -1;
}

/**
 * Tells whether the token at `cursor` starts a stretch where the tokenizer
 * inserted a dummy `▁`. Metaspace adds it only when the stretch does not
 * already start with a space.
 */
function expectsDummyPrefix(
  dummyPrefix: TokenizerTraits["dummyPrefix"],
  textBytes: Uint8Array,
  cursor: number,
  replacement: Uint8Array | null,
): boolean {
  if (dummyPrefix === null) {
    return false;
  }
  if (dummyPrefix === "segment") {
    return true;
  }
  if (dummyPrefix === "first" && cursor !== 0) {
    return false;
  }
  const startsWithSpace =
    textBytes[cursor] === SPACE || (replacement !== null && startsWithBytes(textBytes, cursor, replacement));
  return !startsWithSpace;
}

/**
 * Finds where token `id` ends when it starts at `cursor`, or returns -1. When
 * the library places the token after a gap, the match is tried there too and
 * the gap joins the token.
 */
function matchToken(
  matcher: PieceMatcher,
  id: number,
  cursor: number,
  coarseStart: number,
  dummyExpected: boolean,
): number {
  if (id < 0 || id >= matcher.pieces.idCount || matcher.pieces.known[id] === 0) {
    return -1;
  }
  const end = matcher.match(id, cursor, dummyExpected);
  if (end >= 0 || coarseStart <= cursor) {
    return end;
  }
  return matcher.match(id, coarseStart, dummyExpected);
}

/** Compares piece bytes with the text, treating the space replacement as a space. */
class PieceMatcher {
  readonly pieces: TokenPieces;
  private readonly text: Uint8Array;
  private readonly replacement: Uint8Array | null;

  constructor(text: Uint8Array, pieces: TokenPieces, replacement: Uint8Array | null) {
    this.text = text;
    this.pieces = pieces;
    this.replacement = replacement;
  }

  /**
   * Returns the text position after token `id` placed at `at`, or -1 when its
   * bytes differ. With `dummyExpected`, a leading space replacement is first
   * read as the dummy prefix, which covers no text.
   */
  match(id: number, at: number, dummyExpected: boolean): number {
    const pieceStart = this.pieces.starts[id];
    const pieceEnd = this.pieces.starts[id + 1];
    const replacement = this.replacement;
    if (
      dummyExpected &&
      replacement !== null &&
      startsWithBytes(this.pieces.bytes, pieceStart, replacement, pieceEnd)
    ) {
      const end = this.matchRange(pieceStart + replacement.length, pieceEnd, at);
      if (end >= 0) {
        return end;
      }
    }
    return this.matchRange(pieceStart, pieceEnd, at);
  }

  private matchRange(pieceStart: number, pieceEnd: number, at: number): number {
    const bytes = this.pieces.bytes;
    const text = this.text;
    const replacement = this.replacement;
    let p = pieceStart;
    let t = at;
    while (p < pieceEnd) {
      if (t >= text.length) {
        return -1;
      }
      if (bytes[p] === text[t]) {
        p++;
        t++;
        continue;
      }
      if (replacement !== null && text[t] === SPACE && startsWithBytes(bytes, p, replacement, pieceEnd)) {
        p += replacement.length;
        t++;
        continue;
      }
      return -1;
    }
    return t;
  }
}

function startsWithBytes(
  haystack: Uint8Array,
  at: number,
  needle: Uint8Array,
  limit = haystack.length,
): boolean {
  if (at + needle.length > limit) {
    return false;
  }
  for (let i = 0; i < needle.length; i++) {
    if (haystack[at + i] !== needle[i]) {
      return false;
    }
  }
  return true;
}

/**
 * Splits the bytes `[regionStart, regionEnd)` among tokens `first..last` in
 * proportion to their piece lengths, giving each at least one byte while the
 * region has enough.
 */
function distributeRegion(
  spans: Int32Array,
  ids: Int32Array,
  pieces: TokenPieces,
  first: number,
  last: number,
  regionStart: number,
  regionEnd: number,
): void {
  const count = last - first + 1;
  const size = regionEnd - regionStart;
  let totalWeight = 0;
  for (let t = first; t <= last; t++) {
    totalWeight += pieceWeight(ids[t], pieces);
  }
  let cumulativeWeight = 0;
  let previousEnd = regionStart;
  for (let t = first; t <= last; t++) {
    cumulativeWeight += pieceWeight(ids[t], pieces);
    let end = regionStart + Math.round((size * cumulativeWeight) / totalWeight);
    if (size >= count) {
      // Room for one byte each: keep one byte for this token and one for each token after it.
      end = Math.max(end, previousEnd + 1);
      end = Math.min(end, regionEnd - (last - t));
    }
    end = Math.min(Math.max(end, previousEnd), regionEnd);
    if (t === last) {
      end = regionEnd;
    }
    spans[2 * t] = previousEnd;
    spans[2 * t + 1] = end;
    previousEnd = end;
  }
}

function pieceWeight(id: number, pieces: TokenPieces): number {
  if (id < 0 || id >= pieces.idCount || pieces.known[id] === 0) {
    return 1;
  }
  return Math.max(1, pieces.starts[id + 1] - pieces.starts[id]);
}

/**
 * Gives bytes left after the last token's span (trailing text a normalizer
 * dropped) to the last content token that covers text, and moves the empty
 * spans after it to the end of the text so that spans stay in order.
 */
function coverTail(spans: Int32Array, special: Uint8Array, lastNonEmpty: number, byteLength: number): void {
  let owner = lastNonEmpty;
  if (owner < 0) {
    // No token covers any text yet: the last content token takes all of it.
    for (let t = special.length - 1; t >= 0; t--) {
      if (special[t] === 0) {
        owner = t;
        break;
      }
    }
    if (owner < 0) {
      return;
    }
  }
  spans[2 * owner + 1] = byteLength;
  for (let t = owner + 1; t < special.length; t++) {
    spans[2 * t] = byteLength;
    spans[2 * t + 1] = byteLength;
  }
}
