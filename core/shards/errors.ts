/** The ways a shard or teacher-score file can be invalid; `code` is stable for callers to branch on. */
export type ShardErrorCode =
  | "not_arrow_file"
  | "truncated"
  | "invalid_arrow"
  | "wrong_format"
  | "unsupported_version"
  | "invalid_metadata"
  | "missing_column"
  | "wrong_column_type"
  | "invalid_document";

/**
 * An invalid shard or teacher-score file, or a document that cannot be
 * written to one. `uri` names the file and `message` states what is wrong.
 *
 * @example
 * try { await readShard(uri) } catch (error) {
 *   if (error instanceof ShardFormatError) logger.error({ uri: error.uri, code: error.code }, error.message);
 * }
 */
export class ShardFormatError extends Error {
  readonly code: ShardErrorCode;
  readonly uri: string;

  constructor(code: ShardErrorCode, uri: string, detail: string, options?: { cause?: unknown }) {
    super(`invalid ${uri}: ${detail}`, options);
    this.name = "ShardFormatError";
    this.code = code;
    this.uri = uri;
  }
}
