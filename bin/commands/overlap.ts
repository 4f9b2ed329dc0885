import type { Command } from "commander";
import { loadTokenizer } from "../../core/tokenizers/index.ts";
import {
  OVERLAP_DEFINITIONS,
  type OverlapCounts,
  vocabularyOverlap,
} from "../../core/tokenizers/vocabulary-overlap.ts";

/** Options of `vocagno overlap`, as commander parses them. */
export interface OverlapCommandOptions {
  readonly student: string;
  readonly teacher: string;
  readonly json?: boolean;
}

const TOKENIZER_HELP =
  "a known name (tinyllama, qwen, llama3, gemma3, mistral), a tokenizer.json path, a directory holding one, or an s3:// URI";

/** Adds `vocagno overlap`. */
export function registerOverlapCommand(program: Command): void {
  program
    .command("overlap")
    .description("Measure how many vocabulary entries a student and a teacher tokenizer share")
    .requiredOption("--student <tokenizer>", `student tokenizer: ${TOKENIZER_HELP}`)
    .requiredOption("--teacher <tokenizer>", `teacher tokenizer: ${TOKENIZER_HELP}`)
    .option("--json", "write one JSON object instead of text")
    .action(async (options: OverlapCommandOptions) => {
      process.stdout.write(await runOverlap(options));
    });
}

/**
 * Computes the overlap report of `vocagno overlap` as the text it prints.
 *
 * @example
 * process.stdout.write(await runOverlap({ student: "tinyllama", teacher: "qwen", json: true }));
 */
export async function runOverlap(options: OverlapCommandOptions): Promise<string> {
  const [student, teacher] = await Promise.all([
    loadTokenizer(options.student),
    loadTokenizer(options.teacher),
  ]);
  const overlap = vocabularyOverlap(student, teacher);
  if (options.json === true) {
    const report = {
      student: { source: options.student, ...student.identity },
      teacher: { source: options.teacher, ...teacher.identity },
      definitions: OVERLAP_DEFINITIONS,
      raw: overlap.raw,
      text: overlap.text,
    };
    return `${JSON.stringify(report, null, 2)}\n`;
  }
  return [
    `student: ${options.student} (${student.identity.vocabSize.toLocaleString("en-US")} ids)`,
    `teacher: ${options.teacher} (${teacher.identity.vocabSize.toLocaleString("en-US")} ids)`,
    "",
    `raw: ${OVERLAP_DEFINITIONS.raw}`,
    formatCounts(overlap.raw),
    "",
    `text: ${OVERLAP_DEFINITIONS.text}`,
    formatCounts(overlap.text),
    "",
  ].join("\n");
}

function formatCounts(counts: OverlapCounts): string {
  const share = (value: number) => `${(100 * value).toFixed(2)}%`;
  const count = (value: number) => value.toLocaleString("en-US");
  return [
    `  shared entries      ${count(counts.sharedEntries)}`,
    `  of the student's    ${share(counts.shareOfStudent)} of ${count(counts.studentEntries)}`,
    `  of the teacher's    ${share(counts.shareOfTeacher)} of ${count(counts.teacherEntries)}`,
    `  of the union        ${share(counts.shareOfUnion)} of ${count(counts.unionEntries)}`,
  ].join("\n");
}
