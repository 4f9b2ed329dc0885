import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { z } from "zod";
import { logger } from "../../core/log.ts";
import { downloadToFile, joinUri, parseUri, readTextUri } from "../../core/storage/index.ts";

/** teacher.json as written by `python -m vocagno_export`. */
export const TeacherMetadataSchema = z.object({
  format: z.literal("vocagno-teacher"),
  formatVersion: z.literal(1),
  architecture: z.string(),
  bosTokenId: z.number().int().nonnegative().nullable(),
  eosTokenId: z.number().int().nonnegative().nullable(),
  vocabSize: z.number().int().positive(),
  /** One past the largest token id of tokenizer.json, added tokens included. */
  tokenizerVocabSize: z.number().int().positive(),
  maxContextTokens: z.number().int().min(2),
  dtype: z.enum(["fp32", "fp16", "bf16"]),
  weightsSha256: z.string().regex(/^[0-9a-f]{64}$/),
  tokenizerSha256: z.string().regex(/^[0-9a-f]{64}$/),
  graph: z.object({ inputs: z.array(z.string()), outputs: z.array(z.string()) }),
  files: z.array(z.string().regex(/^[\w.-]+$/)).min(1),
});
export type TeacherMetadata = z.infer<typeof TeacherMetadataSchema>;

/** A teacher bundle on local disk, checked against its own metadata. */
export interface TeacherBundle {
  readonly uri: string;
  readonly directory: string;
  readonly modelPath: string;
  readonly metadata: TeacherMetadata;
}

/** A teacher bundle that is missing files or contradicts itself. */
export class TeacherBundleError extends Error {
  readonly code: "invalid_metadata" | "vocabulary_mismatch";
  readonly uri: string;

  constructor(code: TeacherBundleError["code"], uri: string, message: string) {
    super(message);
    this.name = "TeacherBundleError";
    this.code = code;
    this.uri = uri;
  }
}

/**
 * Opens a teacher bundle from a local directory or an S3 prefix; S3 bundles
 * are downloaded once into `cacheDirectory` (default: the system temp directory).
 *
 * @example
 * const bundle = await openTeacherBundle("s3://bucket/teachers/qwen2.5-math-7b");
 */
export async function openTeacherBundle(uri: string, cacheDirectory?: string): Promise<TeacherBundle> {
  const metadataUri = joinUri(uri, "teacher.json");
  const metadata = parseMetadata(metadataUri, await readTextUri(metadataUri));
  const location = parseUri(uri);
  let directory: string;
  if (location.kind === "local") {
    directory = location.path;
  } else {
    const key = createHash("sha256").update(`${uri}\n${metadata.weightsSha256}`).digest("hex").slice(0, 16);
    directory = path.join(cacheDirectory ?? path.join(os.tmpdir(), "vocagno-teachers"), key);
    await mkdir(directory, { recursive: true });
    for (const file of metadata.files) {
      const localPath = path.join(directory, file);
      // downloadToFile renames into place, so an existing file is complete.
      if (existsSync(localPath)) continue;
      logger.info({ uri: joinUri(uri, file), localPath }, "downloading teacher file");
      await downloadToFile(joinUri(uri, file), localPath);
    }
  }
  await checkTokenizer(uri, path.join(directory, "tokenizer.json"), metadata);
  return { uri, directory, modelPath: path.join(directory, "model.onnx"), metadata };
}

function parseMetadata(uri: string, text: string): TeacherMetadata {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new TeacherBundleError(
      "invalid_metadata",
      uri,
      `${uri} is not valid JSON: ${(error as Error).message}`,
    );
  }
  const result = TeacherMetadataSchema.safeParse(json);
  if (!result.success) {
    const problems = result.error.issues.map(
      (issue) => `${issue.path.join(".") || "(root)"}: ${issue.message}`,
    );
    throw new TeacherBundleError(
      "invalid_metadata",
      uri,
      `invalid teacher metadata ${uri}: ${problems.join("; ")}. Re-export the teacher with python -m vocagno_export`,
    );
  }
  return result.data;
}

/** Returns one past the largest token id of a tokenizer.json, added tokens included. */
export function tokenizerVocabSize(tokenizerJson: {
  model?: { vocab?: Record<string, number> | unknown[] };
  added_tokens?: { id: number }[];
}): number {
  const vocab = tokenizerJson.model?.vocab;
  let maxId = -1;
  if (Array.isArray(vocab)) maxId = vocab.length - 1;
  else if (vocab) for (const id of Object.values(vocab)) maxId = Math.max(maxId, id);
  for (const token of tokenizerJson.added_tokens ?? []) maxId = Math.max(maxId, token.id);
  return maxId + 1;
}

async function checkTokenizer(uri: string, tokenizerPath: string, metadata: TeacherMetadata): Promise<void> {
  const bytes = await readFile(tokenizerPath);
  const sha256 = createHash("sha256").update(bytes).digest("hex");
  if (sha256 !== metadata.tokenizerSha256) {
    throw new TeacherBundleError(
      "vocabulary_mismatch",
      uri,
      `teacher ${uri}: tokenizer.json has sha256 ${sha256} but teacher.json records ${metadata.tokenizerSha256}; the tokenizer was replaced after export, re-export the bundle`,
    );
  }
  const size = tokenizerVocabSize(JSON.parse(bytes.toString("utf8")));
  if (size > metadata.vocabSize) {
    throw new TeacherBundleError(
      "vocabulary_mismatch",
      uri,
      `teacher ${uri}: tokenizer.json has ids up to ${size - 1} but the model's vocabulary has ${metadata.vocabSize} rows; the tokenizer does not belong to this model, re-export the bundle`,
    );
  }
  if (size !== metadata.tokenizerVocabSize) {
    throw new TeacherBundleError(
      "vocabulary_mismatch",
      uri,
      `teacher ${uri}: tokenizer.json has ${size} ids but teacher.json records ${metadata.tokenizerVocabSize}; the tokenizer was replaced after export, re-export the bundle`,
    );
  }
}
