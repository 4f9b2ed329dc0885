/**
 * One tokenized, aligned document of a shard. Spans are UTF-8 byte offsets
 * into the document text, flattened `[start, end)` pairs. Student token `i`
 * maps to teacher tokens `[teacherStart[i], teacherEnd[i])`. It is unmapped
 * exactly when `teacherStart[i] === teacherEnd[i]`. Unmapped tokens are
 * stored as a null pair and read back as `0, 0`.
 */
export interface ShardDocument {
  /** Document id from the corpus, or `<source>:<record number>`. */
  readonly id: string;
  /** Length of the document text in UTF-8 bytes. */
  readonly byteLength: number;
  /** Student token ids, `n` of them. */
  readonly studentIds: Int32Array;
  /** `2n` byte offsets, `[start, end)` per student token. */
  readonly studentSpans: Int32Array;
  /** Teacher token ids, `m` of them. */
  readonly teacherIds: Int32Array;
  /** `2m` byte offsets, `[start, end)` per teacher token. */
  readonly teacherSpans: Int32Array;
  /** First teacher token index of each student token, `n` of them. */
  readonly teacherStart: Int32Array;
  /** Teacher token index past the last one of each student token, `n` of them. */
  readonly teacherEnd: Int32Array;
}

/** JSON object stored as one schema metadata entry (tokenizer identity, statistics). */
export type JsonObject = { readonly [key: string]: unknown };

/** Shard-wide metadata, stored in the schema metadata. */
export interface ShardMeta {
  /** Work item id from the run manifest. */
  readonly item: string;
  /** Tokenizer identity of the student (sha256, model type, vocabulary size, BOS/EOS ids). */
  readonly studentIdentity: JsonObject;
  /** Tokenizer identity of the teacher. */
  readonly teacherIdentity: JsonObject;
  /** Alignment statistics of the whole shard. */
  readonly stats: JsonObject;
}

function checkSpans(spans: Int32Array, byteLength: number, name: string): string | undefined {
  for (let k = 0; k < spans.length; k += 2) {
    const start = spans[k];
    const end = spans[k + 1];
    if (start < 0 || end < start || end > byteLength) {
      return `${name} token ${k / 2} has span [${start}, ${end}) outside [0, ${byteLength}] or reversed`;
    }
  }
  return undefined;
}

/**
 * Checks the internal consistency of a document: list lengths (2n spans, n
 * alignment pairs), spans inside the text, and alignment ranges inside the
 * teacher tokens. Returns the first problem found, or undefined.
 */
export function findDocumentProblem(document: ShardDocument): string | undefined {
  if (typeof document.id !== "string") return "id is not a string";
  if (!Number.isInteger(document.byteLength) || document.byteLength < 0) {
    return `byteLength ${document.byteLength} is not a non-negative integer`;
  }
  const n = document.studentIds.length;
  const m = document.teacherIds.length;
  if (document.studentSpans.length !== 2 * n) {
    return `student_spans has ${document.studentSpans.length} values for ${n} student tokens, expected ${2 * n}`;
  }
  if (document.teacherSpans.length !== 2 * m) {
    return `teacher_spans has ${document.teacherSpans.length} values for ${m} teacher tokens, expected ${2 * m}`;
  }
  if (document.teacherStart.length !== n || document.teacherEnd.length !== n) {
    return `alignment has ${document.teacherStart.length} starts and ${document.teacherEnd.length} ends for ${n} student tokens`;
  }
  const spanProblem =
    checkSpans(document.studentSpans, document.byteLength, "student") ??
    checkSpans(document.teacherSpans, document.byteLength, "teacher");
  if (spanProblem !== undefined) return spanProblem;
  for (let i = 0; i < n; i++) {
    const start = document.teacherStart[i];
    const end = document.teacherEnd[i];
    if (start === end) continue;
    if (start < 0 || end < start || end > m) {
      return `student token ${i} maps to teacher range [${start}, ${end}) outside [0, ${m}] or reversed`;
    }
  }
  return undefined;
}
