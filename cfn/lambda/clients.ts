// The AWS clients of a Lambda container, built once at cold start. Endpoints come from the SDK's
// standard settings (AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL_KINESIS_VIDEO, ...), as in production.

import { KinesisVideoClient } from '@aws-sdk/client-kinesis-video';
import { KinesisVideoArchivedMediaClient } from '@aws-sdk/client-kinesis-video-archived-media';
import { S3Client } from '@aws-sdk/client-s3';
import type { StoreClients } from './store-fragments.js';

export function clientsFromEnv(env: NodeJS.ProcessEnv): StoreClients {
  // Local S3 servers (s3rver, MinIO) serve buckets as paths, not as host names.
  const s3 = new S3Client({ forcePathStyle: (env.AWS_ENDPOINT_URL_S3 ?? '') !== '' });
  const kinesisVideo = new KinesisVideoClient({});
  // Archived media is served from each stream's data endpoint: one client per endpoint, for the container's life.
  const archived = new Map<string, KinesisVideoArchivedMediaClient>();
  const archivedMedia = (endpoint: string) => {
    let client = archived.get(endpoint);
    if (client === undefined) {
      client = new KinesisVideoArchivedMediaClient({ endpoint });
      archived.set(endpoint, client);
    }
    return client;
  };
  return { s3, kinesisVideo, archivedMedia };
}
