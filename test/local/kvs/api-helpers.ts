// Shared setup for the local KVS API tests: a server on a free port, the real SDK clients pointed
// at it the way a service finds its data endpoint, synthetic fragments and producer MKVs, and GetMedia body readers.

import { type APIName, GetDataEndpointCommand, KinesisVideoClient } from '@aws-sdk/client-kinesis-video';
import { KinesisVideoArchivedMediaClient } from '@aws-sdk/client-kinesis-video-archived-media';
import { KinesisVideoMediaClient } from '@aws-sdk/client-kinesis-video-media';
import type { Test } from 'tap';
import { KvsServer, type KvsServerOptions } from '../../../src/local/kvs/server.js';
import type { FragmentInput } from '../../../src/local/kvs/types.js';
import { type Fragment, type Frame, readMkv, type TrackInfo } from '../../../src/media/index.js';
import { clusterTimecode, ebmlHeader, simpleBlock, tracks, unknown } from '../../helpers/ebml-builder.js';

/** Any fixed instant: tests move time by hand. */
export const T0 = 1_700_000_000_000;

export class ManualClock {
  ms: number;
  constructor(start = T0) {
    this.ms = start;
  }
  now(): number {
    return this.ms;
  }
  advance(ms: number): void {
    this.ms += ms;
  }
}

const clientConfig = (endpoint: string) => ({
  region: 'us-east-1',
  endpoint,
  credentials: { accessKeyId: 'AKIDLOCALKVS', secretAccessKey: 'local-secret' },
  // Errors are the point of several tests: answer them at once instead of after backoff.
  maxAttempts: 1,
});

export async function startServer(t: Test, options: KvsServerOptions = {}): Promise<KvsServer> {
  const server = await KvsServer.create(options);
  t.teardown(() => server.close());
  return server;
}

export function controlClient(t: Test, server: KvsServer): KinesisVideoClient {
  const client = new KinesisVideoClient(clientConfig(server.url));
  t.teardown(() => client.destroy());
  return client;
}

/** What a real service does: ask the control plane for the stream's data endpoint first. */
export async function dataEndpoint(control: KinesisVideoClient, streamName: string, api: APIName): Promise<string> {
  const { DataEndpoint } = await control.send(new GetDataEndpointCommand({ StreamName: streamName, APIName: api }));
  if (!DataEndpoint) throw new Error('GetDataEndpoint answered no endpoint');
  return DataEndpoint;
}

export async function mediaClient(
  t: Test,
  control: KinesisVideoClient,
  streamName: string,
): Promise<KinesisVideoMediaClient> {
  const client = new KinesisVideoMediaClient(clientConfig(await dataEndpoint(control, streamName, 'GET_MEDIA')));
  t.teardown(() => client.destroy());
  return client;
}

export async function archivedClient(
  t: Test,
  control: KinesisVideoClient,
  streamName: string,
): Promise<KinesisVideoArchivedMediaClient> {
  const client = new KinesisVideoArchivedMediaClient(
    clientConfig(await dataEndpoint(control, streamName, 'LIST_FRAGMENTS')),
  );
  t.teardown(() => client.destroy());
  return client;
}

export const VIDEO_TRACK: TrackInfo = {
  number: 1,
  type: 1,
  codecId: 'V_MPEG4/ISO/AVC',
  codecPrivate: Uint8Array.of(1, 0x64, 0, 0x1f),
  width: 64,
  height: 48,
};

/**
 * A fragment of `frames` frames 40 ms apart, the first a keyframe; each frame's payload names its
 * fragment and position (`f<tag>-<i>`) so that a test can tell exactly which frames arrived.
 */
export function syntheticFragment(tag: string | number, producerTimestamp: number, frames = 3): FragmentInput {
  const blocks = Array.from({ length: frames }, (_, i) => simpleBlock(1, i * 40, i === 0, Buffer.from(`f${tag}-${i}`)));
  return {
    producerTimestamp,
    durationMs: frames * 40,
    tracks: [VIDEO_TRACK],
    blocks: Buffer.concat(blocks),
    frames,
    keyframes: 1,
  };
}

/** A producer's MKV by hand: one Segment with these tracks, then one cluster per entry of frame offsets (ms). */
export function producerMkv(trackCount: number, clusters: { timecode: number; offsets: number[] }[]): Buffer {
  const declared = Array.from({ length: trackCount }, (_, i) =>
    i === 0
      ? { number: 1, type: 1, codecId: 'V_MPEG4/ISO/AVC', width: 64, height: 48 }
      : { number: i + 1, type: 2, codecId: 'A_AAC' },
  );
  const clusterBytes = clusters.map(({ timecode, offsets }) =>
    unknown(
      0x1f43b675,
      clusterTimecode(timecode),
      ...offsets.map((offset, i) => simpleBlock(1, offset, i === 0, Buffer.from(`frame ${timecode + offset}`))),
    ),
  );
  return Buffer.concat([ebmlHeader(), unknown(0x18538067, tracks(...declared), ...clusterBytes)]);
}

export interface ReadResult {
  frames: Frame[];
  /** Complete fragments (the parser finishes one when the next begins or the body ends). */
  fragments: Fragment[];
  tracks: TrackInfo[][];
  /** Fragment numbers in arrival order, from the frames' fragments. */
  fragmentNumbers: string[];
  /** The payloads as text (`f<tag>-<i>` for synthetic fragments). */
  payloads: string[];
}

/**
 * Reads a media body until `done` says enough (or the body ends), then lets go of it. GetMedia
 * bodies never end on their own, so every test names what it waits for.
 */
export async function readBody(
  body: AsyncIterable<Uint8Array> & { destroy?: () => void },
  done: (read: ReadResult) => boolean = () => false,
): Promise<ReadResult> {
  const read: ReadResult = { frames: [], fragments: [], tracks: [], fragmentNumbers: [], payloads: [] };
  try {
    for await (const event of readMkv(body)) {
      if (event.type === 'tracks') read.tracks.push(event.tracks);
      if (event.type === 'error') throw event.error;
      if (event.type === 'fragment') read.fragments.push(event.fragment);
      if (event.type !== 'frame') continue;
      read.frames.push(event.frame);
      read.payloads.push(Buffer.from(event.frame.data).toString());
      const number = event.frame.fragment.fragmentNumber;
      if (number !== null && read.fragmentNumbers[read.fragmentNumbers.length - 1] !== number)
        read.fragmentNumbers.push(number);
      if (done(read)) break;
    }
  } finally {
    body.destroy?.();
  }
  return read;
}

/** Waits until `check` holds, polling: for effects that travel through sockets. */
export async function eventually(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
