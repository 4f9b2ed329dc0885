import { createHash } from "node:crypto";

/**
 * Run ids double as Step Functions execution names and storage key segments,
 * so they use only the characters both allow: letters, digits, `-` and `_`,
 * at most 80 of them (the execution name limit).
 */
export const RUN_ID_PATTERN = /^[A-Za-z0-9_-]{1,80}$/;

/** Hex characters of the hash that ends every derived run id. */
const HASH_LENGTH = 12;
const MAX_BASE_LENGTH = 80 - 1 - HASH_LENGTH;

/** Turns a file name into a run id base: `experiments/My Run.v2.json` becomes `My-Run-v2`. */
export function sanitizeRunName(key: string): string {
  const fileName = key.split("/").pop() ?? "";
  const base = fileName
    .replace(/\.json$/i, "")
    .replace(/[^A-Za-z0-9_-]+/g, "-")
    .replace(/-{2,}/g, "-")
    .replace(/^[-_]+|[-_]+$/g, "")
    .slice(0, MAX_BASE_LENGTH)
    .replace(/[-_]+$/, "");
  return base.length === 0 ? "experiment" : base;
}

/**
 * Derives the run id (and execution name) of one version of an experiment
 * file: its sanitized file name and a hash of its key and `fingerprint`, the
 * S3 version id, or the ETag when the bucket is unversioned. The same object
 * version always gets the same id, so a duplicate delivery starts nothing new,
 * and a changed file gets a new id.
 *
 * @example
 * deriveRunId("experiments/owm-qwen.json", "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY"); // "owm-qwen-<12 hex>"
 */
export function deriveRunId(key: string, fingerprint: string): string {
  // ETags arrive quoted from HeadObject and unquoted in event notifications.
  const normalized = fingerprint.replace(/^"|"$/g, "");
  const hash = createHash("sha256").update(`${key}\n${normalized}`).digest("hex").slice(0, HASH_LENGTH);
  return `${sanitizeRunName(key)}-${hash}`;
}

/**
 * Computes the fingerprint of file content that `deriveRunId` takes when no
 * version id is known: the hex MD5 of the bytes, which is also the ETag that
 * S3 gives an object uploaded in one part without KMS encryption.
 */
export function contentFingerprint(bytes: Uint8Array): string {
  return createHash("md5").update(bytes).digest("hex");
}
