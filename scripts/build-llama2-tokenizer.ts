/**
 * Builds TinyLlama's Llama-2 `tokenizer.json` from the vocabulary and merges
 * that `llama-tokenizer-js` ships. npm runs it after install (postinstall);
 * run it by hand to rebuild:
 *
 *   npx tsx scripts/build-llama2-tokenizer.ts [--output build/tokenizers/tinyllama/tokenizer.json]
 */
import { parseArgs } from "node:util";
import { logger } from "../core/log.ts";
import { buildTinyLlamaTokenizer, TINYLLAMA_TOKENIZER_PATH } from "../core/tokenizers/tinyllama.ts";

try {
  const { values } = parseArgs({
    options: { output: { type: "string", default: TINYLLAMA_TOKENIZER_PATH } },
  });
  const written = await buildTinyLlamaTokenizer(values.output);
  logger.debug({ path: written }, "built the TinyLlama (Llama-2) tokenizer");
} catch (error) {
  logger.error({ err: error }, "failed to build the TinyLlama (Llama-2) tokenizer");
  process.exitCode = 1;
}
