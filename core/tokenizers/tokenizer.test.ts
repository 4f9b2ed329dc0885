import { createHash } from "node:crypto";
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createBucket, type S3Server, startS3Server, useS3Server } from "../../test/support/s3-server.ts";
import { writeUri } from "../storage/index.ts";
import { TokenizerError } from "./errors.ts";
import { KNOWN_TOKENIZERS } from "./known.ts";
import { sliceUtf8Span } from "./offsets.ts";
import { addBosEos, type EncodedDocument, type LoadedTokenizer, loadTokenizer } from "./tokenizer.ts";

let scratch: string;
const loaded = new Map<string, LoadedTokenizer>();

async function tokenizer(name: string): Promise<LoadedTokenizer> {
  let found = loaded.get(name);
  if (found === undefined) {
    found = await loadTokenizer(name);
    loaded.set(name, found);
  }
  return found;
}

function tokenTexts(text: string, doc: EncodedDocument): string[] {
  const bytes = Buffer.from(text, "utf8");
  const texts: string[] = [];
  for (let k = 0; k < doc.ids.length; k++) {
    texts.push(bytes.subarray(doc.spans[2 * k], doc.spans[2 * k + 1]).toString("latin1"));
  }
  return texts;
}

beforeAll(async () => {
  scratch = await mkdtemp(path.join(os.tmpdir(), "vocagno-tokenizer-"));
});

afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

describe("loadTokenizer", () => {
  it("loads a directory holding tokenizer.json", async () => {
    const directory = path.dirname(KNOWN_TOKENIZERS.mistral.path);
    const fromDirectory = await loadTokenizer(directory);
    expect(fromDirectory.identity).toEqual((await tokenizer("mistral")).identity);
  });

  it("loads a file:// URI", async () => {
    const uri = pathToFileURL(KNOWN_TOKENIZERS.mistral.path).href;
    const fromUri = await loadTokenizer(uri);
    expect(fromUri.identity.sha256).toBe((await tokenizer("mistral")).identity.sha256);
  });

  it("hashes the file bytes", async () => {
    const bytes = await readFile(KNOWN_TOKENIZERS.mistral.path);
    const expected = createHash("sha256").update(bytes).digest("hex");
    expect((await tokenizer("mistral")).identity.sha256).toBe(expected);
  });

  it("rejects a missing file naming the path", async () => {
    const missing = path.join(scratch, "nope", "tokenizer.json");
    const error = await loadTokenizer(missing).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(TokenizerError);
    expect((error as TokenizerError).code).toBe("not_found");
    expect((error as TokenizerError).message).toContain(missing);
  });

  it("rejects a directory without tokenizer.json", async () => {
    const empty = path.join(scratch, "empty");
    await mkdir(empty, { recursive: true });
    await expect(loadTokenizer(empty)).rejects.toMatchObject({ code: "not_found" });
  });

  it("rejects a file that is not JSON", async () => {
    const bad = path.join(scratch, "bad.json");
    await writeFile(bad, "not json at all");
    const error = (await loadTokenizer(bad).catch((caught: unknown) => caught)) as TokenizerError;
    expect(error.code).toBe("invalid_tokenizer");
    expect(error.message).toContain(bad);
    expect(error.message).toContain("tokenizer.json");
  });

  it("rejects JSON without a model", async () => {
    const bad = path.join(scratch, "no-model.json");
    await writeFile(bad, JSON.stringify({ added_tokens: [] }));
    await expect(loadTokenizer(bad)).rejects.toMatchObject({ code: "invalid_tokenizer" });
  });

  it("rejects a BOS override outside the vocabulary", async () => {
    await expect(loadTokenizer("mistral", { specialIds: { bosId: 32_000 } })).rejects.toMatchObject({
      code: "invalid_option",
    });
  });

  it("applies BOS and EOS overrides", async () => {
    const overridden = await loadTokenizer("mistral", { specialIds: { bosId: null, eosId: 0 } });
    expect(overridden.identity.bosId).toBeNull();
    expect(overridden.identity.eosId).toBe(0);
  });
});

