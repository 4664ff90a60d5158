// The AWS clients of a Lambda container, built once at cold start. Endpoints come from the SDK's
// standard settings (AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL_KINESIS_VIDEO, ...), as in production.
// Their handlers are the worker's (src/aws/clients.ts): every call has a deadline, so a black-holed one fails its
// fragment, which comes back in batchItemFailures, instead of hanging the invocation until the function's timeout.

import { KinesisVideoArchivedMediaClient } from '@aws-sdk/client-kinesis-video-archived-media';
import { S3Client } from '@aws-sdk/client-s3';
import { type ClientOptions, kinesisVideoClient, sdkOptions, shortCalls } from '../../src/aws/clients.js';
import type { StoreClients } from './store-fragments.js';

/**
 * Deadline of one attempt of every call, to its response headers and on any silence in its body afterwards
 * (connecting: 3 s of it). GetDataEndpoint and S3's answers take milliseconds; GetMediaForFragmentList starts its
 * body at once, and PutObject of a fragment (a few MB) takes well under a second within the region. The SDK makes
 * up to 3 attempts (standard mode: full-jitter backoff from 50 ms, under a budget of retry tokens), so a black-holed
 * call fails after about 15 s: its fragment is reported for retry well inside the function's 120 s timeout
 * (cfn/template.yaml), leaving the rest of the batch ~100 s. A body that stalls is cut once, not retried (the SDK
 * retries up to the headers only), so after 5 s of silence.
 */
export const LAMBDA_REQUEST_TIMEOUT_MS = 5_000;

export function clientsFromEnv(env: NodeJS.ProcessEnv): StoreClients {
  const deadlines: ClientOptions = { requestTimeoutMs: LAMBDA_REQUEST_TIMEOUT_MS };
  const s3 = new S3Client({
    ...sdkOptions(deadlines),
    // Local S3 servers (s3rver, MinIO) serve buckets as paths, not as host names.
    forcePathStyle: (env.AWS_ENDPOINT_URL_S3 ?? '') !== '',
    requestHandler: shortCalls(deadlines),
  });
  const kinesisVideo = kinesisVideoClient(deadlines);
  // Archived media is served from each stream's data endpoint: one client per endpoint, for the container's life.
  // Not kinesisVideoArchivedMediaClient: its body has no idle bound, for a reader that paces it; here
  // transformToByteArray reads the body whole at once, so silence in it is a stall, cut by shortCalls' idle bound.
  const archived = new Map<string, KinesisVideoArchivedMediaClient>();
  const archivedMedia = (endpoint: string) => {
    let client = archived.get(endpoint);
    if (client === undefined) {
      client = new KinesisVideoArchivedMediaClient({
        ...sdkOptions({ ...deadlines, endpoint }),
        requestHandler: shortCalls(deadlines),
      });
      archived.set(endpoint, client);
    }
    return client;
  };
  return { s3, kinesisVideo, archivedMedia };
}
