import { z } from "zod";
import { TokenizerError } from "./errors.ts";

/**
 * The parts of a Hugging Face `tokenizer.json` that vocagno reads itself. The
 * Rust library parses the whole file; this schema checks the fields that span
 * repair, the identity and the vocabulary overlap depend on. Pipeline stages
 * (normalizer, pre-tokenizer, post-processor, decoder) stay untyped JSON and
 * are inspected by `type` below.
 */
const addedTokenSchema = z.looseObject({
  id: z.int().min(0),
  content: z.string(),
  special: z.boolean(),
  normalized: z.boolean().optional(),
});

const modelSchema = z.looseObject({
  type: z.string().optional(),
  // Entries are checked by modelVocabEntries: a schema over 262k entries costs a second per load.
  vocab: z.custom<Record<string, unknown> | unknown[]>(
    (value) => value !== null && typeof value === "object",
    {
      message: "expected an object of token ids or an array of [token, score] pairs",
    },
  ),
  unk_token: z.string().nullable().optional(),
  unk_id: z.int().nullable().optional(),
  byte_fallback: z.boolean().nullable().optional(),
  continuing_subword_prefix: z.string().nullable().optional(),
  end_of_word_suffix: z.string().nullable().optional(),
});

const tokenizerJsonSchema = z.looseObject({
  added_tokens: z.array(addedTokenSchema).default([]),
  normalizer: z.unknown().optional(),
  pre_tokenizer: z.unknown().optional(),
  post_processor: z.unknown().optional(),
  decoder: z.unknown().optional(),
  model: modelSchema,
});

export type AddedTokenJson = z.infer<typeof addedTokenSchema>;
export type TokenizerJson = z.infer<typeof tokenizerJsonSchema>;

/** One pipeline stage of the JSON, such as `{"type": "NFC"}`. */
type StageJson = { type?: unknown; [key: string]: unknown };

/**
 * The conventions by which a tokenizer writes text into its vocabulary, read
 * from `tokenizer.json` for span repair and the overlap report.
 */
export interface TokenizerTraits {
  /** Model type from `model.type` (`BPE`, `Unigram`, `WordPiece`, `WordLevel`). */
  readonly modelType: string;
  /** True when vocabulary entries are byte-level strings (`Ġthe`), from a ByteLevel pre-tokenizer or decoder. */
  readonly byteLevel: boolean;
  /** True when entries `<0x00>`…`<0xFF>` stand for single bytes (SentencePiece byte fallback). */
  readonly byteFallback: boolean;
  /** The character that stands for a space in vocabulary entries (`▁`), or null when spaces are kept. */
  readonly spaceReplacement: string | null;
  /**
   * The places where the tokenizer inserts a dummy `▁` that is not in the text.
   * `segment`: before every stretch of text between added tokens (a Prepend
   * normalizer, as in Llama-2 and Mistral). `unless-space`: the same, except
   * where the stretch already starts with a space (Metaspace
   * `prepend_scheme: always`). `first`: only at the start of the document
   * (Metaspace `prepend_scheme: first`). Null: nowhere.
   */
  readonly dummyPrefix: "segment" | "unless-space" | "first" | null;
  /** Prefix of continuation pieces (`##` in WordPiece), stripped to get the text. */
  readonly continuingSubwordPrefix: string | null;
  /** Suffix of word-final pieces (`</w>`), stripped to get the text. */
  readonly endOfWordSuffix: string | null;
  /** The model's unknown token, whose text cannot be known. */
  readonly unknownToken: string | null;
}

/**
 * Parses the text of a `tokenizer.json`, naming `source` in every error.
 *
 * @example
 * const json = parseTokenizerJson(await readFile(path, "utf8"), path);
 */
export function parseTokenizerJson(text: string, source: string): TokenizerJson {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new TokenizerError(
      "invalid_tokenizer",
      source,
      `invalid tokenizer file ${source}: it is not JSON (${(error as Error).message}); expected a Hugging Face tokenizer.json`,
      { cause: error },
    );
  }
  const parsed = tokenizerJsonSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues
      .slice(0, 5)
      .map((issue) => `${issue.path.join(".") || "(root)"}: ${issue.message}`)
      .join("; ");
    throw new TokenizerError(
      "invalid_tokenizer",
      source,
      `invalid tokenizer file ${source}: ${problems}; expected a Hugging Face tokenizer.json with "model" and "added_tokens"`,
    );
  }
  return parsed.data;
}

/**
 * Lists the model vocabulary as `[token, id]` pairs: `model.vocab` is an
 * object of ids for BPE, WordPiece and WordLevel, and an array of
 * `[token, score]` (id = position) for Unigram.
 */
export function modelVocabEntries(json: TokenizerJson, source: string): Array<[string, number]> {
  let entries = vocabEntriesCache.get(json.model);
  if (entries === undefined) {
    entries = readVocabEntries(json, source);
    vocabEntriesCache.set(json.model, entries);
  }
  return entries;
}

