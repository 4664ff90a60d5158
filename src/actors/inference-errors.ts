// Errors of the inference dispatcher, and how a failed InvokeEndpoint attempt maps onto them:
// callers branch on `code`, the dispatcher on `retriable`.

import { KvsInferError } from '../errors.js';

export type InferenceErrorCode =
  /** An attempt got no answer within the dispatcher's timeoutMs and was aborted. */
  | 'ENDPOINT_TIMEOUT'
  /** ThrottlingException, ModelNotReadyException, HTTP 429. */
  | 'ENDPOINT_THROTTLED'
  /** A 5xx, a ModelError with a 5xx (or no) original status, a network failure. */
  | 'ENDPOINT_FAILED'
  /** A 4xx that retrying cannot fix: ValidationError (unknown endpoint, bad body), a ModelError with a 4xx. */
  | 'ENDPOINT_REJECTED'
  /** The caller's signal aborted the request. */
  | 'ABORTED'
  /** The dispatcher was closed before the request was done. */
  | 'DISPATCHER_CLOSED';

export class InferenceError extends KvsInferError<InferenceErrorCode> {
  /** Whether another attempt may succeed; the dispatcher has already used its attempts when it reports a failure. */
  readonly retriable: boolean;

  constructor(code: InferenceErrorCode, message: string, options: { cause?: unknown; retriable?: boolean } = {}) {
    super(code, message, { cause: options.cause });
    this.retriable = options.retriable ?? false;
  }
}

export const isInferenceError = (error: unknown): error is InferenceError => error instanceof InferenceError;

export interface AttemptFailure {
  code: Extract<InferenceErrorCode, 'ENDPOINT_THROTTLED' | 'ENDPOINT_FAILED' | 'ENDPOINT_REJECTED'>;
  retriable: boolean;
  /** `Name: message` of the SDK error, for the InferenceError's message. */
  summary: string;
}

const THROTTLED_NAMES = new Set(['ThrottlingException', 'Throttling', 'ThrottledException', 'TooManyRequestsException', 'RequestLimitExceeded', 'ModelNotReadyException']);
const SERVER_NAMES = new Set(['ServiceUnavailable', 'ServiceUnavailableException', 'InternalFailure', 'InternalServerError', 'InternalDependencyException']);

/**
 * Classifies an error thrown by `client.send(InvokeEndpointCommand)` (not our own timeout, which the
 * dispatcher recognises itself) by its name, HTTP status, `$fault`, and a ModelError's OriginalStatusCode.
 */
export function classifyAttemptFailure(error: unknown): AttemptFailure {
  const fields = (typeof error === 'object' && error !== null ? error : {}) as {
    name?: unknown;
    message?: unknown;
    code?: unknown;
    $fault?: unknown;
    $metadata?: { httpStatusCode?: unknown };
    OriginalStatusCode?: unknown;
  };
  const name = typeof fields.name === 'string' ? fields.name : 'Error';
  const status = typeof fields.$metadata?.httpStatusCode === 'number' ? fields.$metadata.httpStatusCode : undefined;
  const errno = typeof fields.code === 'string' ? ` ${fields.code}` : '';
  const message = typeof fields.message === 'string' ? fields.message : String(error);
  const summary = `${name}${errno}: ${message}`;

  if (THROTTLED_NAMES.has(name) || status === 429) return { code: 'ENDPOINT_THROTTLED', retriable: true, summary };
  if (name === 'ModelError') {
    // The container's own status decides: its 4xx means this input will never work, its 5xx may pass.
    const original = fields.OriginalStatusCode;
    const clientSide = typeof original === 'number' && original >= 400 && original < 500;
    return clientSide ? { code: 'ENDPOINT_REJECTED', retriable: false, summary } : { code: 'ENDPOINT_FAILED', retriable: true, summary };
  }
  if (SERVER_NAMES.has(name) || (status !== undefined && status >= 500) || fields.$fault === 'server') {
    return { code: 'ENDPOINT_FAILED', retriable: true, summary };
  }
  if (name === 'ValidationError' || (status !== undefined && status >= 400 && status < 500)) {
    return { code: 'ENDPOINT_REJECTED', retriable: false, summary };
  }
  // No HTTP answer at all (ECONNRESET, ECONNREFUSED, socket hang up, the handler's TimeoutError) or an odd status.
  return { code: 'ENDPOINT_FAILED', retriable: true, summary };
}
