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
