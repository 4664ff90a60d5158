// The AWS clients of one worker, built from its configuration with a deadline on every call:
// what `kvs-infer run` and the in-process local worker (demo, tests) both use.

import type { KvsInferConfig } from '../config/index.js';
import {
  type ClientOptions,
  dynamoDbClient,
  dynamoDbRequestTimeoutMs,
  kinesisClient,
  kinesisVideoClient,
  kinesisVideoMediaClient,
  sageMakerRuntimeClient,
} from './clients.js';

type Deadlines = Pick<
  KvsInferConfig,
  | 'awsConnectTimeoutMillis'
  | 'awsRequestTimeoutMillis'
  | 'failoverTimeMillis'
  | 'sageMakerTaskTimeoutInMilli'
  | 'publishTimeoutMillis'
>;

/** Where each service is, when not the SDK's standard settings (a local stack). */
export interface WorkerEndpoints {
  dynamodb?: string;
  kinesisVideo?: string;
  sageMakerRuntime?: string;
  kinesis?: string;
}

/** Beyond the publisher's own PutRecords deadline: the handler's is only a backstop. */
const KINESIS_BACKSTOP_GRACE_MS = 1_000;

export function workerClients(
  config: Deadlines,
  base: Pick<ClientOptions, 'region' | 'credentials'> = {},
  endpoints: WorkerEndpoints = {},
) {
  const connectTimeoutMs = config.awsConnectTimeoutMillis;
  const at = (endpoint: string | undefined, requestTimeoutMs: number): ClientOptions => ({
    ...base,
    ...(endpoint === undefined ? {} : { endpoint }),
    connectTimeoutMs,
    requestTimeoutMs,
  });
  const dynamodb = dynamoDbClient(at(endpoints.dynamodb, dynamoDbRequestTimeoutMs(config.failoverTimeMillis)));
  const kinesisVideo = kinesisVideoClient(at(endpoints.kinesisVideo, config.awsRequestTimeoutMillis));
  const sageMakerRuntime = sageMakerRuntimeClient(at(endpoints.sageMakerRuntime, config.sageMakerTaskTimeoutInMilli));
  const kinesis = kinesisClient(
    at(
      endpoints.kinesis,
      Math.max(config.awsRequestTimeoutMillis, config.publishTimeoutMillis + KINESIS_BACKSTOP_GRACE_MS),
    ),
  );
  // One data-plane client per endpoint GetDataEndpoint answers, kept for the life of the worker.
  const mediaClients = new Map<string, ReturnType<typeof kinesisVideoMediaClient>>();
  const mediaClient = (endpoint: string) => {
    let client = mediaClients.get(endpoint);
    if (!client) {
      client = kinesisVideoMediaClient(at(endpoint, config.awsRequestTimeoutMillis));
      mediaClients.set(endpoint, client);
    }
    return client;
  };
  const destroy = () => {
    for (const client of [dynamodb, kinesisVideo, sageMakerRuntime, kinesis, ...mediaClients.values()])
      client.destroy();
  };
  return { dynamodb, kinesisVideo, sageMakerRuntime, kinesis, mediaClient, destroy };
}