/** Vocabulary entries per parsed model, because identity, pieces and token strings all read them. */
const vocabEntriesCache = new WeakMap<object, Array<[string, number]>>();

function readVocabEntries(json: TokenizerJson, source: string): Array<[string, number]> {
  const vocab = json.model.vocab;
  const entries: Array<[string, number]> = [];
  if (Array.isArray(vocab)) {
    for (let id = 0; id < vocab.length; id++) {
      const entry = vocab[id];
      if (!Array.isArray(entry) || typeof entry[0] !== "string") {
        throw new TokenizerError(
          "invalid_tokenizer",
          source,
          `invalid tokenizer file ${source}: model.vocab[${id}] is not a [token, score] pair`,
        );
      }
      entries.push([entry[0], id]);
    }
    return entries;
  }
  for (const [token, id] of Object.entries(vocab)) {
    if (typeof id !== "number" || !Number.isInteger(id) || id < 0) {
      throw new TokenizerError(
        "invalid_tokenizer",
        source,
        `invalid tokenizer file ${source}: model.vocab[${JSON.stringify(token)}] is ${JSON.stringify(id)}, expected a non-negative integer id`,
      );
    }
    entries.push([token, id]);
  }
  return entries;
}

/** Reads the traits that decide how vocabulary entries map back to text. */
export function readTokenizerTraits(json: TokenizerJson): TokenizerTraits {
  const normalizers = flattenStages(json.normalizer, "normalizers");
  const preTokenizers = flattenStages(json.pre_tokenizer, "pretokenizers");
  const decoders = flattenStages(json.decoder, "decoders");

  const byteLevel =
    preTokenizers.some((stage) => stage.type === "ByteLevel") ||
    decoders.some((stage) => stage.type === "ByteLevel");

  let spaceReplacement: string | null = null;
  for (const stage of normalizers) {
    if (
      stage.type === "Replace" &&
      stringPattern(stage.pattern) === " " &&
      typeof stage.content === "string"
    ) {
      spaceReplacement = stage.content;
    }
  }
  const metaspace = preTokenizers.find((stage) => stage.type === "Metaspace");
  if (metaspace !== undefined && typeof metaspace.replacement === "string") {
    spaceReplacement = metaspace.replacement;
  }

  let dummyPrefix: TokenizerTraits["dummyPrefix"] = null;
  const prepend = normalizers.find((stage) => stage.type === "Prepend");
  if (prepend !== undefined && typeof prepend.prepend === "string" && prepend.prepend === spaceReplacement) {
    dummyPrefix = "segment";
  } else if (metaspace !== undefined) {
    // Older files write `add_prefix_space: true` for what newer ones call `prepend_scheme: always`.
    const scheme = metaspace.prepend_scheme ?? (metaspace.add_prefix_space === true ? "always" : "never");
    if (scheme === "always") {
      dummyPrefix = "unless-space";
    } else if (scheme === "first") {
      dummyPrefix = "first";
    }
  }

  return {
    modelType: typeof json.model.type === "string" ? json.model.type : "BPE",
    byteLevel,
    byteFallback: json.model.byte_fallback === true,
    spaceReplacement,
    dummyPrefix,
    continuingSubwordPrefix: nonEmpty(json.model.continuing_subword_prefix),
    endOfWordSuffix: nonEmpty(json.model.end_of_word_suffix),
    unknownToken: nonEmpty(json.model.unk_token),
  };
}

/**
 * Returns a copy of the JSON for encoding corpus text. Special added tokens no
 * longer match, so a literal `<s>` or `<|endoftext|>` in a document is
 * ordinary text, as with the Rust library's `encode_special_tokens`. The
 * post-processor is removed because BOS/EOS come only from the pipeline, and
 * truncation and padding are off. Non-special added tokens (Gemma's `\n\n`,
 * Qwen's `<think>`) keep matching, because the model was trained on them as
 * text.
 */
export function jsonForCorpusEncoding(json: TokenizerJson): TokenizerJson {
  return {
    ...json,
    added_tokens: json.added_tokens.filter((token) => !token.special),
    post_processor: null,
    truncation: null,
    padding: null,
  };
}

/** Flattens a stage and its `Sequence` children (key `normalizers`, `pretokenizers` or `decoders`). */
export function flattenStages(stage: unknown, childrenKey: string): StageJson[] {
  if (stage === null || typeof stage !== "object") {
    return [];
  }
  const typed = stage as StageJson;
  const children = typed[childrenKey];
  if (typed.type === "Sequence" && Array.isArray(children)) {
    return children.flatMap((child) => flattenStages(child, childrenKey));
  }
  return [typed];
}

function stringPattern(pattern: unknown): string | null {
  if (
    pattern !== null &&
    typeof pattern === "object" &&
    typeof (pattern as { String?: unknown }).String === "string"
  ) {
    return (pattern as { String: string }).String;
  }
  return null;
}

function nonEmpty(value: string | null | undefined): string | null {
  return typeof value === "string" && value.length > 0 ? value : null;
}