describe("tokenizer identity", () => {
  // Expected sizes: model vocabulary plus added tokens outside it, counted from each
  // tokenizer.json (Qwen 151,643 + 26, Llama-3 128,000 + 256, Gemma-3 262,144 + 1).
  const cases = [
    { name: "tinyllama", vocabSize: 32_000, bosId: 1, eosId: 2 },
    { name: "mistral", vocabSize: 32_000, bosId: 1, eosId: 2 },
    // Known names use the base models' EOS for pretraining, not the chat turn end of tokenizer_config.json.
    { name: "qwen", vocabSize: 151_669, bosId: null, eosId: 151_643 },
    { name: "llama3", vocabSize: 128_256, bosId: 128_000, eosId: 128_001 },
    { name: "gemma3", vocabSize: 262_145, bosId: 2, eosId: 1 },
  ];
  for (const expected of cases) {
    it(`reads ${expected.name}`, async () => {
      const { identity } = await tokenizer(expected.name);
      expect(identity.vocabSize).toBe(expected.vocabSize);
      expect(identity.bosId).toBe(expected.bosId);
      expect(identity.eosId).toBe(expected.eosId);
      expect(identity.modelType).toBe("BPE");
      expect(identity.sha256).toMatch(/^[0-9a-f]{64}$/);
    });
  }

  it("names the pretraining EOS tokens", async () => {
    const qwen = await tokenizer("qwen");
    const gemma = await tokenizer("gemma3");
    expect(qwen.tokenString(qwen.identity.eosId!)).toBe("<|endoftext|>");
    expect(gemma.tokenString(gemma.identity.eosId!)).toBe("<eos>");
  });

  it("reads the chat EOS from a path", async () => {
    // The same file loaded by path keeps tokenizer_config.json's EOS, `<|im_end|>`.
    const byPath = await loadTokenizer(KNOWN_TOKENIZERS.qwen.path);
    expect(byPath.identity.eosId).toBe(151_645);
  });

  it("tells Mistral from Llama-2 by the id of ▁the", async () => {
    const mistral = await tokenizer("mistral");
    const tinyllama = await tokenizer("tinyllama");
    expect(mistral.tokenString(272)).toBe("▁the");
    expect(tinyllama.tokenString(278)).toBe("▁the");
  });
});

