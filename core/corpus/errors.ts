/** The ways a whole corpus file fails to read; bad records are rejected instead and never raise. */
export type CorpusErrorCode = "unknown_format" | "corrupt_input" | "invalid_option";

/** A corpus file that cannot be read at all, naming the URI and the fix. */
export class CorpusError extends Error {
  readonly code: CorpusErrorCode;
  readonly uri: string;

  constructor(code: CorpusErrorCode, uri: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "CorpusError";
    this.code = code;
    this.uri = uri;
  }
}
