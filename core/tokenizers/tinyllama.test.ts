import { mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import llamaTokenizer from "llama-tokenizer-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  buildTinyLlamaTokenizer,
  ensureTinyLlamaTokenizer,
  LLAMA2_KNOWN_IDS,
  readLlama2TokenizerData,
} from "./tinyllama.ts";
import { type LoadedTokenizer, loadTokenizer } from "./tokenizer.ts";

let directory: string;
let built: string;
let tokenizer: LoadedTokenizer;

beforeAll(async () => {
  directory = await mkdtemp(path.join(os.tmpdir(), "vocagno-tinyllama-"));
  built = await buildTinyLlamaTokenizer(path.join(directory, "tokenizer.json"));
  tokenizer = await loadTokenizer(built);
});

afterAll(async () => {
  await rm(directory, { recursive: true, force: true });
});

describe("readLlama2TokenizerData", () => {
  it("decodes 32000 tokens and their merges", async () => {
    const data = await readLlama2TokenizerData();
    expect(data.vocab).toHaveLength(32_000);
    expect(data.merges.length).toBeGreaterThan(60_000);
  });

  it("yields merges whose results are in the vocabulary", async () => {
    const data = await readLlama2TokenizerData();
    const vocab = new Set(data.vocab);
    const missing = data.merges.filter(([left, right]) => !vocab.has(left + right));
    expect(missing).toEqual([]);
  });
});

describe("buildTinyLlamaTokenizer", () => {
  it("writes the Llama-2 ids that Meta's tokenizer has", async () => {
    const json = JSON.parse(await readFile(built, "utf8"));
    for (const [token, id] of Object.entries(LLAMA2_KNOWN_IDS)) {
      expect(json.model.vocab[token], token).toBe(id);
    }
  });

  it("writes a tokenizer_config.json naming BOS and EOS", async () => {
    const config = JSON.parse(await readFile(path.join(directory, "tokenizer_config.json"), "utf8"));
    expect(config.bos_token).toBe("<s>");
    expect(config.eos_token).toBe("</s>");
  });

  it("gives the identity of Llama-2", () => {
    expect(tokenizer.identity.vocabSize).toBe(32_000);
    expect(tokenizer.identity.bosId).toBe(1);
    expect(tokenizer.identity.eosId).toBe(2);
    expect(tokenizer.identity.modelType).toBe("BPE");
  });

  it("builds byte for byte the same file twice", async () => {
    const again = await buildTinyLlamaTokenizer(path.join(directory, "again", "tokenizer.json"));
    expect(await readFile(again)).toEqual(await readFile(built));
  });
});

describe("ensureTinyLlamaTokenizer", () => {
  it("builds a missing file and keeps an existing one", async () => {
    const target = path.join(directory, "ensure", "tokenizer.json");
    expect(await ensureTinyLlamaTokenizer(target)).toBe(target);
    const first = await readFile(target);
    expect(await ensureTinyLlamaTokenizer(target)).toBe(target);
    expect(await readFile(target)).toEqual(first);
  });
});

describe("TinyLlama encoding", () => {
  // llama-tokenizer-js is an independent BPE implementation over the same data;
  // it adds the dummy-prefix space itself (third argument) and no BOS (second).
  const sentences = [
    "The quick brown fox jumps over the lazy dog.",
    " grabbed",
    "           grabbed",
    "Let $x^2 + y^2 = z^2$ and \\frac{a}{b} \\leq 1.",
    "def add(a, b):\n\treturn a + b\n",
    "Ünïcödé 中文字符 и кириллица, emoji 😀👍🏽 and 🏳️‍🌈.",
    "Numbers 1234567890 and 3.14159, dates 2024-01-31.",
    "Multiple   spaces\n\n\nand lines\r\n",
  ];

  for (const sentence of sentences) {
    it(`matches llama-tokenizer-js on ${JSON.stringify(sentence.slice(0, 24))}`, async () => {
      const expected = llamaTokenizer.encode(sentence, false, true);
      const encoded = await tokenizer.encode(sentence);
      expect(Array.from(encoded.ids)).toEqual(expected);
    });
  }

  it("encodes the with Llama-2 id 278", async () => {
    const encoded = await tokenizer.encode("in the end");
    expect(Array.from(encoded.ids)).toContain(278);
  });

  it("encodes a newline as byte token 13", async () => {
    const encoded = await tokenizer.encode("a\nb");
    expect(Array.from(encoded.ids)).toContain(13);
  });
});
