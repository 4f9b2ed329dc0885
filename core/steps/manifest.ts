import { z } from "zod";
import { CORPUS_FORMATS } from "../experiment/schema.ts";
import { joinUri, readTextUri } from "../storage/index.ts";

/** Version of the run manifest layout; readers reject other versions. */
export const MANIFEST_FORMAT_VERSION = 1;

const identitySchema = z.looseObject({
  sha256: z.string(),
  modelType: z.string(),
  vocabSize: z.number(),
  bosId: z.number().nullable(),
  eosId: z.number().nullable(),
});

const itemSchema = z.object({
  item: z.string().regex(/^\d{6,}$/),
  split: z.enum(["train", "eval"]),
  source: z.object({
    uri: z.string().min(1),
    format: z.enum(CORPUS_FORMATS),
    /** First record of the range, counted from 0 within the file. */
    startRecord: z.int().min(0),
    /** Record past the last one of the range. */
    endRecord: z.int().min(0),
  }),
});

/** Schema of `runs/<runId>/manifest.json`. */
export const manifestSchema = z.looseObject({
  formatVersion: z.literal(MANIFEST_FORMAT_VERSION),
  runId: z.string().min(1),
  experimentUri: z.string().min(1),
  corpus: z.object({ uri: z.string(), files: z.int().min(0), records: z.int().min(0) }),
  tokenizers: z.object({
    student: z.object({ source: z.string(), identity: identitySchema }),
    teacher: z.object({ source: z.string(), identity: identitySchema }),
  }),
  items: z.array(itemSchema).min(1),
});

/** The work items of a run and what produced them. */
export type Manifest = z.infer<typeof manifestSchema>;
/** One work item: a record range of one corpus file, for training or held-out evaluation. */
export type ManifestItem = z.infer<typeof itemSchema>;

/** Names the files of a run folder. */
export function runFiles(runUri: string) {
  return {
    experiment: joinUri(runUri, "experiment.json"),
    manifest: joinUri(runUri, "manifest.json"),
    items: joinUri(runUri, "items.json"),
    trainerConfig: joinUri(runUri, "trainer-config.json"),
    evaluation: joinUri(runUri, "evaluation.json"),
    reportJson: joinUri(runUri, "report.json"),
    reportHtml: joinUri(runUri, "report.html"),
    shard: (item: string) => joinUri(runUri, "shards", `${item}.arrow`),
    rejects: (item: string) => joinUri(runUri, "rejects", `${item}.jsonl`),
    prepareStats: (item: string) => joinUri(runUri, "prepare", `${item}.json`),
    evalResult: (variant: string) => joinUri(runUri, "train", variant, "eval.json"),
  };
}

/** Reads and validates a run manifest, naming the file and the bad field on failure. */
export async function readManifest(uri: string): Promise<Manifest> {
  const text = await readTextUri(uri);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new Error(`invalid run manifest ${uri}: not valid JSON (${(error as Error).message})`);
  }
  const result = manifestSchema.safeParse(raw);
  if (!result.success) {
    const first = result.error.issues[0];
    throw new Error(`invalid run manifest ${uri}: ${first.path.join(".") || "(root)"}: ${first.message}`);
  }
  return result.data;
}

/** Formats item number `index` as a work item id: six digits or more, zero-padded. */
export function itemId(index: number): string {
  return String(index).padStart(6, "0");
}
