/** A Lambda handler as vocagno's lambdas/ files export it. */
export type LambdaHandler = (event: unknown) => Promise<unknown>;

/** The request of a `lambda:invoke` task, as the local handler receives it. */
export interface LambdaInvokeRequest {
  readonly FunctionName: string;
  readonly Payload?: unknown;
}

/** A handler error as the Lambda integration reports it: Error is the error type, Cause a JSON object. */
export class LambdaFunctionError extends Error {
  constructor(errorType: string, cause: string) {
    super(cause);
    this.name = errorType;
  }
}

/**
 * Wraps a handler as the local resource of a `arn:aws:states:::lambda:invoke`
 * task: the payload goes through JSON as on the wire, and the result has the
 * integration's shape (`Payload`, `StatusCode`, `ExecutedVersion`).
 *
 * @example
 * overrides.taskResourceLocalHandlers.Plan = lambdaInvokeTask(planHandler);
 */
export function lambdaInvokeTask(handler: LambdaHandler): (request: LambdaInvokeRequest) => Promise<unknown> {
  return async (request) => {
    const event = JSON.parse(JSON.stringify(request.Payload ?? {}));
    let payload: unknown;
    try {
      payload = await handler(event);
    } catch (error) {
      const errorType = error instanceof Error ? error.name : "Error";
      const errorMessage = error instanceof Error ? error.message : String(error);
      const trace = error instanceof Error ? (error.stack ?? "").split("\n") : [];
      throw new LambdaFunctionError(errorType, JSON.stringify({ errorType, errorMessage, trace }));
    }
    return {
      ExecutedVersion: "$LATEST",
      Payload: payload === undefined ? null : JSON.parse(JSON.stringify(payload)),
      StatusCode: 200,
      SdkHttpMetadata: { HttpStatusCode: 200 },
    };
  };
}
