import { type ChildProcess, spawn } from "node:child_process";
import net from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { CreateBucketCommand } from "@aws-sdk/client-s3";
import { s3Client } from "../../core/storage/index.ts";
import { pythonExecutable } from "./python.ts";

/** A running S3-protocol server on loopback. */
export interface S3Server {
  /** The endpoint URL to put in `AWS_ENDPOINT_URL`, such as `http://127.0.0.1:40123`. */
  readonly endpoint: string;
  /** Stops the server and waits for its process to exit. */
  stop(): Promise<void>;
}

async function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => {
        if (address !== null && typeof address === "object") resolve(address.port);
        else reject(new Error("could not read the port of a probe socket"));
      });
    });
  });
}

async function answersHttp(endpoint: string): Promise<boolean> {
  try {
    const response = await fetch(`${endpoint}/moto-api/`, { signal: AbortSignal.timeout(1000) });
    await response.arrayBuffer();
    return true;
  } catch {
    return false;
  }
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once("exit", () => resolve()));
}

/**
 * Starts moto's S3-protocol server from the project's Python environment on a
 * free loopback port and waits until it responds to HTTP.
 *
 * @example
 * const s3 = await startS3Server();
 * process.env.AWS_ENDPOINT_URL = s3.endpoint;
 * // ... tests ...
 * await s3.stop();
 */
export async function startS3Server(options: { startTimeoutMs?: number } = {}): Promise<S3Server> {
  const startTimeoutMs = options.startTimeoutMs ?? 60_000;
  const port = await freeLoopbackPort();
  const endpoint = `http://127.0.0.1:${port}`;
  const child = spawn(pythonExecutable(), ["-m", "moto.server", "-H", "127.0.0.1", "-p", String(port)], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr?.setEncoding("utf8");
  child.stderr?.on("data", (text: string) => {
    // Keep only the tail: moto logs every request.
    stderr = (stderr + text).slice(-4000);
  });

  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      const killTimer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exited(child);
      clearTimeout(killTimer);
    }
  };

  const deadline = Date.now() + startTimeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      throw new Error(`moto server exited with code ${child.exitCode} before answering:\n${stderr}`);
    }
    if (await answersHttp(endpoint)) return { endpoint, stop };
    await sleep(200);
  }
  await stop();
  throw new Error(`moto server on ${endpoint} did not answer within ${startTimeoutMs} ms:\n${stderr}`);
}

/**
 * Sets the environment variables that point the AWS SDK at a test server, with
 * test credentials. Call it before the first S3 request of the process.
 */
export function useS3Server(endpoint: string): void {
  process.env.AWS_ENDPOINT_URL = endpoint;
  process.env.AWS_ACCESS_KEY_ID = "test";
  process.env.AWS_SECRET_ACCESS_KEY = "test";
  process.env.AWS_REGION = "us-east-1";
  // NOTE: moto 5.1.18 returns the composite CRC32 of a multipart object without
  // the "-<parts>" suffix that S3 adds, so the SDK checks it as a whole-object
  // CRC32 and rejects a correct download. S3 itself needs no such setting.
  process.env.AWS_RESPONSE_CHECKSUM_VALIDATION = "WHEN_REQUIRED";
}

/** Creates a bucket on the server that `AWS_ENDPOINT_URL` points at. */
export async function createBucket(bucket: string): Promise<void> {
  await s3Client().send(new CreateBucketCommand({ Bucket: bucket }));
}
