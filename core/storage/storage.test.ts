import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createBucket, type S3Server, startS3Server, useS3Server } from "../../test/support/s3-server.ts";
import {
  deleteUri,
  downloadToFile,
  existsUri,
  joinUri,
  listUri,
  openReadUri,
  parseUri,
  readRangeUri,
  readTextUri,
  readUri,
  StorageError,
  sizeUri,
  uploadFile,
  writeUri,
} from "./index.ts";

describe("parseUri", () => {
  it("parses s3 bucket and key", () => {
    expect(parseUri("s3://data/runs/r1/a.json")).toEqual({
      kind: "s3",
      bucket: "data",
      key: "runs/r1/a.json",
    });
  });

  it("parses file URIs and plain paths", () => {
    expect(parseUri("file:///tmp/x/y.json")).toEqual({
      kind: "local",
      path: "/tmp/x/y.json",
      style: "file-uri",
    });
    expect(parseUri("/tmp/x/y.json")).toEqual({ kind: "local", path: "/tmp/x/y.json", style: "path" });
  });

  it("rejects unknown schemes and empty buckets", () => {
    expect(() => parseUri("http://example/x")).toThrow(/unsupported URI scheme "http"/);
    expect(() => parseUri("s3:///key")).toThrow(/use s3:\/\/bucket\/key/);
    expect(() => parseUri("")).toThrow(/empty/);
  });
});

describe("joinUri", () => {
  it("joins segments keeping the scheme", () => {
    expect(joinUri("s3://b/runs/", "r1", "shards/000001.arrow")).toBe("s3://b/runs/r1/shards/000001.arrow");
    expect(joinUri("s3://b", "runs")).toBe("s3://b/runs");
    expect(joinUri("file:///tmp/root", "runs", "r1")).toBe("file:///tmp/root/runs/r1");
    expect(joinUri("/tmp/root/", "runs/", "/r1")).toBe("/tmp/root/runs/r1");
  });
});

