import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { createVocagnoApp } from "../../infra/vocagno-app.ts";
import {
  type CloudFormationTemplate,
  localJobDefinitionArn,
  resolveTemplateString,
  type TemplateResource,
} from "./cloudformation-tokens.ts";

/** An Amazon States Language definition, as parsed JSON. */
export type StateMachineDefinition = { StartAt: string; States: Record<string, AslState> } & Record<
  string,
  unknown
>;
export type AslState = { Type: string } & Record<string, unknown>;

/** The container part of a job definition that the local runner executes. */
export interface LocalJobDefinition {
  readonly logicalId: string;
  readonly arn: string;
  /** Command with `Ref::name` placeholders. */
  readonly command: string[];
  readonly environment: Record<string, string>;
  /** Default values of the job's parameters. */
  readonly parameters: Record<string, string>;
}

/** Parts of the synthesized stack that the local runner uses. */
export interface PipelineTemplate {
  readonly definition: StateMachineDefinition;
  readonly jobDefinitions: ReadonlyMap<string, LocalJobDefinition>;
}

/** Thrown when the template lacks a part that the local runner needs. */
export class PipelineTemplateError extends Error {
  readonly code = "invalid_pipeline_template";

  constructor(message: string) {
    super(message);
    this.name = "PipelineTemplateError";
  }
}

/**
 * Synthesizes the vocagno stack in-process, without bundling Lambda code and
 * without cdk-nag, and returns its CloudFormation template.
 */
export async function synthesizeTemplate(): Promise<CloudFormationTemplate> {
  const outdir = await mkdtemp(path.join(os.tmpdir(), "vocagno-synth-"));
  try {
    const { app, stack } = createVocagnoApp({ nag: false, bundle: false, outdir });
    const assembly = app.synth();
    return assembly.getStackByName(stack.stackName).template as CloudFormationTemplate;
  } finally {
    await rm(outdir, { recursive: true, force: true });
  }
}

function containerOf(resource: TemplateResource): Record<string, unknown> | undefined {
  const properties = resource.Properties ?? {};
  if (properties.ContainerProperties) return properties.ContainerProperties as Record<string, unknown>;
  const nodes = properties.NodeProperties as
    | { NodeRangeProperties?: { Container?: Record<string, unknown> }[] }
    | undefined;
  // A multi-node job runs locally as its main node only.
  return nodes?.NodeRangeProperties?.[0]?.Container;
}

/**
 * Reads the state machine definition (intrinsics resolved to local ARNs) and
 * the job definitions from a synthesized vocagno template.
 *
 * @example
 * const { definition, jobDefinitions } = readPipelineTemplate(await synthesizeTemplate());
 */
export function readPipelineTemplate(template: CloudFormationTemplate): PipelineTemplate {
  const machines = Object.entries(template.Resources).filter(
    ([, resource]) => resource.Type === "AWS::StepFunctions::StateMachine",
  );
  if (machines.length !== 1) {
    throw new PipelineTemplateError(
      `the template has ${machines.length} state machines; the local runner expects exactly 1`,
    );
  }
  const [, machine] = machines[0];
  const definitionString = resolveTemplateString(machine.Properties?.DefinitionString, template);
  const definition = JSON.parse(definitionString) as StateMachineDefinition;

  const jobDefinitions = new Map<string, LocalJobDefinition>();
  for (const [logicalId, resource] of Object.entries(template.Resources)) {
    if (resource.Type !== "AWS::Batch::JobDefinition") continue;
    const container = containerOf(resource);
    if (container === undefined) {
      throw new PipelineTemplateError(`job definition ${logicalId} has no container properties`);
    }
    const environment = Object.fromEntries(
      ((container.Environment as { Name: string; Value: unknown }[] | undefined) ?? []).map((entry) => [
        entry.Name,
        resolveTemplateString(entry.Value, template),
      ]),
    );
    const arn = localJobDefinitionArn(logicalId);
    jobDefinitions.set(arn, {
      logicalId,
      arn,
      command: (container.Command as string[] | undefined) ?? [],
      environment,
      parameters: (resource.Properties?.Parameters as Record<string, string> | undefined) ?? {},
    });
  }
  return { definition, jobDefinitions };
}
