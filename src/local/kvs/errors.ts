// Errors of the local KVS server, named and shaped as Kinesis Video Streams answers them: the
// name travels in the `x-amzn-ErrorType` header and the body is `{"message": "..."}`.

import { KvsInferError } from '../../errors.js';

export type KvsApiErrorName =
  | 'ResourceNotFoundException'
  | 'ResourceInUseException'
  | 'InvalidArgumentException'
  | 'ClientLimitExceededException'
  | 'ConnectionLimitExceededException'
  | 'TagsPerResourceExceededLimitException'
  | 'NotAuthorizedException'
  | 'InvalidEndpointException'
  | 'VersionMismatchException'
  | 'UnknownOperationException';

const STATUS: Record<KvsApiErrorName, number> = {
  ResourceNotFoundException: 404,
  ResourceInUseException: 400,
  InvalidArgumentException: 400,
  ClientLimitExceededException: 400,
  ConnectionLimitExceededException: 400,
  TagsPerResourceExceededLimitException: 400,
  NotAuthorizedException: 401,
  InvalidEndpointException: 400,
  VersionMismatchException: 400,
  // Not a KVS model error: what AWS REST services answer for a path no operation is bound to.
  UnknownOperationException: 404,
};

export class KvsApiError extends KvsInferError<KvsApiErrorName> {
  get status(): number {
    return STATUS[this.code];
  }
}

/** The descriptions the GetMedia reference gives for its in-band error ids. */
export const IN_BAND_ERRORS = {
  3002: 'Error writing to the stream',
  4000: 'Requested fragment is not found',
  4500: "Access denied for the stream's KMS key",
  4501: "Stream's KMS key is disabled",
  4502: "Validation error on the stream's KMS key",
  4503: 'KMS key specified in the stream is unavailable',
  4504: 'Invalid usage of the KMS key specified in the stream',
  4505: 'Invalid state of the KMS key specified in the stream',
  4506: 'Unable to find the KMS key specified in the stream',
  5000: 'Internal error',
} as const;

/**
 * An error KVS reports inside a GetMedia body, after a 200: a document whose tags are AWS_KINESISVIDEO_ERROR_ID
 * (the number, e.g. 4000 fragment not found, 4500-4506 KMS, 5000 internal) and AWS_KINESISVIDEO_ERROR_CODE (its
 * description), after which the body ends.
 */
export class KvsInBandError extends KvsInferError<'GET_MEDIA_IN_BAND'> {
  readonly errorId: number;

  /** `description` defaults to the one the GetMedia reference gives for the id; an id it does not list needs one. */
  constructor(errorId: number, description?: string) {
    if (!Number.isSafeInteger(errorId) || errorId < 0)
      throw new TypeError(`an in-band GetMedia error id is a non-negative integer, got ${errorId}`);
    const documented: string | undefined = IN_BAND_ERRORS[errorId as keyof typeof IN_BAND_ERRORS];
    if (description === undefined && documented === undefined) {
      throw new TypeError(
        `in-band GetMedia error ${errorId} is not one the GetMedia reference lists: give its description`,
      );
    }
    super('GET_MEDIA_IN_BAND', description ?? documented!);
    this.errorId = errorId;
  }
}