describe("LoadedTokenizer.encode", () => {
  it("keeps special-token strings as text", async () => {
    const text = "a<s>b</s>c<|im_start|>d<|endoftext|>";
    for (const name of ["tinyllama", "mistral", "qwen", "llama3", "gemma3"]) {
      const t = await tokenizer(name);
      const doc = await t.encode(text);
      expect(Array.from(doc.special), name).not.toContain(1);
      expect(tokenTexts(text, doc).join(""), name).toBe(text);
    }
  });

  it("keeps non-special added tokens as content", async () => {
    const t = await tokenizer("gemma3");
    const text = "a<table>b";
    const doc = await t.encode(text);
    // Gemma-3 lists <table> as a non-special added token (id 168).
    const index = Array.from(doc.ids).indexOf(168);
    expect(index).toBeGreaterThanOrEqual(0);
    expect(t.isAddedId(168)).toBe(true);
    expect(t.isSpecialId(168)).toBe(false);
    expect(doc.special[index]).toBe(0);
    expect(sliceUtf8Span(text, doc.spans[2 * index], doc.spans[2 * index + 1])).toBe("<table>");
  });

  it("inserts no dummy space after a literal <s> in Llama-2", async () => {
    const t = await tokenizer("tinyllama");
    const doc = await t.encode("a<s>b");
    const tokens = Array.from(doc.ids, (id) => t.tokenString(id));
    expect(tokens).not.toContain("▁b");
    expect(tokens).not.toContain("<s>");
  });

  it("gives the lone dummy-prefix ▁ an empty span", async () => {
    const t = await tokenizer("tinyllama");
    const doc = await t.encode("1");
    // Llama-2 writes "1" as ["▁", "1"]: the ▁ is the prepended dummy space.
    expect(Array.from(doc.ids, (id) => t.tokenString(id))).toEqual(["▁", "1"]);
    expect(Array.from(doc.spans)).toEqual([0, 0, 0, 1]);
  });

  it("gives a leading space to the dummy-prefix token that holds it", async () => {
    const t = await tokenizer("tinyllama");
    const doc = await t.encode(" 1");
    // " 1" becomes "▁▁1": the first ▁ is the dummy, the second the space (byte 0).
    expect(Array.from(doc.spans.subarray(0, 2))).toEqual([0, 1]);
  });

  it("splits an emoji among its byte-fallback pieces", async () => {
    const t = await tokenizer("tinyllama");
    const text = "a😀b";
    const doc = await t.encode(text);
    // 😀 is F0 9F 98 80 at bytes 1..5; Llama-2 has no token for it, so four <0x..> pieces.
    expect(Array.from(doc.ids, (id) => t.tokenString(id))).toEqual([
      "▁a",
      "<0xF0>",
      "<0x9F>",
      "<0x98>",
      "<0x80>",
      "b",
    ]);
    expect(Array.from(doc.spans)).toEqual([0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6]);
  });

  it("splits an emoji among its byte-level pieces", async () => {
    const t = await tokenizer("llama3");
    const text = "a😀b";
    const doc = await t.encode(text);
    // Llama-3 writes 😀 as ðŁĺ (F0 9F 98) and Ģ (80).
    expect(Array.from(doc.spans)).toEqual([0, 1, 1, 4, 4, 5, 5, 6]);
  });

  it("covers a combining mark that NFC composes", async () => {
    const t = await tokenizer("qwen");
    const text = "cafe\u0301 au lait";
    const doc = await t.encode(text);
    const texts = doc.ids.length > 0 ? tokenTexts(text, doc) : [];
    expect(Buffer.from(texts.join(""), "latin1").toString("utf8")).toBe(text);
    expect(doc.spans[doc.spans.length - 1]).toBe(Buffer.byteLength(text));
  });

  it("gives a skipped combining mark to its letter", async () => {
    const t = await tokenizer("qwen");
    // The library reports "e\u0301" composed to "é" at code points [0, 1) and " x" at [2, 4),
    // skipping the mark. Bytes: e [0,1), U+0301 [1,3), space [3,4), x [4,5).
    const doc = await t.encode("e\u0301 x");
    expect(Array.from(doc.ids, (id) => t.tokenString(id))).toEqual(["Ã©", "Ġx"]);
    expect(Array.from(doc.spans)).toEqual([0, 3, 3, 5]);
  });

  it("shares a composed character among its byte pieces", async () => {
    const t = await tokenizer("qwen");
    // NFC turns "u\u0304\u0308" (5 bytes) into U+1E7B (3 bytes), which Qwen writes as
    // two byte-level pieces of 2 and 1 bytes. No byte matches, so the 5 original bytes
    // are split 2:1, rounded: [0, 3) and [3, 5).
    const doc = await t.encode("u\u0304\u0308x");
    expect(Array.from(doc.ids, (id) => t.tokenString(id))).toEqual(["á¹", "»", "x"]);
    expect(Array.from(doc.spans)).toEqual([0, 3, 3, 5, 5, 6]);
  });

  it("encodes the empty string to no tokens", async () => {
    const doc = await (await tokenizer("qwen")).encode("");
    expect(doc.ids.length).toBe(0);
    expect(doc.byteLength).toBe(0);
  });

  it("rejects a lone surrogate", async () => {
    const t = await tokenizer("qwen");
    await expect(t.encode("a\ud800b")).rejects.toMatchObject({ code: "invalid_text" });
  });

  it("returns spans whose slices are the token texts", async () => {
    const t = await tokenizer("mistral");
    const text = "Hello, wörld: 😀 ok";
    const doc = await t.encode(text);
    const words = [];
    for (let k = 0; k < doc.ids.length; k++) {
      words.push(sliceUtf8Span(text, doc.spans[2 * k], doc.spans[2 * k + 1]));
    }
    // Each Mistral token here is whole characters; ▁ stands for the space it covers.
    expect(words).toEqual(
      Array.from(doc.ids, (id) => (t.tokenString(id) ?? "").replaceAll("▁", " ")).map((w, k) =>
        k === 0 ? w.trimStart() : w,
      ),
    );
  });
});

