import { randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { logger } from "../log.ts";
import { uploadFile } from "../storage/index.ts";
import { REJECT_EXCERPT_BYTES, type RejectedRecord, type RejectReason, type RejectSink } from "./types.ts";

/** Flush buffered reject lines to the local spool file past this many bytes. */
const FLUSH_BYTES = 1024 * 1024;

/** Returns the start of a raw record for a reject line, decoded with replacement characters. */
export function excerptOf(raw: Uint8Array): string {
  return new TextDecoder("utf-8").decode(raw.subarray(0, REJECT_EXCERPT_BYTES));
}

/**
 * Collects rejected records and writes them as JSONL to a URI (fields
 * `source`, `recordNumber`, `reason`, `message`, `excerpt`). Lines are spooled
 * to a local temporary file, so memory stays bounded however many records are
 * rejected; `close` then uploads the file atomically. `close` always writes
 * the file, empty when nothing was rejected, so a finished step's rejects are
 * distinguishable from a step that never ran.
 *
 * @example
 * const rejects = await RejectWriter.open(joinUri(root, "runs", runId, "rejects", `${item}.jsonl`));
 * for await (const record of readCorpus(corpusUri, { rejects })) { ... }
 * await rejects.close();
 */
export class RejectWriter implements RejectSink {
  readonly uri: string;
  readonly countsByReason: Partial<Record<RejectReason, number>> = {};
  #spoolPath: string;
  #buffer: string[] = [];
  #bufferedBytes = 0;
  #count = 0;
  #closed = false;

  private constructor(uri: string, spoolPath: string) {
    this.uri = uri;
    this.#spoolPath = spoolPath;
  }

  /** Opens a writer whose file appears at `uri` on `close`. */
  static async open(uri: string): Promise<RejectWriter> {
    const spoolPath = path.join(os.tmpdir(), `vocagno-rejects-${randomBytes(8).toString("hex")}.jsonl`);
    await fs.writeFile(spoolPath, "");
    return new RejectWriter(uri, spoolPath);
  }

  /** The number of rejected records so far. */
  get count(): number {
    return this.#count;
  }

  async add(reject: RejectedRecord): Promise<void> {
    if (this.#closed) throw new Error(`reject writer for ${this.uri} is already closed`);
    const line = `${JSON.stringify(reject)}\n`;
    this.#buffer.push(line);
    this.#bufferedBytes += line.length;
    this.#count += 1;
    this.countsByReason[reject.reason] = (this.countsByReason[reject.reason] ?? 0) + 1;
    logger.debug(
      { source: reject.source, recordNumber: reject.recordNumber, reason: reject.reason },
      "record rejected",
    );
    if (this.#bufferedBytes >= FLUSH_BYTES) await this.#flush();
  }

  async #flush(): Promise<void> {
    if (this.#buffer.length === 0) return;
    const text = this.#buffer.join("");
    this.#buffer = [];
    this.#bufferedBytes = 0;
    await fs.appendFile(this.#spoolPath, text);
  }

  /** Writes the rejects file to its URI and removes the local spool file. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      await this.#flush();
      await uploadFile(this.#spoolPath, this.uri);
    } finally {
      await fs.rm(this.#spoolPath, { force: true });
    }
    logger.info({ uri: this.uri, rejected: this.#count, byReason: this.countsByReason }, "rejects written");
  }
}
