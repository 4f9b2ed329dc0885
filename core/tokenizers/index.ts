export { TokenizerError, type TokenizerErrorCode } from "./errors.ts";
export type { SpecialIdOverrides, TokenizerIdentity } from "./identity.ts";
export {
  isKnownTokenizerName,
  KNOWN_TOKENIZER_NAMES,
  KNOWN_TOKENIZERS,
  type KnownTokenizer,
  type KnownTokenizerName,
  resolveTokenizerSource,
} from "./known.ts";
export {
  codePointToUtf8Offsets,
  sliceUtf8Span,
  utf8ByteLength,
  utf8ToUtf16Offset,
  utf16ToUtf8Offset,
} from "./offsets.ts";
export { buildTinyLlamaTokenizer, ensureTinyLlamaTokenizer, TINYLLAMA_TOKENIZER_PATH } from "./tinyllama.ts";
export {
  addBosEos,
  type EncodedDocument,
  LoadedTokenizer,
  type LoadTokenizerOptions,
  loadTokenizer,
} from "./tokenizer.ts";
export type { TokenizerTraits } from "./tokenizer-json.ts";
export {
  OVERLAP_DEFINITIONS,
  type OverlapCounts,
  type VocabularyOverlap,
  vocabularyOverlap,
} from "./vocabulary-overlap.ts";