describe("LoadedTokenizer.encodeBatch", () => {
  it("equals encoding one by one", async () => {
    const t = await tokenizer("qwen");
    const texts = ["first 😀 document", "", "second\r\n\tdocument ﬁ", "x".repeat(1000)];
    const batch = await t.encodeBatch(texts);
    for (let index = 0; index < texts.length; index++) {
      const single = await t.encode(texts[index]);
      expect(Array.from(batch[index].ids)).toEqual(Array.from(single.ids));
      expect(Array.from(batch[index].spans)).toEqual(Array.from(single.spans));
    }
  });

  it("names the bad document in an error", async () => {
    const t = await tokenizer("qwen");
    await expect(t.encodeBatch(["ok", "bad \udc00"])).rejects.toThrow(/document 1/);
  });
});

describe("addBosEos", () => {
  it("adds empty spans at byte 0 and the byte length", async () => {
    const t = await tokenizer("tinyllama");
    const text = "é!";
    const doc = addBosEos(await t.encode(text), t.identity);
    const last = doc.ids.length - 1;
    expect(doc.ids[0]).toBe(1);
    expect(doc.ids[last]).toBe(2);
    expect(Array.from(doc.spans.subarray(0, 2))).toEqual([0, 0]);
    expect(Array.from(doc.spans.subarray(2 * last))).toEqual([3, 3]);
    expect(doc.special[0]).toBe(1);
    expect(doc.special[last]).toBe(1);
  });

  it("skips a BOS the tokenizer lacks", async () => {
    const t = await tokenizer("qwen");
    const content = await t.encode("hi");
    const doc = addBosEos(content, t.identity);
    expect(doc.ids.length).toBe(content.ids.length + 1);
    expect(doc.ids[doc.ids.length - 1]).toBe(t.identity.eosId);
  });

  it("adds only what is asked", async () => {
    const t = await tokenizer("tinyllama");
    const content = await t.encode("hi");
    const doc = addBosEos(content, t.identity, { eos: false });
    expect(doc.ids.length).toBe(content.ids.length + 1);
    expect(doc.ids[0]).toBe(1);
  });
});

describe("loadTokenizer over S3", () => {
  let server: S3Server;
  beforeAll(async () => {
    server = await startS3Server();
    useS3Server(server.endpoint);
    await createBucket("vocagno-tokenizers");
    const directory = path.dirname(KNOWN_TOKENIZERS.mistral.path);
    await writeUri(
      "s3://vocagno-tokenizers/mistral/tokenizer.json",
      await readFile(path.join(directory, "tokenizer.json")),
    );
    await writeUri(
      "s3://vocagno-tokenizers/mistral/tokenizer_config.json",
      JSON.stringify({ bos_token: "<s>", eos_token: "<unk>" }),
    );
    // A local copy without a config, to tell which BOS/EOS came from S3.
    await copyFile(path.join(directory, "tokenizer.json"), path.join(scratch, "mistral-alone.json"));
  });
  afterAll(async () => {
    await server?.stop();
  });

  it("loads a prefix holding tokenizer.json", async () => {
    const fromS3 = await loadTokenizer("s3://vocagno-tokenizers/mistral/");
    expect(fromS3.identity.sha256).toBe((await tokenizer("mistral")).identity.sha256);
  });

  it("reads tokenizer_config.json beside the object", async () => {
    const fromS3 = await loadTokenizer("s3://vocagno-tokenizers/mistral/tokenizer.json");
    // The config written above names <unk> (id 0) as EOS.
    expect(fromS3.identity.eosId).toBe(0);
  });

  it("rejects a missing object naming the URI", async () => {
    const error = (await loadTokenizer("s3://vocagno-tokenizers/none/tokenizer.json").catch(
      (caught: unknown) => caught,
    )) as TokenizerError;
    expect(error.code).toBe("not_found");
    expect(error.message).toContain("s3://vocagno-tokenizers/none/tokenizer.json");
  });

  it("finds no EOS without a config", async () => {
    const alone = await loadTokenizer(path.join(scratch, "mistral-alone.json"));
    expect(alone.identity.eosId).toBeNull();
  });
});
