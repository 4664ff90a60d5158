// AWS SDK v3 clients as kvs-infer builds them. Endpoints come from the SDK's standard settings
// (AWS_ENDPOINT_URL_<SERVICE> variables, which `kvs-infer local` prints) unless given here.

import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { KinesisVideoClient } from '@aws-sdk/client-kinesis-video';
import { KinesisVideoMediaClient } from '@aws-sdk/client-kinesis-video-media';
import { SageMakerRuntimeClient } from '@aws-sdk/client-sagemaker-runtime';
import { SSMClient } from '@aws-sdk/client-ssm';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';

export interface ClientOptions {
  region?: string;
  /** Overrides the service endpoint (a local server's URL). */
  endpoint?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string };
}

export const dynamoDbClient = (options: ClientOptions = {}): DynamoDBClient => new DynamoDBClient(options);

// Kinesis defaults to an HTTP/2 handler (for SubscribeToShard); PutRecords and the emulator speak HTTP/1.1.
export const kinesisClient = (options: ClientOptions = {}): KinesisClient => new KinesisClient({ ...options, requestHandler: new NodeHttpHandler() });

export const kinesisVideoClient = (options: ClientOptions = {}): KinesisVideoClient => new KinesisVideoClient(options);

/**
 * A handler without the SDK's default cap of 50 sockets per client, for clients whose concurrency kvs-infer
 * bounds itself. Under the cap, GetMedia number 51 of a worker waited for a socket for ever: its lease was
 * held and renewed, and its stream never read.
 */
const uncappedHandler = (): NodeHttpHandler =>
  new NodeHttpHandler({ httpAgent: new HttpAgent({ keepAlive: true, maxSockets: Infinity }), httpsAgent: new HttpsAgent({ keepAlive: true, maxSockets: Infinity }) });

/** GetMedia's client: `endpoint` is the URL GetDataEndpoint answered for the stream. One long-lived connection per stream read. */
export const kinesisVideoMediaClient = (options: ClientOptions = {}): KinesisVideoMediaClient => new KinesisVideoMediaClient({ ...options, requestHandler: uncappedHandler() });

export const ssmClient = (options: ClientOptions = {}): SSMClient => new SSMClient(options);

// One attempt per send: the inference dispatcher retries itself, with a timeout per attempt and its own backoff.
// Its sageMakerTaskThreadPoolSize bounds the calls in flight, so the handler must not queue them below that.
export const sageMakerRuntimeClient = (options: ClientOptions = {}): SageMakerRuntimeClient =>
  new SageMakerRuntimeClient({ ...options, maxAttempts: 1, requestHandler: uncappedHandler() });
