// PutMedia ingest: a producer's MKV stream (one EBML header and Segment, then clusters) parsed as it
// arrives, cut into fragments at clusters that start with a keyframe, appended to the log, and acked.

import { type MkvEvent, MkvParser } from '../../media/mkv-parser.js';
import type { Fragment, TrackInfo } from '../../media/types.js';
import type { FragmentLog } from './fragment-log.js';
import { type BlockSpec, simpleBlocks } from './mkv-writer.js';

export type PutMediaEventType = 'BUFFERING' | 'RECEIVED' | 'PERSISTED' | 'ERROR' | 'IDLE';

/**
 * The ErrorCodes of PutMedia ERROR acknowledgements that this server raises, with their ErrorIds (PutMedia reference).
 */
export const PUT_MEDIA_ERROR = {
  STREAM_READ_ERROR: 4000,
  MAX_FRAGMENT_SIZE_REACHED: 4001,
  MAX_FRAGMENT_DURATION_REACHED: 4002,
  FRAGMENT_TIMECODE_LESSER_THAN_PREVIOUS: 4004,
  INVALID_MKV_DATA: 4006,
  STREAM_NOT_ACTIVE: 4008,
  MORE_THAN_ALLOWED_TRACKS_FOUND: 4012,
} as const;

export type PutMediaErrorCode = keyof typeof PUT_MEDIA_ERROR;

/** One acknowledgement, as KVS streams them back (one JSON object per line). */
export interface PutMediaAck {
  EventType: PutMediaEventType;
  /** The fragment's timecode as the producer sent it (its first frame's), in ms. */
  FragmentTimecode: number;
  FragmentNumber?: string;
  /** ERROR acks: the code's name and number, both sent by KVS. */
  ErrorCode?: PutMediaErrorCode;
  ErrorId?: number;
}

export interface PutMediaOptions {
  /**
   * x-amzn-fragment-timecode-type: cluster timecodes are epoch ms (ABSOLUTE) or ms since producerStartTimestamp
   * (RELATIVE).
   */
  timecodeType: 'ABSOLUTE' | 'RELATIVE';
  /** Epoch ms; RELATIVE only. Default: the clock when ingest starts. */
  producerStartTimestamp?: number;
  clock?: () => number;
  /** KVS refuses fragments over 50 MB. */
  maxFragmentBytes?: number;
  /** Whether the stream archives (DataRetentionInHours above 0): only then does KVS ack PERSISTED. Default true. */
  persisted?: boolean;
}

/**
 * The longest span of frame timecodes in a fragment: 10 s in the PutMedia reference (ErrorId 4002) and in the KVS
 * team's answers on the producer SDK's issues; the service quotas page says 20 s. The stricter one, so that what
 * passes here passes on AWS.
 */
const MAX_FRAGMENT_MS = 10_000;
/** Tracks a producer's MKV may declare (service quotas). */
const MAX_TRACKS = 3;

interface PendingFragment {
  /** Producer timecode of the first frame, ms. */
  timecode: number;
  tracks: TrackInfo[];
  frames: { timecodeMs: number; keyframe: boolean; data: Uint8Array }[];
  bytes: number;
}

/** Thrown inside ingest to end it with an ERROR ack. */
class IngestFailure {
  constructor(
    readonly code: PutMediaErrorCode,
    readonly timecode: number,
  ) {}
}

/**
 * Reads `body` to its end, appending each completed fragment to `log`, and yields the acks: BUFFERING when
 * a fragment starts, RECEIVED and (when `persisted`) PERSISTED once it is in the log (a fragment is complete when
 * the next one starts, or the body ends). The first problem yields one ERROR ack and ends ingest; fragments already
 * acked stay. Only video is kept (audio blocks are dropped); frames before the first keyframe are dropped.
 */
