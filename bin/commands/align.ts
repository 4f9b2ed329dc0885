import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { createWriteStream, type WriteStream } from "node:fs";
import { rename, rm } from "node:fs/promises";
import type { Command } from "commander";
import { alignTokens } from "../../core/alignment/index.ts";
import { type CorpusRecord, type RejectedRecord, readCorpus } from "../../core/corpus/index.ts";
import { logger } from "../../core/log.ts";
import {
  addBosEos,
  type EncodedDocument,
  type LoadedTokenizer,
  loadTokenizer,
} from "../../core/tokenizers/index.ts";

/** Options of `vocagno align`, as commander parses them. */
export interface AlignCommandOptions {
  readonly student: string;
  readonly teacher: string;
  readonly text?: string;
  readonly input?: string;
  readonly output: string;
  readonly view?: boolean;
  readonly specialTokens?: boolean;
  readonly textField: string;
  readonly idField?: string;
}

/** One side of an aligned document in the JSONL output. */
interface SideJson {
  ids: number[];
  tokens: Array<string | null>;
  spans: Array<[number, number]>;
  special: boolean[];
}

/** Documents tokenized per batch call; large enough for the library's threads, small enough to stream. */
const DOCUMENTS_PER_BATCH = 64;

const TOKENIZER_HELP =
  "a known name (tinyllama, qwen, llama3, gemma3, mistral), a tokenizer.json path, a directory holding one, or an s3:// URI";

/** Adds `vocagno align`. */
export function registerAlignCommand(program: Command): void {
  program
    .command("align")
    .description(
      "Tokenize documents with a student and a teacher tokenizer and write the token alignment, one JSON line per document",
    )
    .requiredOption("--student <tokenizer>", `student tokenizer: ${TOKENIZER_HELP}`)
    .requiredOption("--teacher <tokenizer>", `teacher tokenizer: ${TOKENIZER_HELP}`)
    .option("--text <string>", "one document given on the command line")
    .option("--input <file>", "corpus file: JSONL (plain, .gz or .zst) or Parquet, local, file:// or s3://")
    .option("--output <file>", "where to write; - for standard output", "-")
    .option(
      "--view",
      "write a table for reading (student token, its text, its teacher tokens) instead of JSONL",
    )
    .option(
      "--special-tokens",
      "add BOS and EOS (where the tokenizer has them) with empty spans; off by default",
    )
    .option("--text-field <name>", "field of each input record that holds the text", "text")
    .option(
      "--id-field <name>",
      "field of each input record that holds the id (default: <file name>:<line number>)",
    )
    .action(async (options: AlignCommandOptions) => {
      await runAlign(options);
    });
}

/**
 * Runs `vocagno align`: loads both tokenizers, aligns every document and
 * writes JSONL or the readable view. A file output appears only when
 * complete (written to a temporary name, then renamed).
 *
 * @example
 * await runAlign({ student: "tinyllama", teacher: "qwen", text: "x² + 1", output: "-", textField: "text" });
 */
export async function runAlign(options: AlignCommandOptions): Promise<void> {
  if ((options.text === undefined) === (options.input === undefined)) {
    throw new Error("give exactly one of --text STRING or --input FILE");
  }
  const [student, teacher] = await Promise.all([
    loadTokenizer(options.student),
    loadTokenizer(options.teacher),
  ]);
  const sink = await openOutput(options.output);
  try {
    const records = options.text === undefined ? readInput(options) : single(options.text);
    let batch: CorpusRecord[] = [];
    for await (const record of records) {
      batch.push(record);
      if (batch.length === DOCUMENTS_PER_BATCH) {
        await writeBatch(batch, student, teacher, options, sink);
        batch = [];
      }
    }
    await writeBatch(batch, student, teacher, options, sink);
    await sink.commit();
  } catch (error) {
    await sink.abort();
    throw error;
  }
}

async function* single(text: string): AsyncGenerator<CorpusRecord> {
  yield { recordNumber: 0, id: "text", text };
}

async function* readInput(options: AlignCommandOptions): AsyncGenerator<CorpusRecord> {
  const input = options.input!;
  const rejects = {
    async add(reject: RejectedRecord): Promise<void> {
      logger.warn({ ...reject }, "input record rejected");
    },
  };
  const reader = readCorpus(input, { rejects, textField: options.textField, idField: options.idField });
  try {
    yield* reader;
  } catch (error) {
    throw new Error(`cannot read input ${input}: ${(error as Error).message}`, { cause: error });
  }
  logger.info({ input, documents: reader.counts.good, rejected: reader.counts.rejected }, "input read");
  if (reader.counts.good === 0 && reader.counts.rejected > 0) {
    throw new Error(
      `no document in ${input} could be read: all ${reader.counts.rejected} records were rejected (reasons logged above); check --text-field and --id-field`,
    );
  }
}

