import type { Readable } from "node:stream";
import { createGunzip } from "node:zlib";
import { Decompress } from "fzstd";
import { openReadUri } from "../storage/index.ts";
import { CorpusError } from "./errors.ts";

export type Compression = "none" | "gzip" | "zstd";

/** Tells the compression of a corpus file from its extension (`.gz`, `.zst`). */
export function compressionOf(uri: string): Compression {
  const lower = uri.toLowerCase();
  if (lower.endsWith(".gz")) return "gzip";
  if (lower.endsWith(".zst") || lower.endsWith(".zstd")) return "zstd";
  return "none";
}

async function* zstdChunks(source: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  const output: Uint8Array[] = [];
  const decompressor = new Decompress((chunk) => {
    output.push(chunk);
  });
  for await (const chunk of source) {
    decompressor.push(chunk);
    while (output.length > 0) yield output.shift()!;
  }
  // A stream cut inside a frame raises here ("unexpected EOF").
  decompressor.push(new Uint8Array(0), true);
  while (output.length > 0) yield output.shift()!;
}

async function* guarded(uri: string, source: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  try {
    yield* source;
  } catch (error) {
    if (error instanceof CorpusError) throw error;
    const reason = error instanceof Error ? error.message : String(error);
    throw new CorpusError("corrupt_input", uri, `failed to read ${uri}: ${reason}`, { cause: error });
  }
}

/**
 * Opens the decompressed bytes of a corpus file as a stream of chunks. A
 * corrupt or truncated compressed stream raises `corrupt_input` naming the
 * file; call `close` to stop reading early.
 */
export async function openDecompressed(
  uri: string,
): Promise<{ chunks: AsyncIterable<Uint8Array>; close: () => void }> {
  const raw: Readable = await openReadUri(uri);
  const compression = compressionOf(uri);
  if (compression === "gzip") {
    // Node's gunzip also reads multi-member files, as written by concatenating .gz files.
    const gunzip = createGunzip();
    raw.on("error", (error) => gunzip.destroy(error));
    raw.pipe(gunzip);
    return {
      chunks: guarded(uri, gunzip),
      close: () => {
        raw.destroy();
        gunzip.destroy();
      },
    };
  }
  const chunks = compression === "zstd" ? zstdChunks(raw) : raw;
  return { chunks: guarded(uri, chunks), close: () => raw.destroy() };
}
