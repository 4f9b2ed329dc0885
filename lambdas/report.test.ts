import http from "node:http";
import { CreateTopicCommand, SNSClient, SubscribeCommand } from "@aws-sdk/client-sns";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { RejectThresholdError } from "../core/steps/report.ts";
import {
  smallExperiment,
  temporaryRoot,
  writeCorpus,
  writeExperiment,
} from "../core/steps/testing/run-fixtures.ts";
import { joinUri, readTextUri, writeUri } from "../core/storage/index.ts";
import { type S3Server, startS3Server, useS3Server } from "../test/support/s3-server.ts";
import { handler as plan } from "./plan.ts";
import { handler as prepare } from "./prepare.ts";
import { handler as report, snsNotifier } from "./report.ts";

const CORPUS = [
  { text: "First document about primes." },
  "not json",
  { text: "Second document: 7 is prime." },
  { text: "Third document: 9 is not." },
];

async function preparedRun(root: string, name: string, rejectThreshold: number): Promise<string> {
  const corpusUri = await writeCorpus(root, name, { "r.jsonl": CORPUS });
  const experimentUri = await writeExperiment(
    root,
    name,
    smallExperiment(corpusUri, { corpus: { uri: corpusUri, recordsPerItem: 2, rejectThreshold } }),
  );
  const { runUri } = await plan({ experimentUri, runId: name });
  await prepare({ runUri, item: "000000" });
  await prepare({ runUri, item: "000001" });
  return runUri;
}

async function readReport(runUri: string) {
  return JSON.parse(await readTextUri(joinUri(runUri, "report.json")));
}

describe("report handler", () => {
  let local: Awaited<ReturnType<typeof temporaryRoot>>;

  beforeAll(async () => {
    local = await temporaryRoot();
  });

  afterAll(async () => {
    await local?.remove();
  });

  test("success writes the summary", async () => {
    const runUri = await preparedRun(local.root, "report-ok", 0.5);
    // The trainer's eval.json: held-out cross-entropy in nats per target token.
    await writeUri(joinUri(runUri, "train/guided/eval.json"), JSON.stringify({ step: 10, loss: 2.4 }));
    await writeUri(joinUri(runUri, "train/baseline/eval.json"), JSON.stringify({ step: 10, loss: 2.5 }));

    const output = await report({ runUri, status: "SUCCEEDED" });
    const written = await readReport(runUri);

    // 1 of the 4 records is not JSON.
    expect(output).toMatchObject({ runId: "report-ok", status: "SUCCEEDED", rejectedShare: 0.25 });
    expect(written.status).toBe("SUCCEEDED");
    expect(written.failure).toBeNull();
    expect(written.corpus).toMatchObject({ items: 2, preparedItems: 2, records: 4, documents: 3 });
    expect(written.rejects).toMatchObject({ total: 1, byReason: { invalid_json: 1 }, share: 0.25 });
    expect(written.corpus.studentTokens).toBeGreaterThan(0);
    // 2.4 - 2.5 nats per token, up to float rounding.
    expect(written.guidedMinusBaselineLoss).toBeCloseTo(-0.1, 12);
    expect(await readTextUri(output.reportHtmlUri)).toMatch(/<html/i);
  });

  test("crossed reject threshold fails the run", async () => {
    const runUri = await preparedRun(local.root, "report-rejects", 0.1);

    await expect(report({ runUri, status: "SUCCEEDED" })).rejects.toThrow(RejectThresholdError);
    const written = await readReport(runUri);

    expect(written.status).toBe("FAILED");
    expect(written.failure.step).toBe("report");
    expect(written.failure.cause).toMatch(
      /1 of 4 records rejected \(25\.00%\), above corpus\.rejectThreshold 0\.1/,
    );
  });

  test("failure path records step and error", async () => {
    const cause = JSON.stringify({
      errorType: "ExperimentError",
      errorMessage: "invalid experiment x.json (1 problem)",
    });

    const output = await report({
      runId: "failed-early",
      storageRoot: local.root,
      status: "FAILED",
      error: "ExperimentError",
      cause,
      failedStep: "Plan",
    });
    const written = await readReport(joinUri(local.root, "runs", "failed-early"));

    expect(output.status).toBe("FAILED");
    expect(written.failure).toEqual({
      step: "Plan",
      error: "ExperimentError",
      cause: "invalid experiment x.json (1 problem)",
    });
    expect(written.corpus.items).toBeNull();
    expect(written.status).toBe("FAILED");
  });

  test("input without a run is rejected", async () => {
    await expect(report({ status: "FAILED" })).rejects.toThrow(/set runUri, or runId/);
  });
});

describe("snsNotifier", () => {
  let server: S3Server;
  let receiver: http.Server;
  const received: string[] = [];

  beforeAll(async () => {
    server = await startS3Server();
    useS3Server(server.endpoint);
    receiver = http.createServer((request, response) => {
      let body = "";
      request.on("data", (chunk) => {
        body += chunk;
      });
      request.on("end", () => {
        received.push(body);
        response.end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  });

  afterAll(async () => {
    await new Promise((resolve) => receiver?.close(resolve));
    await server?.stop();
  });

  test("publishes to the topic", async () => {
    const client = new SNSClient({ endpoint: server.endpoint });
    const { TopicArn } = await client.send(new CreateTopicCommand({ Name: "vocagno-runs" }));
    const address = receiver.address() as { port: number };
    await client.send(
      new SubscribeCommand({ TopicArn, Protocol: "http", Endpoint: `http://127.0.0.1:${address.port}/` }),
    );

    await snsNotifier(TopicArn, client)!({
      Subject: "vocagno run r1 SUCCEEDED",
      Message: "run r1 succeeded",
    });

    const notifications = received
      .map((body) => JSON.parse(body))
      .filter((body) => body.Type === "Notification");
    expect(notifications).toHaveLength(1);
    expect(notifications[0].Message).toBe("run r1 succeeded");
    expect(notifications[0].Subject).toBe("vocagno run r1 SUCCEEDED");
  });

  test("unset topic turns notifications off", () => {
    expect(snsNotifier(undefined)).toBeUndefined();
  });
});
