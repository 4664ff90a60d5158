// Errors of the inference dispatcher, and how a failed InvokeEndpoint attempt maps onto them:
// callers branch on `code`, the dispatcher on `transient` (retried within the frame's budget, or not at all).

import { KvsInferError } from '../../errors.js';

export type InferenceErrorCode =
  /** An attempt got no answer within the dispatcher's timeoutMs and was aborted. Transient. */
  | 'ENDPOINT_TIMEOUT'
  /** ThrottlingException, ModelNotReadyException, HTTP 429, a ModelError whose container answered 429. Transient. */
  | 'ENDPOINT_THROTTLED'
  /** A 5xx, a ModelError with a 5xx (or no) original status, a connection error. Transient. */
  | 'ENDPOINT_FAILED'
  /**
   * A 4xx that retrying cannot fix: ValidationError (unknown endpoint, bad body), a ModelError with a 4xx other than
   * 429.
   */
  | 'ENDPOINT_REJECTED'
  /** The caller's signal aborted the request. */
  | 'ABORTED'
  /** The dispatcher was closed before the request was done. */
  | 'DISPATCHER_CLOSED';

export class InferenceError extends KvsInferError<InferenceErrorCode> {
  /**
   * Whether the fault was transient: when the dispatcher reports one, the frame's retry budget (or attempt cap) is
   * spent.
   */
  readonly transient: boolean;

  constructor(code: InferenceErrorCode, message: string, options: { cause?: unknown; transient?: boolean } = {}) {
    super(code, message, { cause: options.cause });
    this.transient = options.transient ?? false;
  }
}

export const isInferenceError = (error: unknown): error is InferenceError => error instanceof InferenceError;

export interface AttemptFailure {
  code: Extract<InferenceErrorCode, 'ENDPOINT_THROTTLED' | 'ENDPOINT_FAILED' | 'ENDPOINT_REJECTED'>;
  transient: boolean;
  /** `Name: message` of the SDK error, for the InferenceError's message. */
  summary: string;
}

const THROTTLED_NAMES = new Set([
  'ThrottlingException',
  'Throttling',
  'ThrottledException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'ModelNotReadyException',
]);
const SERVER_NAMES = new Set([
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'InternalFailure',
  'InternalServerError',
  'InternalDependencyException',
]);

/**
 * Classifies an error thrown by `client.send(InvokeEndpointCommand)` (not our own timeout, which the
 * dispatcher recognises itself) by its name, HTTP status, `$fault`, and a ModelError's OriginalStatusCode.
 * Transient unless the answer says the request itself is wrong: a frame is worth minutes of retries, and an
 * error record written for a passing fault is an inference lost for good.
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

  if (name === 'ModelError') {
    // The container's own status decides: its 429 is throttling, its other 4xx mean this input will never work.
    // Without one, the container did not answer (it crashed, timed out, or is restarting): transient, and a frame
    // that crashes it every time costs its retry budget, no more.
    const original = fields.OriginalStatusCode;
    if (original === 429) return { code: 'ENDPOINT_THROTTLED', transient: true, summary };
    const clientSide = typeof original === 'number' && original >= 400 && original < 500;
    return clientSide
      ? { code: 'ENDPOINT_REJECTED', transient: false, summary }
      : { code: 'ENDPOINT_FAILED', transient: true, summary };
  }
  if (THROTTLED_NAMES.has(name) || status === 429) return { code: 'ENDPOINT_THROTTLED', transient: true, summary };
  if (SERVER_NAMES.has(name) || (status !== undefined && status >= 500) || fields.$fault === 'server') {
    return { code: 'ENDPOINT_FAILED', transient: true, summary };
  }
  if (name === 'ValidationError' || (status !== undefined && status >= 400 && status < 500)) {
    return { code: 'ENDPOINT_REJECTED', transient: false, summary };
  }
  // No HTTP answer at all (ECONNRESET, ECONNREFUSED, socket hang up, the handler's TimeoutError) or an odd status.
  return { code: 'ENDPOINT_FAILED', transient: true, summary };
}
