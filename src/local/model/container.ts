// The model container's side of the contract (`POST /invocations`): content negotiation around one
// backend call, with the statuses a container answers. SageMaker's front wraps non-2xx in ModelError.

import { BackendError } from './errors.js';
import type { Backend, BackendResponse } from './types.js';

export interface ContainerRequest {
  body: Buffer;
  /** Content-Type header as sent. */
  contentType: string | undefined;
  accept: string | undefined;
  customAttributes: string | undefined;
  signal: AbortSignal;
}

/**
 * What a container answered `POST /invocations`: an in-process backend's 200 or error, or a remote container's answer.
 */
export interface ContainerReply extends BackendResponse {
  status: number;
}

const failure = (status: number, type: string, message: string): ContainerReply => ({
  status,
  contentType: 'application/json',
  // The shape model servers such as MMS/TorchServe use, which SageMaker then quotes in OriginalMessage.
  body: JSON.stringify({ code: status, type, message }),
});

/** `image/JPEG; charset=x` -> `image/jpeg`. */
export const mediaType = (header: string | undefined): string | undefined =>
  header?.split(';')[0]?.trim().toLowerCase() || undefined;

/** Does an Accept header admit `type`? Absent, empty and wildcards do. */
export function accepts(accept: string | undefined, type: string): boolean {
  if (accept === undefined || accept.trim() === '') return true;
  const [major] = type.split('/');
  return accept.split(',').some((range) => {
    const wanted = mediaType(range);
    return wanted === undefined || wanted === '*/*' || wanted === type || wanted === `${major}/*`;
  });
}

export async function runContainer(backend: Backend, request: ContainerRequest): Promise<ContainerReply> {
  const contentType = mediaType(request.contentType);
  if (contentType === undefined || !backend.contentTypes.includes(contentType)) {
    return failure(
      415,
      'UnsupportedMediaType',
      `content type ${contentType ?? '(none)'} is not supported by the ${backend.name} model; use one of ` +
        `${backend.contentTypes.join(', ')}`,
    );
  }
  if (!accepts(request.accept, backend.responseContentType)) {
    return failure(
      406,
      'NotAcceptable',
      `the ${backend.name} model answers ${backend.responseContentType}, not ${request.accept}`,
    );
  }
  try {
    const response = await backend.invoke({
      body: request.body,
      contentType,
      ...(request.accept !== undefined && { accept: request.accept }),
      ...(request.customAttributes !== undefined && { customAttributes: request.customAttributes }),
      signal: request.signal,
    });
    return { status: 200, ...response };
  } catch (error) {
    if (error instanceof BackendError) return failure(error.status, error.code, error.message);
    return failure(500, 'InternalServerException', (error as Error).message ?? String(error));
  }
}
