import { readFile, stat } from "node:fs/promises";
import path from "node:path";
import { Tokenizer as NativeTokenizer } from "tokenizers";
import { isNotFound, parseUri, readUri } from "../storage/index.ts";
import { TokenizerError } from "./errors.ts";
import type { SpecialIdOverrides, TokenizerConfigJson, TokenizerIdentity } from "./identity.ts";
import { computeTokenizerIdentity } from "./identity.ts";
import { isKnownTokenizerName, KNOWN_TOKENIZERS, resolveTokenizerSource } from "./known.ts";
import { codePointToUtf8Offsets } from "./offsets.ts";
import type { TokenPieces } from "./pieces.ts";
import { buildTokenPieces } from "./pieces.ts";
import { repairSpans } from "./spans.ts";
import type { TokenizerJson, TokenizerTraits } from "./tokenizer-json.ts";
import {
  jsonForCorpusEncoding,
  modelVocabEntries,
  parseTokenizerJson,
  readTokenizerTraits,
} from "./tokenizer-json.ts";

/**
 * One tokenized document. Spans are UTF-8 byte offsets of the original text,
 * flattened `[start0, end0, start1, end1, ...]` with ends exclusive. The
 * spans of content tokens (special 0) cover every byte of the text exactly
 * once, in order. Special tokens and a dummy-prefix `▁` token have empty spans.
 */
export interface EncodedDocument {
  /** Token ids, `n` of them. */
  readonly ids: Int32Array;
  /** `2n` UTF-8 byte offsets: `[start, end)` of each token. */
  readonly spans: Int32Array;
  /** 1 where the token is special (BOS, EOS, a control token), 0 for content. */
  readonly special: Uint8Array;
  /** UTF-8 length of the document text in bytes. */
  readonly byteLength: number;
}

/** Options of `loadTokenizer`. */
export interface LoadTokenizerOptions {
  /** BOS/EOS ids that replace those read from the files. Default: none, the files decide. */
  readonly specialIds?: SpecialIdOverrides;
}

/**
 * A Hugging Face tokenizer prepared for corpus text: encoding never matches
 * special-token strings in the text, adds no BOS/EOS, and returns exact
 * UTF-8 byte spans. Create one with `loadTokenizer`.
 */
export class LoadedTokenizer {
  /** The path, URI or known name it was loaded from. */
  readonly source: string;
  readonly identity: TokenizerIdentity;
  readonly traits: TokenizerTraits;
  private readonly native: NativeTokenizer;
  private readonly pieces: TokenPieces;
  private readonly tokenById: Array<string | undefined>;
  private readonly specialById: Uint8Array;
  private readonly addedById: Uint8Array;

  /** Use `loadTokenizer`; this constructor takes an already parsed file. */
  constructor(source: string, json: TokenizerJson, identity: TokenizerIdentity) {
    this.source = source;
    this.identity = identity;
    this.traits = readTokenizerTraits(json);
    this.pieces = buildTokenPieces(json, this.traits, source);
    this.tokenById = new Array(this.pieces.idCount);
    for (const [token, id] of modelVocabEntries(json, source)) {
      this.tokenById[id] = token;
    }
    this.specialById = new Uint8Array(this.pieces.idCount);
    this.addedById = new Uint8Array(this.pieces.idCount);
    for (const token of json.added_tokens) {
      this.tokenById[token.id] = token.content;
      this.specialById[token.id] = token.special ? 1 : 0;
      this.addedById[token.id] = 1;
    }
    try {
      this.native = NativeTokenizer.fromString(JSON.stringify(jsonForCorpusEncoding(json)));
    } catch (error) {
      throw new TokenizerError(
        "invalid_tokenizer",
        source,
        `invalid tokenizer file ${source}: the tokenizers library rejected it (${(error as Error).message})`,
        { cause: error },
      );
    }
  }

  /**
   * Encodes one document without special tokens.
   *
   * @example
   * const doc = await tokenizer.encode("a😀b");
   * doc.spans; // Int32Array [0, 1, 1, 5, 5, 6] for a tokenizer that keeps 😀 whole
   */
  async encode(text: string): Promise<EncodedDocument> {
    checkText(text, this.source, 0);
    const encoding = await this.native.encode(text, null, { addSpecialTokens: false });
    return this.toDocument(text, encoding.getIds(), encoding.getOffsets(), encoding.getSpecialTokensMask());
  }

