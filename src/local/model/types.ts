// The backend contract: what the server hands a model and what it expects back. A new backend is
// one object with these members; the server does the HTTP, the SageMaker front, and the faults.

/** One invocation as the container receives it (SageMaker forwards exactly these). */
export interface BackendRequest {
  body: Buffer;
  /** The request's Content-Type, lower-cased, parameters removed; already one of `contentTypes`. */
  contentType: string;
  /** The request's Accept header as sent, if any. */
  accept?: string;
  /** X-Amzn-SageMaker-Custom-Attributes as sent, if any. */
  customAttributes?: string;
  /** Fires when the client has gone or the server is closing; long work may stop early. */
  signal: AbortSignal;
}

export interface BackendResponse {
  body: Uint8Array | string;
  /** Becomes the answer's Content-Type (SageMaker passes it through). */
  contentType: string;
  /** Sent back as X-Amzn-SageMaker-Custom-Attributes; SageMaker passes it through. */
  customAttributes?: string;
}

/**
 * A model behind the server. `invoke` may throw a BackendError to pick the status its container
 * answers (400 for input it cannot decode); anything else thrown is answered 500. Through the
 * SageMaker runtime path both reach the client as a ModelError carrying that status.
 */
export interface Backend {
  /** For logs and stats, e.g. `detector`, `fixed`. */
  readonly name: string;
  /** Request content types accepted; others are answered 415 by the container (ModelError 415 via SageMaker). */
  readonly contentTypes: readonly string[];
  /** Content type of the answers, checked against the request's Accept (406 when it cannot match). */
  readonly responseContentType: string;
  invoke(request: BackendRequest): Promise<BackendResponse>;
  /** Releases the model; the server calls it only for backends it created itself. */
  close?(): Promise<void>;
}
