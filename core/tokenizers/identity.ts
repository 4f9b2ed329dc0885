import { createHash } from "node:crypto";
import { TokenizerError } from "./errors.ts";
import type { TokenizerJson } from "./tokenizer-json.ts";
import { flattenStages, modelVocabEntries } from "./tokenizer-json.ts";

/**
 * The record of a tokenizer that run manifests and shards keep, so that a
 * later stage can check it uses the same one. Ids are `null` when the
 * tokenizer has no such token.
 */
export interface TokenizerIdentity {
  /** Hex sha256 of the `tokenizer.json` bytes. */
  readonly sha256: string;
  /** `model.type` of the file (`BPE`, `Unigram`, `WordPiece`, `WordLevel`). */
  readonly modelType: string;
  /** Number of distinct ids, added tokens included (Hugging Face's `len(tokenizer)`). */
  readonly vocabSize: number;
  /** Beginning-of-sequence token id, or null. */
  readonly bosId: number | null;
  /** End-of-sequence token id, or null. */
  readonly eosId: number | null;
}

/** BOS/EOS ids that replace the ones read from the files; `null` declares that there is none. */
export interface SpecialIdOverrides {
  readonly bosId?: number | null;
  readonly eosId?: number | null;
}

/** Token names in a `tokenizer_config.json`: a string or an object with `content`. */
export interface TokenizerConfigJson {
  readonly bos_token?: unknown;
  readonly eos_token?: unknown;
}

/**
 * Computes a tokenizer's identity. BOS and EOS come, in this order, from the
 * overrides, from the post-processor (the special tokens that its template
 * puts before and after the text, or the CLS/SEP pair), and from
 * `tokenizer_config.json` beside the file.
 *
 * @example
 * computeTokenizerIdentity(bytes, json, config, { eosId: 2 }, "tokenizer.json");
 */
export function computeTokenizerIdentity(
  fileBytes: Uint8Array,
  json: TokenizerJson,
  config: TokenizerConfigJson | null,
  overrides: SpecialIdOverrides,
  source: string,
): TokenizerIdentity {
  const ids = new Set<number>();
  let idCount = 0;
  const idByToken = new Map<string, number>();
  for (const [token, id] of modelVocabEntries(json, source)) {
    ids.add(id);
    idCount = Math.max(idCount, id + 1);
    idByToken.set(token, id);
  }
  for (const token of json.added_tokens) {
    ids.add(token.id);
    idCount = Math.max(idCount, token.id + 1);
    idByToken.set(token.content, token.id);
  }
  const fromProcessor = postProcessorSpecialIds(json.post_processor, idByToken);
  const fromConfig = {
    bosId: configTokenId(config?.bos_token, idByToken),
    eosId: configTokenId(config?.eos_token, idByToken),
  };
  return {
    sha256: createHash("sha256").update(fileBytes).digest("hex"),
    modelType: typeof json.model.type === "string" ? json.model.type : "BPE",
    vocabSize: ids.size,
    bosId: resolveSpecialId("bosId", overrides, fromProcessor.bosId ?? fromConfig.bosId, idCount, source),
    eosId: resolveSpecialId("eosId", overrides, fromProcessor.eosId ?? fromConfig.eosId, idCount, source),
  };
}

function resolveSpecialId(
  field: "bosId" | "eosId",
  overrides: SpecialIdOverrides,
  fromFiles: number | null,
  idCount: number,
  source: string,
): number | null {
  if (!(field in overrides) || overrides[field] === undefined) {
    return fromFiles;
  }
  const value = overrides[field];
  if (value === null) {
    return null;
  }
  if (!Number.isInteger(value) || value < 0 || value >= idCount) {
    throw new TokenizerError(
      "invalid_option",
      source,
      `invalid ${field} override ${JSON.stringify(value)} for ${source}: expected an integer id from 0 to ${idCount - 1}, or null for none`,
    );
  }
  return value;
}

/** Reads BOS/EOS from a TemplateProcessing template, or the CLS/SEP of Bert and Roberta processing. */
function postProcessorSpecialIds(
  postProcessor: unknown,
  idByToken: Map<string, number>,
): { bosId: number | null; eosId: number | null } {
  for (const stage of flattenStages(postProcessor, "processors")) {
    if (stage.type === "TemplateProcessing" && Array.isArray(stage.single)) {
      const specialTokens = (stage.special_tokens ?? {}) as Record<string, { ids?: number[] }>;
      let bosId: number | null = null;
      let eosId: number | null = null;
      let seenSequence = false;
      for (const piece of stage.single as Array<Record<string, { id?: string }>>) {
        if (piece.Sequence !== undefined) {
          seenSequence = true;
          continue;
        }
        const name = piece.SpecialToken?.id;
        if (name === undefined) {
          continue;
        }
        const id = specialTokens[name]?.ids?.[0] ?? idByToken.get(name) ?? null;
        if (!seenSequence && bosId === null) {
          bosId = id;
        } else if (seenSequence && eosId === null) {
          eosId = id;
        }
      }
      return { bosId, eosId };
    }
    if ((stage.type === "BertProcessing" || stage.type === "RobertaProcessing") && Array.isArray(stage.cls)) {
      const cls = stage.cls as [string, number];
      const sep = stage.sep as [string, number] | undefined;
      return { bosId: cls[1] ?? null, eosId: sep?.[1] ?? null };
    }
  }
  return { bosId: null, eosId: null };
}

function configTokenId(value: unknown, idByToken: Map<string, number>): number | null {
  const name =
    typeof value === "string"
      ? value
      : value !== null &&
          typeof value === "object" &&
          typeof (value as { content?: unknown }).content === "string"
        ? (value as { content: string }).content
        : null;
  return name === null ? null : (idByToken.get(name) ?? null);
}
