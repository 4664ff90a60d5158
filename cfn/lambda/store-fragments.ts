// Keeps the media of fragments where something was detected, as KIT's blog extension does: the fragment
// from GetMediaForFragmentList as s3://BUCKET/<stream>/<fragment>.mkv, its records and detections as .json.

import { GetDataEndpointCommand, type KinesisVideoClient } from '@aws-sdk/client-kinesis-video';
import {
  GetMediaForFragmentListCommand,
  type KinesisVideoArchivedMediaClient,
} from '@aws-sdk/client-kinesis-video-archived-media';
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { type Detection, isoTime } from './describe.js';
import type { ConsumedRecord } from './parse-records.js';

export interface StoredFrame {
  record: ConsumedRecord;
  /** null when the answer was not in the Object Detection format, or the frame failed. */
  detections: Detection[] | null;
}

/** The records of one fragment in a batch. */
export interface FragmentGroup {
  stream: string;
  fragmentNumber: string;
  frames: StoredFrame[];
  sequenceNumbers: string[];
}

/** The `.json` object stored next to each fragment's media. */
export interface FragmentDocument {
  stream: string;
  fragmentNumber: string;
  serverTime: string | null;
  producerTime: string | null;
  media: { key: string; bytes: number; contentType: string };
  /**
   * Every frame of the fragment seen so far (across batches and retries, one per idempotencyKey), in timecode order.
   */
  frames: StoredFrame[];
}

export interface StoreClients {
  kinesisVideo: KinesisVideoClient;
  /** The archived-media client for a GetDataEndpoint answer (cached by the caller, once per container). */
  archivedMedia: (endpoint: string) => KinesisVideoArchivedMediaClient;
  s3: S3Client;
}

export const fragmentKey = (stream: string, fragmentNumber: string, extension: 'mkv' | 'json') =>
  `${stream}/${fragmentNumber}.${extension}`;

/** Stores fragments to `bucket`; one per invocation, since it caches each stream's data endpoint for that long. */
export class FragmentStore {
  readonly #clients: StoreClients;
  readonly #bucket: string;
  readonly #endpoints = new Map<string, Promise<string>>();

  constructor(clients: StoreClients, bucket: string) {
    this.#clients = clients;
    this.#bucket = bucket;
  }

  /** Stores the fragment's media, then its document (written last: its presence means both are there). */
  async store(group: FragmentGroup): Promise<FragmentDocument> {
    const media = await this.#media(group.stream, group.fragmentNumber);
    const mediaKey = fragmentKey(group.stream, group.fragmentNumber, 'mkv');
    // KVS answers video/webm; the objects are named .mkv, which is what players open.
    const contentType = 'video/x-matroska';
    await this.#clients.s3.send(
      new PutObjectCommand({ Bucket: this.#bucket, Key: mediaKey, Body: media, ContentType: contentType }),
    );
    const jsonKey = fragmentKey(group.stream, group.fragmentNumber, 'json');
    // A fragment's frames may arrive over several batches (or again on a retry): keep them all, once each.
    const frames = mergeFrames(await this.#previousFrames(jsonKey), group.frames);
    const first = frames[0]!.record;
    const document: FragmentDocument = {
      stream: group.stream,
      fragmentNumber: group.fragmentNumber,
      serverTime: isoTime(first.serverTimestamp),
      producerTime: isoTime(first.producerTimestamp),
      media: { key: mediaKey, bytes: media.byteLength, contentType },
      frames,
    };
    await this.#clients.s3.send(
      new PutObjectCommand({
        Bucket: this.#bucket,
        Key: jsonKey,
        Body: JSON.stringify(document),
        ContentType: 'application/json',
      }),
    );
    return document;
  }

  async #media(stream: string, fragmentNumber: string): Promise<Uint8Array> {
    const client = this.#clients.archivedMedia(await this.#endpoint(stream));
    const answer = await client.send(
      new GetMediaForFragmentListCommand({ StreamName: stream, Fragments: [fragmentNumber] }),
    );
    if (answer.Payload === undefined)
      throw new Error(`GetMediaForFragmentList sent no payload for ${stream} fragment ${fragmentNumber}`);
    return answer.Payload.transformToByteArray();
  }

  /** One GetDataEndpoint call per stream per invocation, shared by that stream's fragments. */
  #endpoint(stream: string): Promise<string> {
    let endpoint = this.#endpoints.get(stream);
    if (endpoint === undefined) {
      endpoint = this.#clients.kinesisVideo
        .send(new GetDataEndpointCommand({ StreamName: stream, APIName: 'GET_MEDIA_FOR_FRAGMENT_LIST' }))
        .then(({ DataEndpoint }) => {
          if (DataEndpoint === undefined) throw new Error(`GetDataEndpoint sent no DataEndpoint for ${stream}`);
          return DataEndpoint;
        });
      this.#endpoints.set(stream, endpoint);
    }
    return endpoint;
  }

  async #previousFrames(key: string): Promise<StoredFrame[]> {
    let text: string;
    try {
      const answer = await this.#clients.s3.send(new GetObjectCommand({ Bucket: this.#bucket, Key: key }));
      text = (await answer.Body?.transformToString('utf-8')) ?? '';
    } catch (error) {
      if ((error as Error).name === 'NoSuchKey') return [];
      throw error;
    }
    try {
      const frames = (JSON.parse(text) as Partial<FragmentDocument>).frames;
      return Array.isArray(frames) ? frames : [];
    } catch {
      // Not ours, or damaged: this batch's frames replace it.
      return [];
    }
  }
}

const frameKey = (frame: StoredFrame) => frame.record.idempotencyKey ?? `${frame.record.frameTimecode}`;

function mergeFrames(previous: StoredFrame[], current: StoredFrame[]): StoredFrame[] {
  const byKey = new Map<string, StoredFrame>();
  for (const frame of [...previous, ...current]) byKey.set(frameKey(frame), frame);
  return [...byKey.values()].sort((a, b) => (a.record.frameTimecode ?? 0) - (b.record.frameTimecode ?? 0));
}