async function writeBatch(
  records: CorpusRecord[],
  student: LoadedTokenizer,
  teacher: LoadedTokenizer,
  options: AlignCommandOptions,
  sink: OutputSink,
): Promise<void> {
  if (records.length === 0) {
    return;
  }
  const texts = records.map((record) => record.text);
  const [studentDocs, teacherDocs] = await Promise.all([
    student.encodeBatch(texts),
    teacher.encodeBatch(texts),
  ]);
  for (let index = 0; index < records.length; index++) {
    let studentDoc = studentDocs[index];
    let teacherDoc = teacherDocs[index];
    if (options.specialTokens === true) {
      studentDoc = addBosEos(studentDoc, student.identity);
      teacherDoc = addBosEos(teacherDoc, teacher.identity);
    }
    const { teacherStart, teacherEnd } = alignTokens(studentDoc.spans, teacherDoc.spans);
    const alignment = Array.from(teacherStart, (start, i): [number, number] | null =>
      start === teacherEnd[i] ? null : [start, teacherEnd[i]],
    );
    const record = records[index];
    const line = {
      id: record.id,
      text: record.text,
      student: sideJson(studentDoc, student),
      teacher: sideJson(teacherDoc, teacher),
      alignment,
    };
    await sink.write(options.view === true ? formatView(line, options) : `${JSON.stringify(line)}\n`);
  }
}

function sideJson(doc: EncodedDocument, tokenizer: LoadedTokenizer): SideJson {
  const ids = Array.from(doc.ids);
  const spans: Array<[number, number]> = [];
  for (let k = 0; k < ids.length; k++) {
    spans.push([doc.spans[2 * k], doc.spans[2 * k + 1]]);
  }
  return {
    ids,
    tokens: ids.map((id) => tokenizer.tokenString(id)),
    spans,
    special: Array.from(doc.special, (flag) => flag === 1),
  };
}

/** Formats one document as a table: student token, the text of its span, the teacher tokens it maps to. */
function formatView(
  line: {
    id: string;
    text: string;
    student: SideJson;
    teacher: SideJson;
    alignment: Array<[number, number] | null>;
  },
  options: AlignCommandOptions,
): string {
  const bytes = Buffer.from(line.text, "utf8");
  const unmapped = line.alignment.filter((range) => range === null).length;
  const rows = [
    `document ${line.id}: ${line.student.ids.length} student tokens (${options.student}), ` +
      `${line.teacher.ids.length} teacher tokens (${options.teacher}), ${unmapped} unmapped`,
    `${"#".padStart(6)}  ${"student token".padEnd(18)} ${"text".padEnd(18)} teacher tokens`,
  ];
  line.student.ids.forEach((_, i) => {
    const [start, end] = line.student.spans[i];
    const range = line.alignment[i];
    const teacherText =
      range === null
        ? "(unmapped)"
        : `[${range[0]}, ${range[1]}) ${line.teacher.tokens.slice(range[0], range[1]).map(showToken).join(" ")}`;
    const marker = line.student.special[i] ? " (special)" : "";
    rows.push(
      `${String(i).padStart(6)}  ${(showToken(line.student.tokens[i]) + marker).padEnd(18)} ${showBytes(bytes.subarray(start, end)).padEnd(18)} ${teacherText}`,
    );
  });
  return `${rows.join("\n")}\n\n`;
}

function showToken(token: string | null): string {
  return token === null ? "(unknown id)" : JSON.stringify(token);
}

/** Shows span bytes as a JSON string, or as `\xNN` escapes when they are part of a character. */
function showBytes(bytes: Uint8Array): string {
  try {
    return JSON.stringify(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    return `"${Array.from(bytes, (byte) => `\\x${byte.toString(16).toUpperCase().padStart(2, "0")}`).join("")}"`;
  }
}

/** The output destination. A file is written under a temporary name and renamed on commit. */
interface OutputSink {
  write(text: string): Promise<void>;
  commit(): Promise<void>;
  abort(): Promise<void>;
}

async function openOutput(output: string): Promise<OutputSink> {
  if (output === "-") {
    return {
      write: (text) => writeTo(process.stdout, text),
      commit: async () => {},
      abort: async () => {},
    };
  }
  const temporaryPath = `${output}.${randomUUID()}.tmp`;
  const stream = createWriteStream(temporaryPath);
  await Promise.race([
    once(stream, "open"),
    once(stream, "error").then(([error]) => {
      throw new Error(`cannot write output ${output}: ${(error as Error).message}`, { cause: error });
    }),
  ]);
  const close = async () => {
    stream.end();
    await once(stream, "close");
  };
  return {
    write: (text) => writeTo(stream, text),
    commit: async () => {
      await close();
      await rename(temporaryPath, output);
    },
    abort: async () => {
      await close();
      await rm(temporaryPath, { force: true });
    },
  };
}

async function writeTo(stream: NodeJS.WritableStream | WriteStream, text: string): Promise<void> {
  if (!stream.write(text)) {
    await once(stream, "drain");
  }
}
