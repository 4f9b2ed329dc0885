import { type LoadedTokenizer, loadTokenizer } from "../tokenizers/index.ts";

// Survives across warm Lambda invocations and across the steps of a local run.
const tokenizers = new Map<string, Promise<LoadedTokenizer>>();

/**
 * Loads a tokenizer once per process and source; a failed load is forgotten
 * so that the next call tries again.
 */
export function cachedTokenizer(source: string): Promise<LoadedTokenizer> {
  let tokenizer = tokenizers.get(source);
  if (tokenizer === undefined) {
    tokenizer = loadTokenizer(source);
    tokenizers.set(source, tokenizer);
    tokenizer.catch(() => tokenizers.delete(source));
  }
  return tokenizer;
}
