// SageMaker runtime's error answers as the SDK reads them: the name in `x-amzn-ErrorType`, the HTTP
// status the service model gives it, and a JSON body; ModelError also carries what the container said.

export type SageMakerErrorName =
  | 'ValidationError'
  | 'ModelError'
  | 'ModelNotReadyException'
  | 'InternalFailure'
  | 'ServiceUnavailable'
  /** Not in the SageMaker runtime model; the SDK surfaces it by name and retries it as throttling. */
  | 'ThrottlingException'
  /** A path or method that is no operation of the service. */
  | 'UnknownOperationException';

export const SAGEMAKER_ERROR_STATUS: Record<SageMakerErrorName, number> = {
  ValidationError: 400,
  ModelError: 424,
  ModelNotReadyException: 429,
  InternalFailure: 500,
  ServiceUnavailable: 503,
  ThrottlingException: 400,
  UnknownOperationException: 404,
};

export interface SageMakerErrorReply {
  name: SageMakerErrorName;
  status: number;
  body: Record<string, unknown>;
}

export function sageMakerError(name: Exclude<SageMakerErrorName, 'ModelError'>, message: string): SageMakerErrorReply {
  return { name, status: SAGEMAKER_ERROR_STATUS[name], body: { message } };
}

/** Where the endpoint lives, for the messages and ARNs SageMaker puts in its errors. */
export interface EndpointContext {
  endpointName: string;
  accountId: string;
  region: string;
}

/**
 * ModelError as SageMaker words it: "Received client error (415) from primary with message ...". Status 0 is
 * no HTTP answer at all (the container timed out or could not be reached), which SageMaker calls a server error.
 */
export function modelError(
  where: EndpointContext,
  originalStatus: number,
  originalMessage: string,
): SageMakerErrorReply {
  const side = originalStatus >= 400 && originalStatus < 500 ? 'client' : 'server';
  const group = `/aws/sagemaker/Endpoints/${where.endpointName}`;
  const console =
    `https://${where.region}.console.aws.amazon.com/cloudwatch/home?region=${where.region}` +
    `#logEventViewer:group=${group}`;
  return {
    name: 'ModelError',
    status: SAGEMAKER_ERROR_STATUS.ModelError,
    body: {
      Message:
        `Received ${side} error (${originalStatus}) from primary with message "${originalMessage}". See ` +
        `${console} in account ${where.accountId} for more information.`,
      OriginalStatusCode: originalStatus,
      OriginalMessage: originalMessage,
      LogStreamArn: `arn:aws:logs:${where.region}:${where.accountId}:log-group:${group}`,
    },
  };
}

/** SageMaker's answer when the container has not answered within the invocation timeout (60 s on AWS). */
export const invocationTimedOut = (where: EndpointContext): SageMakerErrorReply =>
  modelError(
    where,
    0,
    'Your invocation timed out while waiting for a response from container primary. ' +
      'Review the latency metrics for each container in Amazon CloudWatch, resolve the issue, and try again.',
  );

/** A ValidationError for the request fields that break the API model's constraints, worded as AWS words them. */
export function constraintViolations(violations: readonly string[]): SageMakerErrorReply {
  const count = `${violations.length} validation error${violations.length === 1 ? '' : 's'} detected`;
  return sageMakerError('ValidationError', `${count}: ${violations.join('; ')}`);
}

/** The region of a SigV4-signed request (from its credential scope), so messages match the caller's. */
export function signedRegion(authorization: string | undefined): string | undefined {
  return authorization ? /Credential=[^/]+\/\d{8}\/([^/]+)\//.exec(authorization)?.[1] : undefined;
}
