import { randomBytes } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  S3Client,
  S3ServiceException,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { logger } from "../log.ts";
import { notFound, StorageError } from "./errors.ts";
import type { Store } from "./store.ts";
import { formatUri, parseUri } from "./uri.ts";

let cachedClient: { endpoint: string | undefined; client: S3Client } | undefined;

/**
 * Returns the process's S3 client. The endpoint comes from the standard
 * `AWS_ENDPOINT_URL_S3` or `AWS_ENDPOINT_URL` variables. A custom endpoint
 * (a local S3-protocol server) gets path-style addressing because it has no
 * per-bucket DNS names. The client is rebuilt when the endpoint changes.
 */
export function s3Client(): S3Client {
  const endpoint = process.env.AWS_ENDPOINT_URL_S3 || process.env.AWS_ENDPOINT_URL || undefined;
  if (cachedClient === undefined || cachedClient.endpoint !== endpoint) {
    cachedClient?.client.destroy();
    const client = new S3Client(endpoint === undefined ? {} : { endpoint, forcePathStyle: true });
    cachedClient = { endpoint, client };
  }
  return cachedClient.client;
}

function s3Location(uri: string): { bucket: string; key: string } {
  const location = parseUri(uri);
  if (location.kind !== "s3") {
    throw new StorageError("invalid_uri", uri, `not an S3 URI: ${uri}`);
  }
  if (location.key.length === 0) {
    throw new StorageError("invalid_uri", uri, `S3 URI ${JSON.stringify(uri)} names a bucket, not an object`);
  }
  return location;
}

function isMissing(error: unknown): boolean {
  if (!(error instanceof S3ServiceException)) return false;
  return (
    error.name === "NoSuchKey" ||
    error.name === "NotFound" ||
    error.name === "NoSuchBucket" ||
    error.$metadata.httpStatusCode === 404
  );
}

function translate(uri: string, action: string, error: unknown): StorageError {
  if (error instanceof StorageError) return error;
  if (isMissing(error)) return notFound(uri, error);
  const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return new StorageError("io_failed", uri, `failed to ${action} ${uri}: ${reason}`, { cause: error });
}

async function getObject(uri: string, range?: string): Promise<Readable> {
  const { bucket, key } = s3Location(uri);
  const response = await s3Client().send(new GetObjectCommand({ Bucket: bucket, Key: key, Range: range }));
  if (!(response.Body instanceof Readable)) {
    throw new StorageError("io_failed", uri, `S3 returned no readable body for ${uri}`);
  }
  return response.Body;
}

async function readAll(stream: Readable): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  const joined = Buffer.concat(chunks);
  return new Uint8Array(joined.buffer, joined.byteOffset, joined.byteLength);
}

/**
 * Uploads a body with lib-storage's `Upload`: a single PutObject for small
 * bodies, a multipart upload otherwise. S3 makes an object visible only when
 * the PutObject or CompleteMultipartUpload succeeds, so both are atomic and no
 * temporary key is needed.
 */
async function upload(uri: string, body: Uint8Array | Readable): Promise<void> {
  const { bucket, key } = s3Location(uri);
  await new Upload({ client: s3Client(), params: { Bucket: bucket, Key: key, Body: body } }).done();
}

/** The store for `s3://bucket/key` URIs. */
export const s3Store: Store = {
  async read(uri) {
    try {
      return await readAll(await getObject(uri));
    } catch (error) {
      throw translate(uri, "read", error);
    }
  },

  async readRange(uri, startByte, endByte) {
    if (endByte <= startByte) return new Uint8Array(0);
    try {
      // HTTP ranges are inclusive at both ends.
      return await readAll(await getObject(uri, `bytes=${startByte}-${endByte - 1}`));
    } catch (error) {
      throw translate(uri, "read", error);
    }
  },

  async openRead(uri) {
    try {
      return await getObject(uri);
    } catch (error) {
      throw translate(uri, "open", error);
    }
  },

  async sizeBytes(uri) {
    const { bucket, key } = s3Location(uri);
    try {
      const head = await s3Client().send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      return head.ContentLength ?? 0;
    } catch (error) {
      throw translate(uri, "stat", error);
    }
  },

  async write(uri, bytes) {
    try {
      await upload(uri, bytes);
    } catch (error) {
      throw translate(uri, "write", error);
    }
    logger.debug({ uri, bytes: bytes.byteLength }, "object written");
  },

  async exists(uri) {
    try {
      await s3Store.sizeBytes(uri);
      return true;
    } catch (error) {
      if (error instanceof StorageError && error.code === "not_found") return false;
      throw error;
    }
  },

  async list(prefixUri) {
    const location = parseUri(prefixUri);
    if (location.kind !== "s3") {
      throw new StorageError("invalid_uri", prefixUri, `not an S3 URI: ${prefixUri}`);
    }
    // A prefix is a directory, so `runs/a` never matches `runs/ab/...`.
    const prefix =
      location.key.length === 0 || location.key.endsWith("/") ? location.key : `${location.key}/`;
    const uris: string[] = [];
    let continuationToken: string | undefined;
    try {
      do {
        const page = await s3Client().send(
          new ListObjectsV2Command({
            Bucket: location.bucket,
            Prefix: prefix,
            ContinuationToken: continuationToken,
          }),
        );
        for (const object of page.Contents ?? []) {
          // Keys ending in "/" are folder markers made by consoles, not objects, as on a local disk.
          if (object.Key !== undefined && !object.Key.endsWith("/")) {
            uris.push(formatUri({ ...location, key: object.Key }));
          }
        }
        continuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (continuationToken !== undefined);
    } catch (error) {
      if (error instanceof S3ServiceException && error.name === "NoSuchBucket") return [];
      throw translate(prefixUri, "list", error);
    }
    return uris.sort();
  },

  async delete(uri) {
    const { bucket, key } = s3Location(uri);
    try {
      await s3Client().send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
    } catch (error) {
      throw translate(uri, "delete", error);
    }
  },

  async downloadToFile(uri, target) {
    const destination = path.resolve(target);
    await fs.mkdir(path.dirname(destination), { recursive: true });
    const temporary = path.join(
      path.dirname(destination),
      `.${path.basename(destination)}.tmp-${randomBytes(8).toString("hex")}`,
    );
    try {
      await pipeline(await getObject(uri), createWriteStream(temporary));
      await fs.rename(temporary, destination);
    } catch (error) {
      await fs.rm(temporary, { force: true });
      throw translate(uri, "download", error);
    }
    logger.debug({ uri, localPath: destination }, "object downloaded");
  },

  async uploadFile(source, uri) {
    try {
      await fs.access(source);
    } catch (error) {
      throw notFound(source, error);
    }
    try {
      await upload(uri, createReadStream(source));
    } catch (error) {
      throw translate(uri, "upload", error);
    }
    logger.debug({ uri, localPath: source }, "file uploaded");
  },
};
