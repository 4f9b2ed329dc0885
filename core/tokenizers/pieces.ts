import { byteLevelTokenToBytes } from "./byte-level.ts";
import type { TokenizerJson, TokenizerTraits } from "./tokenizer-json.ts";
import { modelVocabEntries } from "./tokenizer-json.ts";

/**
 * The bytes that each token id stands for in the tokenizer's normalized text,
 * stored flat: token `id` is `bytes[starts[id], starts[id + 1])`. Span repair
 * matches these bytes against the original document to find exact byte
 * spans, including for tokens that hold only part of a character.
 */
export interface TokenPieces {
  /** Concatenated piece bytes of all ids. */
  readonly bytes: Uint8Array;
  /** `idCount + 1` offsets into `bytes`. */
  readonly starts: Int32Array;
  /** 1 where the piece is known; 0 for unknown tokens, special tokens and unused ids. */
  readonly known: Uint8Array;
  /** 1 for ids of non-special added tokens, which end a stretch of text for the dummy prefix rule. */
  readonly added: Uint8Array;
  /** Number of ids covered (largest id + 1). */
  readonly idCount: number;
}

const BYTE_FALLBACK_TOKEN = /^<0x([0-9A-Fa-f]{2})>$/;

/**
 * Builds the piece table of a tokenizer. Byte-level entries decode through
 * the GPT-2 byte table, and `<0xNN>` byte-fallback entries are one byte.
 * Added tokens are their content. Other entries are their UTF-8 text without
 * any continuation prefix or end-of-word suffix. The space replacement (`▁`)
 * stays in the piece, because the matcher accepts it for a space.
 */
export function buildTokenPieces(json: TokenizerJson, traits: TokenizerTraits, source: string): TokenPieces {
  const vocab = modelVocabEntries(json, source);
  let idCount = 0;
  for (const [, id] of vocab) {
    idCount = Math.max(idCount, id + 1);
  }
  for (const token of json.added_tokens) {
    idCount = Math.max(idCount, token.id + 1);
  }

  const pieces: Array<Uint8Array | null> = new Array(idCount).fill(null);
  const added = new Uint8Array(idCount);
  const encoder = new TextEncoder();
  for (const [token, id] of vocab) {
    pieces[id] = vocabularyPiece(token, traits, encoder);
  }
  for (const token of json.added_tokens) {
    // Added tokens are matched on raw text, so their content is their text even in byte-level vocabularies.
    pieces[token.id] = token.special ? null : encoder.encode(token.content);
    added[token.id] = token.special ? 0 : 1;
  }

  let totalBytes = 0;
  for (const piece of pieces) {
    totalBytes += piece?.length ?? 0;
  }
  const bytes = new Uint8Array(totalBytes);
  const starts = new Int32Array(idCount + 1);
  const known = new Uint8Array(idCount);
  let offset = 0;
  for (let id = 0; id < idCount; id++) {
    starts[id] = offset;
    const piece = pieces[id];
    if (piece !== null) {
      bytes.set(piece, offset);
      offset += piece.length;
      known[id] = 1;
    }
  }
  starts[idCount] = offset;
  return { bytes, starts, known, added, idCount };
}

function vocabularyPiece(
  token: string,
  traits: TokenizerTraits,
  encoder: InstanceType<typeof TextEncoder>,
): Uint8Array | null {
  if (token === traits.unknownToken) {
    return null;
  }
  if (traits.byteFallback) {
    const match = BYTE_FALLBACK_TOKEN.exec(token);
    if (match !== null) {
      return Uint8Array.of(Number.parseInt(match[1], 16));
    }
  }
  if (traits.byteLevel) {
    return byteLevelTokenToBytes(token);
  }
  let text = token;
  if (traits.continuingSubwordPrefix !== null && text.startsWith(traits.continuingSubwordPrefix)) {
    text = text.slice(traits.continuingSubwordPrefix.length);
  }
  if (traits.endOfWordSuffix !== null && text.endsWith(traits.endOfWordSuffix)) {
    text = text.slice(0, text.length - traits.endOfWordSuffix.length);
  }
  return encoder.encode(text);
}
