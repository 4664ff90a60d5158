// GetMedia (@aws-sdk/client-kinesis-video-media): a chunked `video/webm` body of KVS fragments,
// retained then live, written no faster than the client reads, until it leaves or the stream goes,
// or until an in-band error stops it (a start fragment no longer retained, or one a test injects).

import type { ServerResponse } from 'node:http';
import { optionalString, requiredObject, requiredString, requiredTimestamp } from './api-input.js';
import { KvsApiError, KvsInBandError } from './errors.js';
import { renderGetMediaError, renderGetMediaFragment } from './fragment-renderer.js';
import { type JsonObject, startStream, writeChunks } from './http-io.js';
import type { ApiContext, Route } from './route.js';
import type { StartSelector, StoredFragment } from './types.js';

/** Turns GetMedia's StartSelector member into the log's selector, refusing what KVS refuses. */
export function parseStartSelector(input: JsonObject): StartSelector {
  const selector = requiredObject(input, 'StartSelector');
  const type = requiredString(selector, 'StartSelectorType');
  switch (type) {
    case 'NOW':
    case 'EARLIEST':
      return { type };
    case 'FRAGMENT_NUMBER':
      return { type, afterFragmentNumber: requiredString(selector, 'AfterFragmentNumber') };
    case 'SERVER_TIMESTAMP':
    case 'PRODUCER_TIMESTAMP':
      return { type, startTimestamp: requiredTimestamp(selector, 'StartTimestamp') };
    case 'CONTINUATION_TOKEN':
      return { type, continuationToken: requiredString(selector, 'ContinuationToken') };
    default:
      throw new KvsApiError(
        'InvalidArgumentException',
        `StartSelectorType ${type} is not one of FRAGMENT_NUMBER, SERVER_TIMESTAMP, PRODUCER_TIMESTAMP, NOW, ` +
          `EARLIEST, CONTINUATION_TOKEN`,
      );
  }
}

async function getMedia(input: JsonObject, ctx: ApiContext, res: ServerResponse): Promise<void> {
  const stream = ctx.registry.resolve(optionalString(input, 'StreamName'), optionalString(input, 'StreamARN'));
  const selector = parseStartSelector(input);
  if (stream.readers.size >= ctx.maxGetMediaConnections) {
    throw new KvsApiError(
      'ConnectionLimitExceededException',
      `The stream ${stream.name} already has ${stream.readers.size} GetMedia connections`,
    );
  }
  // Aborted with a KvsInBandError as its reason, the response ends with that error's tags.
  const reader = new AbortController();
  // The log validates the selector before the first fragment, so a bad one is still an error response;
  // a start it no longer holds is KVS's in-band error, after a 200.
  let fragments: AsyncIterable<StoredFragment> | StoredFragment[] = [];
  try {
    fragments = stream.log.read(selector, reader.signal);
  } catch (error) {
    if (!(error instanceof KvsInBandError)) throw error;
    reader.abort(error);
  }
  stream.readers.add(reader);
  const onClose = (): void => reader.abort();
  res.once('close', onClose);
  try {
    startStream(res, ctx.requestId, 'video/webm');
    for await (const fragment of fragments) {
      const millisBehindNow = Math.max(0, ctx.clock.now() - fragment.serverTimestamp);
      if (!(await writeChunks(res, renderGetMediaFragment(fragment, millisBehindNow)))) break;
      if (reader.signal.aborted) break;
    }
    const reason: unknown = reader.signal.reason;
    if (reason instanceof KvsInBandError) await writeChunks(res, renderGetMediaError(reason));
  } finally {
    stream.readers.delete(reader);
    res.off('close', onClose);
    reader.abort();
  }
  // A deleted stream (or a closed server) ends the body cleanly; the client sees end of stream.
  if (!res.destroyed && !res.writableEnded) res.end();
}

export const getMediaRoutes: Route[] = [{ path: '/getMedia', kind: 'media', handle: getMedia }];
