// The lease actor's reader against the local KVS server: resumes after a checkpoint (or a
// continuation token), starts at NOW without one, names the stream when it is missing, and stops when aborted.

import { KinesisVideoClient } from '@aws-sdk/client-kinesis-video';
import { KinesisVideoMediaClient } from '@aws-sdk/client-kinesis-video-media';
import t, { type Test } from 'tap';
import { readStreamMedia } from '../../src/actors/media-reader.js';
import { KvsServer } from '../../src/local/kvs/index.js';
import type { FragmentInput } from '../../src/local/kvs/types.js';
import { simpleBlock } from '../helpers/ebml-builder.js';

const config = (endpoint: string) => ({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' }, maxAttempts: 1 });

function fragment(i: number): FragmentInput {
  const blocks = Buffer.concat([simpleBlock(1, 0, true, Buffer.from(`f${i}-0`)), simpleBlock(1, 33, false, Buffer.from(`f${i}-1`))]);
  return { producerTimestamp: 1_700_000_000_000 + i * 1000, durationMs: 1000, tracks: [{ number: 1, type: 1, codecId: 'V_MPEG4/ISO/AVC', codecPrivate: Uint8Array.of(1), width: 64, height: 48 }], blocks, frames: 2, keyframes: 1 };
}

async function setup(t: Test) {
  const server = await KvsServer.create();
  t.teardown(() => server.close());
  server.createStream('cam');
  const log = server.streamLog('cam');
  const control = new KinesisVideoClient(config(server.url));
  const reader = (resumeAfter: string | null, signal?: AbortSignal, continuationToken?: string) =>
    readStreamMedia({ control, mediaClient: (endpoint) => new KinesisVideoMediaClient(config(endpoint)), streamName: 'cam', resumeAfter, continuationToken, signal });
  return { server, log, reader };
}

/** Payloads of the frames read, until `count` have come. */
async function frames(events: AsyncIterable<{ type: string; frame?: { data: Uint8Array } }>, count: number): Promise<string[]> {
  const seen: string[] = [];
  for await (const event of events) {
    if (event.type === 'frame') seen.push(Buffer.from(event.frame!.data).toString());
    if (seen.length === count) break;
  }
  return seen;
}

t.test('resumes just after the checkpointed fragment', async (t) => {
  // Prepare
  const { log, reader } = await setup(t);
  const stored = [0, 1, 2].map((i) => log.append(fragment(i)));

  // Act
  const read = await frames(reader(stored[0]!.fragmentNumber), 4);

  // Assess
  t.same(read, ['f1-0', 'f1-1', 'f2-0', 'f2-1']);
});

t.test('on a reconnect, the continuation token wins over the checkpoint; a token KVS refuses falls back to it', async (t) => {
  // Prepare
  const { log, reader } = await setup(t);
  const stored = [0, 1, 2, 3].map((i) => log.append(fragment(i)));

  // Act
  const byToken = await frames(reader(stored[0]!.fragmentNumber, undefined, stored[1]!.fragmentNumber), 2);
  const refused = await frames(reader(stored[0]!.fragmentNumber, undefined, 'not-a-token'), 2);

  // Assess
  t.same(byToken, ['f2-0', 'f2-1'], 'after the fragment the token names');
  t.same(refused, ['f1-0', 'f1-1'], 'after the checkpoint');
});

t.test('without a checkpoint, starts with the next fragment to arrive', async (t) => {
  const { log, reader } = await setup(t);
  log.append(fragment(0));
  const reading = frames(reader(null), 2);
  // The request is in flight once the server holds a reader; only then is a fragment "new".
  setTimeout(() => log.append(fragment(1)), 200);
  t.same(await reading, ['f1-0', 'f1-1']);
});

t.test('a missing stream is STREAM_NOT_FOUND naming it', async (t) => {
  const { server, reader } = await setup(t);
  server.deleteStream('cam');
  await t.rejects(frames(reader(null), 1), { code: 'STREAM_NOT_FOUND', message: /stream cam/ });
});

t.test('aborting ends the read without an error', async (t) => {
  const { log, reader } = await setup(t);
  log.append(fragment(0));
  const controller = new AbortController();
  const events = reader(null, controller.signal);
  setTimeout(() => controller.abort(), 100);
  const read = await frames(events, 1);
  t.same(read, [], 'nothing read, no exception');
});
