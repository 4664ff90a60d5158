// AWS SDK v3 clients as kvs-infer builds them. Endpoints come from the SDK's standard settings
// (AWS_ENDPOINT_URL_<SERVICE> variables, which `kvs-infer local` prints) unless given here.
// Every client has a deadline on connecting, on each request and on fetching its credentials: a black-holed
// connection (accepted, never answered, as a network partition looks to a client) fails the call instead of hanging it.

import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { KinesisVideoClient } from '@aws-sdk/client-kinesis-video';
import { KinesisVideoArchivedMediaClient } from '@aws-sdk/client-kinesis-video-archived-media';
import { KinesisVideoMediaClient } from '@aws-sdk/client-kinesis-video-media';
import { SageMakerRuntimeClient } from '@aws-sdk/client-sagemaker-runtime';
import { SSMClient } from '@aws-sdk/client-ssm';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { AwsCredentialIdentityProvider } from '@smithy/types';
import { boundedCredentials } from './credentials.js';

/** Connecting to an AWS endpoint takes milliseconds; 3 s is a lost SYN retried twice, then a dead path. */
const DEFAULT_CONNECT_TIMEOUT_MS = 3_000;
/** KVS control plane, SSM and Kinesis answer in well under a second; 10 s is a hung call. */
const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;
/** InvokeEndpoint's own limit for a real-time endpoint: the handler's backstop when no per-attempt timeout is given. */
const DEFAULT_SAGEMAKER_TIMEOUT_MS = 60_000;
/** Added to the dispatcher's per-attempt timeout, so that its abort (which names the fault) always comes first. */
const SAGEMAKER_BACKSTOP_GRACE_MS = 1_000;

/**
 * DynamoDB's request timeout for a failover time: 80% of the renew interval (failoverTimeMillis / 3), so that a
 * hung renewal is cut before the next one is due, while a DynamoDB 1 s slower each way (2666 ms at the default
 * failover time of 10 s) still renews; never below 100 ms.
 */
export const dynamoDbRequestTimeoutMs = (failoverTimeMillis: number): number =>
  Math.max(100, Math.floor((failoverTimeMillis * 4) / 15));

export interface ClientOptions {
  region?: string;
  /** Overrides the service endpoint (a local server's URL). */
  endpoint?: string;
  /** Default: the SDK's default chain, each fetch under a deadline (`boundedCredentials`), one for the process. */
  credentials?: { accessKeyId: string; secretAccessKey: string } | AwsCredentialIdentityProvider;
  /** Deadline for a connection to be established; default 3000 ms. */
  connectTimeoutMs?: number;
  /**
   * Deadline from a call's start (waiting for a socket included) to its response headers, and on any silence
   * in a response body afterwards. Each service's default is given on its factory.
   */
  requestTimeoutMs?: number;
}

interface HandlerOptions {
  /** The request timeout when the caller gives none. */
  defaultRequestTimeoutMs: number;
  /** Added to the request timeout: a backstop behind a deadline the caller enforces itself. Default 0. */
  graceMs?: number;
  /**
   * Sockets per client: 50 (the SDK's default) where hung sockets are cut by the deadline, Infinity where kvs-infer
   * bounds the calls itself.
   */
  maxSockets: number;
  /**
   * False for a streamed body that the reader paces (GetMedia): a paused reader leaves the socket silent, and its own
   * idle timeout applies.
   */
  idleTimeout: boolean;
}

/** A keep-alive handler whose calls fail with a TimeoutError at their deadline rather than hang. */
function handler(
  options: ClientOptions,
  { defaultRequestTimeoutMs, graceMs = 0, maxSockets, idleTimeout }: HandlerOptions,
): NodeHttpHandler {
  const requestTimeout = (options.requestTimeoutMs ?? defaultRequestTimeoutMs) + graceMs;
  const agent = { keepAlive: true, maxSockets };
  return new NodeHttpHandler({
    connectionTimeout: options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    requestTimeout,
    // Without it the request timeout is only a logged warning.
    throwOnRequestTimeout: true,
    // The request timeout ends at the response headers; this bounds a body that stops half way. 0: none.
    socketTimeout: idleTimeout ? requestTimeout : 0,
    httpAgent: new HttpAgent(agent),
    httpsAgent: new HttpsAgent(agent),
  });
}

/**
 * The handler of a client whose calls are short: the SDK's 50 sockets, and any silence bounded. Exported for the
 * Lambda consumer (cfn/lambda), which also gives it to clients whose packages the worker does not ship (S3).
 */
