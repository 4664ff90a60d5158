// Errors of the local model server: its own misuse (bad options, a bad fault spec), and the
// failures a backend reports, which the server turns into a container status (and, on the
// SageMaker runtime path, into a ModelError).

import { KvsInferError } from '../../errors.js';

export type ModelServerErrorCode =
  /** `parseFaults` or `setFaults` got a token or rate it cannot use; the message names it. */
  | 'BAD_FAULT_SPEC'
  /** ModelServer.create or a backend factory got an option it cannot use. */
  | 'BAD_SERVER_OPTIONS'
  /** A backend failed to load its model (files missing, runtime failed to start). */
  | 'BACKEND_LOAD_FAILED'
  /** `GET /ping` of a model container given by URL failed or answered non-2xx at start; the message names the URL. */
  | 'CONTAINER_PING_FAILED'
  /** A model container given by URL gave no answer to an invocation: refused, reset, or cut off mid-answer. */
  | 'CONTAINER_UNREACHABLE'
  /** A model container given by URL did not answer an invocation within the invocation timeout. */
  | 'CONTAINER_TIMEOUT'
  | 'SERVER_CLOSED';

export class ModelServerError extends KvsInferError<ModelServerErrorCode> {}

export type BackendErrorCode =
  /** The body is not an image the backend can decode. Answered 400, as a model container would. */
  | 'UNDECODABLE_INPUT'
  /** The model itself failed while running. Answered 500. */
  | 'INFERENCE_FAILED';

const BACKEND_STATUS: Record<BackendErrorCode, number> = {
  UNDECODABLE_INPUT: 400,
  INFERENCE_FAILED: 500,
};

/** What a backend throws to choose the status its container answers; any other error is a 500. */
export class BackendError extends KvsInferError<BackendErrorCode> {
  get status(): number {
    return BACKEND_STATUS[this.code];
  }
}
