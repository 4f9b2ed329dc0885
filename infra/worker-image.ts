import { readFileSync } from "node:fs";
import path from "node:path";
import { IgnoreMode } from "aws-cdk-lib";
import * as ecrAssets from "aws-cdk-lib/aws-ecr-assets";
import * as ecs from "aws-cdk-lib/aws-ecs";
import { Construct } from "constructs";
import { REPOSITORY_ROOT } from "./pipeline-function.ts";

/** The GPU worker image's Dockerfile, relative to the repository root (the build context). */
export const WORKER_DOCKERFILE = "batch-image/Dockerfile";

/** Directory of the repository inside the image: job commands run there. */
export const IMAGE_WORKDIR = "/app";

/**
 * Reads the ignore patterns of the worker image. Docker reads
 * `<Dockerfile>.dockerignore` beside the Dockerfile; CDK fingerprints and
 * stages the context itself, so it gets the same patterns as `exclude`.
 */
export function readWorkerImageIgnorePatterns(): string[] {
  const file = path.join(REPOSITORY_ROOT, `${WORKER_DOCKERFILE}.dockerignore`);
  return readFileSync(file, "utf8")
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line.length > 0 && !line.startsWith("#"));
}

/**
 * The container image of the GPU workers (teacher scoring and training),
 * built from `batch-image/Dockerfile` with the repository root as context.
 * Synthesis only hashes the context; Docker runs at deploy time when the
 * asset is published.
 *
 * @example
 * const image = new WorkerImage(this, "WorkerImage");
 * new batch.EcsEc2ContainerDefinition(this, "Container", { image: image.containerImage, ... });
 */
export class WorkerImage extends Construct {
  readonly asset: ecrAssets.DockerImageAsset;
  readonly containerImage: ecs.ContainerImage;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    this.asset = new ecrAssets.DockerImageAsset(this, "Asset", {
      directory: REPOSITORY_ROOT,
      file: WORKER_DOCKERFILE,
      platform: ecrAssets.Platform.LINUX_AMD64,
      exclude: readWorkerImageIgnorePatterns(),
      ignoreMode: IgnoreMode.DOCKER,
    });
    this.containerImage = ecs.ContainerImage.fromDockerImageAsset(this.asset);
  }
}