export const shortCalls = (
  options: ClientOptions,
  defaultRequestTimeoutMs = DEFAULT_REQUEST_TIMEOUT_MS,
): NodeHttpHandler => handler(options, { defaultRequestTimeoutMs, maxSockets: 50, idleTimeout: true });

let processCredentials: AwsCredentialIdentityProvider | undefined;

/**
 * The client options the SDK takes: ours without the deadlines, which go to the handler, and with the process's
 * bounded credential chain unless credentials are given: one fetch serves every client.
 */
export function sdkOptions(options: ClientOptions): Omit<ClientOptions, 'connectTimeoutMs' | 'requestTimeoutMs'> {
  const { connectTimeoutMs: _connect, requestTimeoutMs: _request, credentials, ...rest } = options;
  if (credentials !== undefined) return { ...rest, credentials };
  processCredentials ??= boundedCredentials();
  return { ...rest, credentials: processCredentials };
}

/** The lease table's client. Default request timeout: the one for KCL's default failover time of 10 s (2666 ms). */
export const dynamoDbClient = (options: ClientOptions = {}): DynamoDBClient =>
  new DynamoDBClient({ ...sdkOptions(options), requestHandler: shortCalls(options, dynamoDbRequestTimeoutMs(10_000)) });

// Kinesis defaults to an HTTP/2 handler (for SubscribeToShard); PutRecords and the emulator speak HTTP/1.1.
// The publisher aborts each PutRecords at its own deadline; this one is the backstop for every call.
export const kinesisClient = (options: ClientOptions = {}): KinesisClient =>
  new KinesisClient({ ...sdkOptions(options), requestHandler: shortCalls(options) });

/** KVS control plane: discovery (ListStreams, ListTagsForStream) and GetDataEndpoint before each GetMedia. */
export const kinesisVideoClient = (options: ClientOptions = {}): KinesisVideoClient =>
  new KinesisVideoClient({ ...sdkOptions(options), requestHandler: shortCalls(options) });

/**
 * GetMedia's client: `endpoint` is the URL GetDataEndpoint answered for the stream. One long-lived connection
 * per stream read, so no cap on sockets: under the SDK's default of 50, GetMedia number 51 of a worker waited
 * for a socket for ever, its lease held and renewed, its stream never read. The request timeout bounds the wait
 * for the response headers; silence in the body is the reader's idle timeout (getMediaIdleTimeoutMillis).
 */
export const kinesisVideoMediaClient = (options: ClientOptions = {}): KinesisVideoMediaClient =>
  new KinesisVideoMediaClient({
    ...sdkOptions(options),
    requestHandler: handler(options, {
      defaultRequestTimeoutMs: DEFAULT_REQUEST_TIMEOUT_MS,
      maxSockets: Infinity,
      idleTimeout: false,
    }),
  });

/**
 * ListFragments and GetMediaForFragmentList (`kvs-infer replay`): `endpoint` is the URL GetDataEndpoint answered.
 * As for GetMedia, the body is paced by its reader, so its silence is bounded by the reader's idle timeout.
 */
export const kinesisVideoArchivedMediaClient = (options: ClientOptions = {}): KinesisVideoArchivedMediaClient =>
  new KinesisVideoArchivedMediaClient({
    ...sdkOptions(options),
    requestHandler: handler(options, {
      defaultRequestTimeoutMs: DEFAULT_REQUEST_TIMEOUT_MS,
      maxSockets: 50,
      idleTimeout: false,
    }),
  });

export const ssmClient = (options: ClientOptions = {}): SSMClient =>
  new SSMClient({ ...sdkOptions(options), requestHandler: shortCalls(options) });

/**
 * One attempt per send: the inference dispatcher retries itself, with a timeout per attempt and its own backoff.
 * Its sageMakerTaskThreadPoolSize bounds the calls in flight, so the handler must not queue them below that.
 * `requestTimeoutMs` is the dispatcher's per-attempt timeout (sageMakerTaskTimeoutInMilli; default 60 s): the
 * handler waits 1 s longer, a backstop that never cuts a call the dispatcher still allows.
 */
export const sageMakerRuntimeClient = (options: ClientOptions = {}): SageMakerRuntimeClient =>
  new SageMakerRuntimeClient({
    ...sdkOptions(options),
    maxAttempts: 1,
    requestHandler: handler(options, {
      defaultRequestTimeoutMs: DEFAULT_SAGEMAKER_TIMEOUT_MS,
      graceMs: SAGEMAKER_BACKSTOP_GRACE_MS,
      maxSockets: Infinity,
      idleTimeout: true,
    }),
  });
