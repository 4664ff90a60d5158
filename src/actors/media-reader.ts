// Reads one KVS stream as a lease actor does: GetDataEndpoint, then GetMedia from just after the
// checkpointed fragment (or from now), parsed as it arrives. One connection per call: reconnecting
// with backoff is the lease machine's decision.

import { GetDataEndpointCommand, type KinesisVideoClient } from '@aws-sdk/client-kinesis-video';
import { GetMediaCommand, type KinesisVideoMediaClient, type StartSelector } from '@aws-sdk/client-kinesis-video-media';
import { KvsInferError } from '../errors.js';
import { readMkv, type MkvEvent } from '../media/index.js';

export type MediaReaderErrorCode = 'STREAM_NOT_FOUND' | 'GET_MEDIA_FAILED';

export class MediaReaderError extends KvsInferError<MediaReaderErrorCode> {}

export interface MediaReaderOptions {
  control: KinesisVideoClient;
  /** Builds the data-plane client for the endpoint GetDataEndpoint answers. */
  mediaClient: (endpoint: string) => KinesisVideoMediaClient;
  streamName: string;
  /** The checkpointed fragment number: reading resumes after it. Null: from `startWhenNew`. */
  resumeAfter: string | null;
  /**
   * The last continuation token of an earlier connection: preferred on a reconnect (it resumes
   * after the last fragment sent, complete or not); when KVS refuses it, `resumeAfter` is used.
   */
  continuationToken?: string | null;
  /** Where a stream without a checkpoint starts; default NOW, as KIT does. */
  startWhenNew?: 'NOW' | 'EARLIEST';
  signal?: AbortSignal;
  /** Told the size of every chunk of the GetMedia body as it arrives. */
  onBytes?: (bytes: number) => void;
}

/** The parser's events for the stream, until GetMedia's body ends or the signal aborts. */
export async function* readStreamMedia(options: MediaReaderOptions): AsyncGenerator<MkvEvent> {
  const { streamName, signal } = options;
  const fallback: StartSelector = options.resumeAfter
    ? { StartSelectorType: 'FRAGMENT_NUMBER', AfterFragmentNumber: options.resumeAfter }
    : { StartSelectorType: options.startWhenNew ?? 'NOW' };
  const selector: StartSelector = options.continuationToken ? { StartSelectorType: 'CONTINUATION_TOKEN', ContinuationToken: options.continuationToken } : fallback;
  let body: AsyncIterable<Uint8Array>;
  try {
    const { DataEndpoint } = await options.control.send(new GetDataEndpointCommand({ StreamName: streamName, APIName: 'GET_MEDIA' }), { abortSignal: signal });
    if (!DataEndpoint) throw new Error('GetDataEndpoint answered no DataEndpoint');
    const media = options.mediaClient(DataEndpoint);
    const getMedia = (StartSelector: StartSelector) => media.send(new GetMediaCommand({ StreamName: streamName, StartSelector }), { abortSignal: signal });
    const output = await getMedia(selector).catch((error: Error) => {
      if (selector === fallback || error.name !== 'InvalidArgumentException') throw error;
      return getMedia(fallback);
    });
    body = output.Payload as AsyncIterable<Uint8Array>;
  } catch (error) {
    if (signal?.aborted) return;
    throw failure(streamName, error);
  }
  try {
    yield* readMkv(options.onBytes ? counted(body, options.onBytes) : body);
  } catch (error) {
    if (signal?.aborted) return;
    throw failure(streamName, error);
  }
}

async function* counted(body: AsyncIterable<Uint8Array>, onBytes: (bytes: number) => void): AsyncGenerator<Uint8Array> {
  for await (const chunk of body) {
    onBytes(chunk.byteLength);
    yield chunk;
  }
}

function failure(streamName: string, error: unknown): MediaReaderError {
  const name = (error as Error).name;
  if (name === 'ResourceNotFoundException') {
    return new MediaReaderError('STREAM_NOT_FOUND', `stream ${streamName} does not exist`, { cause: error });
  }
  return new MediaReaderError('GET_MEDIA_FAILED', `GetMedia of stream ${streamName} failed: ${name}: ${(error as Error).message}`, { cause: error });
}