export async function* ingestPutMedia(
  body: AsyncIterable<Uint8Array>,
  log: FragmentLog,
  options: PutMediaOptions,
): AsyncGenerator<PutMediaAck> {
  const clock = options.clock ?? Date.now;
  const producerStart = options.timecodeType === 'RELATIVE' ? (options.producerStartTimestamp ?? clock()) : 0;
  const maxFragmentBytes = options.maxFragmentBytes ?? 50 * 1024 * 1024;
  const persisted = options.persisted ?? true;
  const parser = new MkvParser();
  let tracks: TrackInfo[] | null = null;
  let cluster: Fragment | null = null;
  // Held in an object: TypeScript does not track variables assigned inside closures.
  const state: { pending: PendingFragment | null } = { pending: null };
  let previousTimecode = -Infinity;
  const acks: PutMediaAck[] = [];

  /** Appends the pending fragment, if any; `nextTimecode` (the next fragment's start) gives its duration. */
  const complete = (nextTimecode: number | null): void => {
    const fragment = state.pending;
    state.pending = null;
    if (fragment === null) return;
    let latest = fragment.timecode;
    for (const f of fragment.frames) latest = Math.max(latest, f.timecodeMs);
    // The last fragment's end is not sent: count one more (average) frame interval after its latest frame.
    const durationMs = nextTimecode ?? latest + (latest - fragment.timecode) / Math.max(1, fragment.frames.length - 1);
    const blocks: BlockSpec[] = fragment.frames.map((f) => ({
      track: 1,
      timecode: f.timecodeMs - fragment.timecode,
      keyframe: f.keyframe,
      data: f.data,
    }));
    if (log.closed) throw new IngestFailure('STREAM_NOT_ACTIVE', fragment.timecode);
    const stored = log.append({
      producerTimestamp: producerStart + fragment.timecode,
      clusterTimecode: fragment.timecode,
      durationMs: Math.round(durationMs - fragment.timecode),
      tracks: fragment.tracks,
      blocks: simpleBlocks(blocks),
      frames: fragment.frames.length,
      keyframes: fragment.frames.filter((f) => f.keyframe).length,
    });
    acks.push({ EventType: 'RECEIVED', FragmentTimecode: fragment.timecode, FragmentNumber: stored.fragmentNumber });
    if (persisted)
      acks.push({ EventType: 'PERSISTED', FragmentTimecode: fragment.timecode, FragmentNumber: stored.fragmentNumber });
  };

  const handle = (events: MkvEvent[]): void => {
    for (const event of events) {
      switch (event.type) {
        case 'error':
          throw new IngestFailure('INVALID_MKV_DATA', state.pending?.timecode ?? 0);
        case 'tracks': {
          const video = event.video;
          if (event.tracks.length > MAX_TRACKS)
            throw new IngestFailure('MORE_THAN_ALLOWED_TRACKS_FOUND', state.pending?.timecode ?? 0);
          if (video === null) throw new IngestFailure('INVALID_MKV_DATA', state.pending?.timecode ?? 0);
          // One array per session, so that GetMedia renders its header once for all of them.
          tracks = [{ ...video, number: 1 }];
          break;
        }
        case 'frame': {
          const { frame } = event;
          const firstOfCluster = frame.fragment !== cluster;
          cluster = frame.fragment;
          const timecodeMs = Math.round(frame.timecodeMs);
          if (firstOfCluster && frame.keyframe) {
            // The previous fragment is complete whatever this one turns out to be.
            complete(timecodeMs);
            if (timecodeMs <= previousTimecode)
              throw new IngestFailure('FRAGMENT_TIMECODE_LESSER_THAN_PREVIOUS', timecodeMs);
            previousTimecode = timecodeMs;
            state.pending = { timecode: timecodeMs, tracks: tracks!, frames: [], bytes: 0 };
            acks.push({ EventType: 'BUFFERING', FragmentTimecode: timecodeMs });
          }
          const current: PendingFragment | null = state.pending;
          if (current === null) break;
          if (Math.abs(timecodeMs - current.timecode) > MAX_FRAGMENT_MS)
            throw new IngestFailure('MAX_FRAGMENT_DURATION_REACHED', current.timecode);
          current.bytes += frame.data.length;
          if (current.bytes > maxFragmentBytes) throw new IngestFailure('MAX_FRAGMENT_SIZE_REACHED', current.timecode);
          current.frames.push({ timecodeMs, keyframe: frame.keyframe, data: frame.data });
          break;
        }
        case 'fragment':
          break;
      }
    }
  };

  try {
    try {
      for await (const chunk of body) {
        handle(parser.push(chunk));
        yield* drain(acks);
      }
    } catch (error) {
      if (error instanceof IngestFailure) throw error;
      // The body broke off (client gone, socket error): what was complete is kept.
      throw new IngestFailure('STREAM_READ_ERROR', state.pending?.timecode ?? 0);
    }
    handle(parser.end());
    complete(null);
    yield* drain(acks);
  } catch (error) {
    if (!(error instanceof IngestFailure)) throw error;
    yield* drain(acks);
    yield {
      EventType: 'ERROR',
      FragmentTimecode: error.timecode,
      ErrorCode: error.code,
      ErrorId: PUT_MEDIA_ERROR[error.code],
    };
  }
}

function* drain(acks: PutMediaAck[]): Generator<PutMediaAck> {
  while (acks.length > 0) yield acks.shift()!;
}