  /**
   * Encodes many documents in one call, which the library spreads over
   * threads; the result is in input order.
   */
  async encodeBatch(texts: readonly string[]): Promise<EncodedDocument[]> {
    texts.forEach((text, index) => {
      checkText(text, this.source, index);
    });
    if (texts.length === 0) {
      return [];
    }
    const encodings = await this.native.encodeBatch([...texts], { addSpecialTokens: false });
    return encodings.map((encoding, index) =>
      this.toDocument(
        texts[index],
        encoding.getIds(),
        encoding.getOffsets(),
        encoding.getSpecialTokensMask(),
      ),
    );
  }

  /** Returns the vocabulary string of `id` (`▁the`, `Ġthe`, `<0x0A>`, `<s>`), or null for an unused id. */
  tokenString(id: number): string | null {
    return this.tokenById[id] ?? null;
  }

  /** Tells whether `id` is a special added token (BOS, EOS, control tokens). */
  isSpecialId(id: number): boolean {
    return this.specialById[id] === 1;
  }

  /**
   * Tells whether `id` is an added token, special or not. Non-special added
   * tokens (Gemma's `<table>`, Qwen's `<think>`) match their text and are
   * content tokens with spans.
   */
  isAddedId(id: number): boolean {
    return this.addedById[id] === 1;
  }

  /** Lists every `[token, id]` of the vocabulary, added tokens included. */
  vocabularyEntries(): Array<[string, number]> {
    const entries: Array<[string, number]> = [];
    this.tokenById.forEach((token, id) => {
      if (token !== undefined) {
        entries.push([token, id]);
      }
    });
    return entries;
  }

  private toDocument(
    text: string,
    ids: number[],
    offsets: number[][],
    specialMask: number[],
  ): EncodedDocument {
    const tokenCount = ids.length;
    const { byteOffsets, codePointCount } = codePointToUtf8Offsets(text);
    const textBytes = Buffer.from(text, "utf8");
    const idArray = new Int32Array(tokenCount);
    const coarseSpans = new Int32Array(2 * tokenCount);
    const special = new Uint8Array(tokenCount);
    for (let k = 0; k < tokenCount; k++) {
      const id = ids[k];
      idArray[k] = id;
      // The library reports code-point offsets of the original text.
      const startCodePoint = Math.min(Math.max(offsets[k][0], 0), codePointCount);
      const endCodePoint = Math.min(Math.max(offsets[k][1], startCodePoint), codePointCount);
      coarseSpans[2 * k] = byteOffsets[startCodePoint];
      coarseSpans[2 * k + 1] = byteOffsets[endCodePoint];
      special[k] = specialMask[k] === 1 || this.specialById[id] === 1 ? 1 : 0;
    }
    const spans = repairSpans(
      { textBytes, ids: idArray, coarseSpans, special },
      { pieces: this.pieces, traits: this.traits },
    );
    return { ids: idArray, spans, special, byteLength: textBytes.length };
  }
}

/**
 * Loads a Hugging Face `tokenizer.json` from a known name (`tinyllama`,
 * `qwen`, `llama3`, `gemma3`, `mistral`), a local file, a directory that
 * contains one, a `file://` URI or an `s3://` URI (a `.json` object, or a prefix
 * holding `tokenizer.json`). A `tokenizer_config.json` beside it, when
 * present, names BOS and EOS where the post-processor does not.
 *
 * @example
 * const student = await loadTokenizer("tinyllama");
 * const teacher = await loadTokenizer("s3://bucket/tokenizers/qwen2.5-math/", { specialIds: { eosId: 151643 } });
 */
export async function loadTokenizer(
  source: string,
  options: LoadTokenizerOptions = {},
): Promise<LoadedTokenizer> {
  const location = await resolveTokenizerSource(source);
  const fileUri = await tokenizerFileUri(location, source);
  const fileBytes = await readTokenizerFile(fileUri, source);
  const json = parseTokenizerJson(new TextDecoder().decode(fileBytes), fileUri);
  const config = await readTokenizerConfig(siblingUri(fileUri, "tokenizer_config.json"));
  const knownDefaults = isKnownTokenizerName(source)
    ? KNOWN_TOKENIZERS[source].pretrainingSpecialIds
    : undefined;
  const overrides = { ...knownDefaults, ...options.specialIds };
  const identity = computeTokenizerIdentity(fileBytes, json, config, overrides, fileUri);
  return new LoadedTokenizer(source, json, identity);
}

/**
 * Returns the document with BOS before and EOS after its tokens, as the
 * pipeline adds them: BOS has the empty span at byte 0, EOS the empty span at
 * the byte length, both flagged special. A token the tokenizer lacks
 * (`bosId` or `eosId` null) is not added.
 *
 * @example
 * const withMarkers = addBosEos(doc, student.identity, { bos: true, eos: true });
 */