/** Defines the suite that every store must pass, run once per root. */
function storeSuite(name: string, makeRoot: () => string) {
  describe(`storage on ${name}`, () => {
    let root: string;
    beforeAll(() => {
      root = makeRoot();
    });

    it("round-trips bytes and text", async () => {
      const uri = joinUri(root, "a/b/bytes.bin");
      const bytes = new Uint8Array([0, 1, 2, 255, 128]);
      await writeUri(uri, bytes);
      expect(Array.from(await readUri(uri))).toEqual([0, 1, 2, 255, 128]);

      const textUri = joinUri(root, "a/text.txt");
      await writeUri(textUri, "héllo 🙂");
      expect(await readTextUri(textUri)).toBe("héllo 🙂");
    });

    it("overwrites an existing object", async () => {
      const uri = joinUri(root, "overwrite.txt");
      await writeUri(uri, "first");
      await writeUri(uri, "second");
      expect(await readTextUri(uri)).toBe("second");
    });

    it("raises not_found naming the URI", async () => {
      const uri = joinUri(root, "missing/nothing.bin");
      const error = await readUri(uri).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(StorageError);
      expect((error as StorageError).code).toBe("not_found");
      expect((error as StorageError).uri).toBe(uri);
      expect((error as StorageError).message).toContain(uri);
      await expect(sizeUri(uri)).rejects.toMatchObject({ code: "not_found" });
      await expect(openReadUri(uri)).rejects.toMatchObject({ code: "not_found" });
      await expect(downloadToFile(uri, path.join(os.tmpdir(), "never.bin"))).rejects.toMatchObject({
        code: "not_found",
      });
    });

    it("reports existence and deletes", async () => {
      const uri = joinUri(root, "exists/x.txt");
      expect(await existsUri(uri)).toBe(false);
      await writeUri(uri, "x");
      expect(await existsUri(uri)).toBe(true);
      expect(await existsUri(joinUri(root, "exists"))).toBe(false);
      await deleteUri(uri);
      expect(await existsUri(uri)).toBe(false);
      await deleteUri(uri);
    });

    it("lists recursively, sorted, as full URIs", async () => {
      const prefix = joinUri(root, "listing");
      for (const key of ["b/2.txt", "a.txt", "b/1.txt", "c/d/e.txt"]) {
        await writeUri(joinUri(prefix, key), key);
      }
      await writeUri(joinUri(root, "listing-sibling/z.txt"), "z");
      const expected = ["a.txt", "b/1.txt", "b/2.txt", "c/d/e.txt"].map((key) => joinUri(prefix, key));
      expect(await listUri(prefix)).toEqual(expected);
      expect(await listUri(`${prefix}/`)).toEqual(expected);
      expect(await listUri(joinUri(root, "no-such-prefix"))).toEqual([]);
      for (const uri of await listUri(prefix)) {
        expect(await readTextUri(uri)).toBe(uri.slice(prefix.length + 1));
      }
    });

    it("reads byte ranges and sizes", async () => {
      const uri = joinUri(root, "range.bin");
      const bytes = Uint8Array.from({ length: 1000 }, (_, i) => i % 251);
      await writeUri(uri, bytes);
      expect(await sizeUri(uri)).toBe(1000);
      expect(Array.from(await readRangeUri(uri, 10, 20))).toEqual(Array.from(bytes.subarray(10, 20)));
      expect((await readRangeUri(uri, 990, 2000)).length).toBe(10);
      expect((await readRangeUri(uri, 5, 5)).length).toBe(0);
    });

    it("streams an object", async () => {
      const uri = joinUri(root, "stream.txt");
      await writeUri(uri, "streamed content");
      const chunks: Buffer[] = [];
      for await (const chunk of await openReadUri(uri)) chunks.push(chunk as Buffer);
      expect(Buffer.concat(chunks).toString("utf8")).toBe("streamed content");
    });

    it("uploads and downloads a multi-part file", async () => {
      const local = await fs.mkdtemp(path.join(os.tmpdir(), "vocagno-storage-"));
      const source = path.join(local, "big.bin");
      // 12 MiB exceeds lib-storage's default 5 MiB part size, so S3 uses a multipart upload.
      const big = Buffer.alloc(12 * 1024 * 1024);
      for (let i = 0; i < big.length; i += 4096) big[i] = (i / 4096) % 256;
      await fs.writeFile(source, big);
      const uri = joinUri(root, "uploads/big.bin");
      await uploadFile(source, uri);
      expect(await sizeUri(uri)).toBe(big.length);

      const target = path.join(local, "nested/copy.bin");
      await downloadToFile(uri, target);
      expect((await fs.readFile(target)).equals(big)).toBe(true);
      expect((await fs.readdir(path.dirname(target))).filter((name) => name.includes(".tmp-"))).toEqual([]);
      await fs.rm(local, { recursive: true, force: true });
    });
  });
}

let localRoot: string;
beforeAll(async () => {
  localRoot = await fs.mkdtemp(path.join(os.tmpdir(), "vocagno-store-"));
});
afterAll(async () => {
  await fs.rm(localRoot, { recursive: true, force: true });
});

storeSuite("a local path", () => path.join(localRoot, "plain"));
storeSuite("a file URI", () => pathToFileURL(path.join(localRoot, "uri")).href);

describe("local atomic write", () => {
  it("leaves no temporary file and hides in-flight ones from listings", async () => {
    const directory = path.join(localRoot, "atomic");
    await writeUri(path.join(directory, "done.txt"), "done");
    // A temporary file of a concurrent, unfinished write.
    await fs.writeFile(path.join(directory, ".pending.txt.tmp-0123456789abcdef"), "partial");
    expect(await listUri(directory)).toEqual([path.join(directory, "done.txt")]);
  });

  it("raises io_failed when the directory cannot be created", async () => {
    const blocker = path.join(localRoot, "blocker");
    await fs.writeFile(blocker, "a file, not a directory");
    await expect(writeUri(path.join(blocker, "child.txt"), "x")).rejects.toMatchObject({ code: "io_failed" });
  });
});

describe("storage over the S3 protocol", () => {
  let server: S3Server;
  beforeAll(async () => {
    server = await startS3Server();
    useS3Server(server.endpoint);
    await createBucket("vocagno-test");
  });
  afterAll(async () => {
    await server?.stop();
  });

  it("raises not_found for a missing bucket", async () => {
    await expect(readUri("s3://no-such-bucket/key")).rejects.toMatchObject({ code: "not_found" });
  });

  it("rejects a URI naming only a bucket", async () => {
    await expect(readUri("s3://vocagno-test")).rejects.toMatchObject({ code: "invalid_uri" });
  });

  storeSuite("S3", () => "s3://vocagno-test/root");
});
