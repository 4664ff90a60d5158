// The Lambda consumer's clients (cfn/lambda/clients.ts) have deadlines: storing a fragment whose GetDataEndpoint,
// GetMediaForFragmentList or S3 call is black-holed (a TCP server that accepts and never answers, as a partition
// looks to a client), or whose media body stalls after its headers, fails with a TimeoutError within the deadline
// and the SDK's retries, instead of hanging the invocation until the function's timeout.

import t, { type Test } from 'tap';
import { clientsFromEnv, LAMBDA_REQUEST_TIMEOUT_MS } from '../../cfn/lambda/clients.js';
import type { ConsumedRecord } from '../../cfn/lambda/parse-records.js';
import { FragmentStore } from '../../cfn/lambda/store-fragments.js';
import { blackHole, httpServer, timed, urlOf } from '../helpers/network.js';

const T = LAMBDA_REQUEST_TIMEOUT_MS;
/** The SDK's default attempts per call (standard retry mode). */
const ATTEMPTS = 3;
/** Backoff between attempts (full jitter from 50 ms: at most 150 ms in all) and scheduling. */
const SLACK_MS = 2_000;
/** Past this a call counts as hung: without deadlines it would wait for the function's timeout. */
const HUNG_MS = ATTEMPTS * T + 10_000;

// Prepare: one black hole for S3 and for one stream's data endpoint; a KVS control plane that answers each stream's
// GetDataEndpoint with the endpoint of its case (and never answers one of them); a media endpoint that answers at once
// and one that sends its headers and a little of the body, then nothing.
const hole = await blackHole(t);
let mediaCalls = 0;
const media = await httpServer(t, (req, res) => {
  req.resume();
  req.on('end', () => {
    mediaCalls++;
    res.writeHead(200, { 'content-type': 'video/webm' }).end(Buffer.alloc(4096, 1));
  });
});
const stall = await httpServer(t, (req, res) => {
  req.resume();
  req.on('end', () => res.writeHead(200, { 'content-type': 'video/webm' }).write(Buffer.alloc(1024, 1)));
});
const dataEndpoints: Record<string, string | null> = {
  'endpoint-hole': null,
  'media-hole': hole,
  'media-stall': urlOf(stall),
  's3-hole': urlOf(media),
};
const controlPlane = await httpServer(t, (req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    const { StreamName } = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { StreamName: string };
    const DataEndpoint = dataEndpoints[StreamName];
    if (DataEndpoint === null) return;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ DataEndpoint }));
  });
});

// Configured as in production: the SDK's standard variables.
Object.assign(process.env, {
  AWS_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'test',
  AWS_SECRET_ACCESS_KEY: 'test',
  AWS_ENDPOINT_URL_S3: hole,
  AWS_ENDPOINT_URL_KINESIS_VIDEO: urlOf(controlPlane),
});
const clients = clientsFromEnv(process.env);
t.teardown(() => {
  clients.s3.destroy();
  clients.kinesisVideo.destroy();
});

const store = (stream: string) =>
  new FragmentStore(clients, 'results').store({
    stream,
    fragmentNumber: '91343852333181432392682062607743920146264171298',
    frames: [{ record: { version: 1, streamName: stream, fragmentNumber: '1' } as ConsumedRecord, detections: [] }],
    sequenceNumbers: ['1'],
  });

// Act: the four at once, as the consumer stores fragments concurrently.
const [endpointHole, mediaHole, mediaStall, s3Hole] = await Promise.all(
  ['endpoint-hole', 'media-hole', 'media-stall', 's3-hole'].map((stream) => timed(store(stream), HUNG_MS)),
);

// Assess
const retried = (t: Test, result: { error: unknown; ms: number }) => {
  t.match(result.error, { name: 'TimeoutError' }, 'a TimeoutError');
  t.ok(
    result.ms >= ATTEMPTS * T - 50 && result.ms < ATTEMPTS * T + SLACK_MS,
    `after ${result.ms.toFixed(0)} ms: ${ATTEMPTS} attempts of ${T} ms each`,
  );
};

t.test('GetDataEndpoint never answered: the fragment fails at the deadline of each attempt', async (t) => {
  retried(t, endpointHole);
});

t.test('GetMediaForFragmentList black-holed: the fragment fails at the deadline of each attempt', async (t) => {
  retried(t, mediaHole);
});

t.test('GetMediaForFragmentList body stalled after its headers: cut after the idle deadline', async (t) => {
  t.match(mediaStall.error, { name: 'TimeoutError' }, 'a TimeoutError');
  t.ok(mediaStall.ms >= T - 50 && mediaStall.ms < T + SLACK_MS, `after ${mediaStall.ms.toFixed(0)} ms of silence`);
});

t.test(
  'S3 black-holed: the fragment, its media fetched, fails at the deadline of each PutObject attempt',
  async (t) => {
    t.equal(mediaCalls, 1, 'the media was fetched');
    retried(t, s3Hole);
  },
);