export function addBosEos(
  document: EncodedDocument,
  identity: Pick<TokenizerIdentity, "bosId" | "eosId">,
  options: { bos?: boolean; eos?: boolean } = {},
): EncodedDocument {
  const bosId = (options.bos ?? true) ? identity.bosId : null;
  const eosId = (options.eos ?? true) ? identity.eosId : null;
  const before = bosId === null ? 0 : 1;
  const after = eosId === null ? 0 : 1;
  const tokenCount = document.ids.length + before + after;
  const ids = new Int32Array(tokenCount);
  const spans = new Int32Array(2 * tokenCount);
  const special = new Uint8Array(tokenCount);
  ids.set(document.ids, before);
  spans.set(document.spans, 2 * before);
  special.set(document.special, before);
  if (bosId !== null) {
    ids[0] = bosId;
    special[0] = 1;
  }
  if (eosId !== null) {
    const last = tokenCount - 1;
    ids[last] = eosId;
    spans[2 * last] = document.byteLength;
    spans[2 * last + 1] = document.byteLength;
    special[last] = 1;
  }
  return { ids, spans, special, byteLength: document.byteLength };
}

const LONE_SURROGATE = /\p{Cs}/u;

function checkText(text: string, source: string, index: number): void {
  if (typeof text !== "string") {
    throw new TokenizerError(
      "invalid_text",
      source,
      `document ${index} is ${typeof text}, expected a string`,
    );
  }
  const match = LONE_SURROGATE.exec(text);
  if (match !== null) {
    throw new TokenizerError(
      "invalid_text",
      source,
      `document ${index} has a lone UTF-16 surrogate at code unit ${match.index}, which has no UTF-8 form; decode the corpus as UTF-8 text`,
    );
  }
}

/** Finds the `tokenizer.json` that a location names: the file itself, or `tokenizer.json` inside a directory or prefix. */
async function tokenizerFileUri(location: string, source: string): Promise<string> {
  const parsed = parseUriOrThrow(location, source);
  if (parsed.kind === "s3") {
    if (parsed.key.endsWith(".json")) {
      return location;
    }
    return `${location.replace(/\/+$/, "")}/tokenizer.json`;
  }
  try {
    const info = await stat(parsed.path);
    return info.isDirectory() ? path.join(parsed.path, "tokenizer.json") : parsed.path;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") {
      throw new TokenizerError(
        "not_found",
        source,
        `tokenizer not found: ${parsed.path} does not exist; expected a Hugging Face tokenizer.json, a directory holding one, or a known name (tinyllama, qwen, llama3, gemma3, mistral)`,
      );
    }
    throw error;
  }
}

function parseUriOrThrow(location: string, source: string): ReturnType<typeof parseUri> {
  try {
    return parseUri(location);
  } catch (error) {
    throw new TokenizerError("not_found", source, `invalid tokenizer location: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

async function readTokenizerFile(fileUri: string, source: string): Promise<Uint8Array> {
  try {
    return parseUri(fileUri).kind === "s3" ? await readUri(fileUri) : await readFile(fileUri);
  } catch (error) {
    if (isNotFound(error) || (error as NodeJS.ErrnoException).code === "ENOENT") {
      throw new TokenizerError(
        "not_found",
        source,
        `tokenizer not found: ${fileUri} does not exist; expected a Hugging Face tokenizer.json`,
        { cause: error },
      );
    }
    throw new TokenizerError(
      "not_found",
      source,
      `cannot read tokenizer ${fileUri}: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
}

async function readTokenizerConfig(configUri: string): Promise<TokenizerConfigJson | null> {
  let bytes: Uint8Array;
  try {
    bytes = parseUri(configUri).kind === "s3" ? await readUri(configUri) : await readFile(configUri);
  } catch (error) {
    if (isNotFound(error) || (error as NodeJS.ErrnoException).code === "ENOENT") {
      return null;
    }
    throw error;
  }
  try {
    const config = JSON.parse(new TextDecoder().decode(bytes)) as unknown;
    return config !== null && typeof config === "object" ? (config as TokenizerConfigJson) : null;
  } catch (error) {
    throw new TokenizerError(
      "invalid_tokenizer",
      configUri,
      `invalid tokenizer config ${configUri}: it is not JSON (${(error as Error).message}); fix or remove it`,
      { cause: error },
    );
  }
}

function siblingUri(fileUri: string, name: string): string {
  const location = parseUri(fileUri);
  if (location.kind === "s3") {
    return `${fileUri.slice(0, fileUri.lastIndexOf("/") + 1)}${name}`;
  }
  return path.join(path.dirname(location.path), name);
}
