/**
 * The ways loading or using a tokenizer fails; `code` is stable for callers to branch on.
 *
 * - `not_found`: no tokenizer file at the given path or URI.
 * - `invalid_tokenizer`: the file is not a usable Hugging Face `tokenizer.json`.
 * - `invalid_option`: a load option (BOS/EOS override) does not fit the vocabulary.
 * - `invalid_text`: a document cannot be encoded (for example a lone UTF-16 surrogate).
 * - `build_failed`: the TinyLlama tokenizer could not be built from `llama-tokenizer-js`.
 */
export type TokenizerErrorCode =
  | "not_found"
  | "invalid_tokenizer"
  | "invalid_option"
  | "invalid_text"
  | "build_failed";

/**
 * A failed tokenizer operation, naming the tokenizer source (path, URI or
 * known name) involved.
 *
 * @example
 * try { await loadTokenizer(path) } catch (error) {
 *   if (error instanceof TokenizerError && error.code === "not_found") usage();
 * }
 */
export class TokenizerError extends Error {
  readonly code: TokenizerErrorCode;
  readonly source: string;

  constructor(code: TokenizerErrorCode, source: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "TokenizerError";
    this.code = code;
    this.source = source;
  }
}
