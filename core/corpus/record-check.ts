import type { CorpusRecord, RejectReason } from "./types.ts";

/** The outcome of checking one record: a good record, or the reason to reject it. */
export type RecordCheck =
  | { readonly ok: true; readonly record: CorpusRecord }
  | { readonly ok: false; readonly reason: RejectReason; readonly message: string };

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/** An unpaired UTF-16 surrogate, which a JSON `\ud800` escape can produce and UTF-8 cannot encode. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function reject(reason: RejectReason, message: string): RecordCheck {
  return { ok: false, reason, message };
}

/** Decodes strict UTF-8, or returns undefined for invalid bytes. Never substitutes replacement characters. */
export function decodeUtf8(bytes: Uint8Array): string | undefined {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return undefined;
  }
}

/** Field values of one record as read from the file; `undefined` means the field is absent. */
export interface RecordFields {
  readonly text: unknown;
  readonly id: unknown;
}

/**
 * Checks a record's text and id fields. Text must be a non-blank string with
 * valid Unicode; bytes (from Parquet) are decoded as strict UTF-8. The id, when
 * an id field is configured, must be a non-empty string or an integer.
 */
export function checkRecordFields(
  fields: RecordFields,
  context: { recordNumber: number; source: string; textField: string; idField?: string },
): RecordCheck {
  const { textField, idField } = context;
  let text = fields.text;
  if (text instanceof Uint8Array) {
    text = decodeUtf8(text);
    if (text === undefined)
      return reject("invalid_utf8", `field ${JSON.stringify(textField)} is not valid UTF-8`);
  }
  if (text === undefined || text === null) {
    return reject("missing_text", `field ${JSON.stringify(textField)} is missing or null`);
  }
  if (typeof text !== "string") {
    return reject(
      "text_not_string",
      `field ${JSON.stringify(textField)} is a ${describeType(text)}, not a string`,
    );
  }
  if (text.trim().length === 0) {
    return reject("empty_text", `field ${JSON.stringify(textField)} is empty or only whitespace`);
  }
  if (LONE_SURROGATE.test(text)) {
    return reject(
      "invalid_utf8",
      `field ${JSON.stringify(textField)} contains an unpaired surrogate escape, which has no UTF-8 encoding`,
    );
  }

  let id = `${context.source}:${context.recordNumber}`;
  if (idField !== undefined) {
    let value = fields.id;
    if (value instanceof Uint8Array) value = decodeUtf8(value) ?? value;
    if (value === undefined || value === null) {
      return reject("missing_id", `id field ${JSON.stringify(idField)} is missing or null`);
    }
    if (typeof value === "string" && value.length > 0) {
      id = value;
    } else if ((typeof value === "number" && Number.isInteger(value)) || typeof value === "bigint") {
      id = String(value);
    } else {
      return reject(
        "invalid_id",
        `id field ${JSON.stringify(idField)} is ${describeType(value)}; expected a non-empty string or an integer`,
      );
    }
  }
  return { ok: true, record: { recordNumber: context.recordNumber, id, text } };
}

function describeType(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (value instanceof Uint8Array) return "byte string with invalid UTF-8";
  if (typeof value === "string") return value.length === 0 ? "empty string" : "string";
  return typeof value;
}

/** Parses one JSONL line into its fields, or the reason to reject it. */
export function parseJsonLine(
  bytes: Uint8Array,
  context: { recordNumber: number; source: string; textField: string; idField?: string },
): RecordCheck {
  const line = decodeUtf8(bytes);
  if (line === undefined)
    return reject("invalid_utf8", `line ${context.recordNumber + 1} is not valid UTF-8`);
  if (line.trim().length === 0) return reject("blank_line", `line ${context.recordNumber + 1} is blank`);
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return reject("invalid_json", `line ${context.recordNumber + 1} is not valid JSON: ${reason}`);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    return reject(
      "not_an_object",
      `line ${context.recordNumber + 1} is a JSON ${describeType(value)}, expected an object`,
    );
  }
  const object = value as Record<string, unknown>;
  return checkRecordFields(
    {
      text: Object.hasOwn(object, context.textField) ? object[context.textField] : undefined,
      id:
        context.idField !== undefined && Object.hasOwn(object, context.idField)
          ? object[context.idField]
          : undefined,
    },
    context,
  );
}
