// A video file (Matroska or MP4, H.264 or H.265) turned once into KVS fragments, cut at keyframes
// with their SimpleBlocks prebuilt, then replayed into a FragmentLog in real time, faster, or looped.

import { setImmediate as yieldToLoop } from 'node:timers/promises';
import {
  AV_CODEC_ID_H264,
  AV_CODEC_ID_HEVC,
  AV_LOG_QUIET,
  AV_NOPTS_VALUE,
  AVERROR_EOF,
  AVMEDIA_TYPE_VIDEO,
} from 'node-av/constants';
import { FFmpegError, FormatContext, Log, Packet, type Stream } from 'node-av/lib';
import { KvsInferError } from '../../errors.js';
import { TRACK_TYPE_VIDEO, type TrackInfo } from '../../media/types.js';
import type { FragmentLog } from './fragment-log.js';
import { type BlockSpec, simpleBlocks } from './mkv-writer.js';
import type { FragmentInput } from './types.js';

export type FileSourceErrorCode = 'FILE_SOURCE_UNREADABLE' | 'FILE_SOURCE_UNSUPPORTED';

export class FileSourceError extends KvsInferError<FileSourceErrorCode> {
  readonly path: string;

  constructor(code: FileSourceErrorCode, path: string, message: string, options?: { cause?: unknown }) {
    super(code, `${path}: ${message}`, options);
    this.path = path;
  }
}

/** One fragment of the file, ready to append: only the producer timestamp is filled in at replay. */
export interface SourceFragment {
  /** Media time of its first (key)frame from the file's first keyframe, ms. */
  offsetMs: number;
  durationMs: number;
  /** SimpleBlocks (track 1) with timecodes relative to the fragment start; shared by every replay. */
  blocks: Uint8Array;
  frames: number;
  keyframes: number;
}

export interface ReplayOptions {
  /** Media seconds per wall-clock second; 'max' appends as fast as the event loop allows. Default 1. */
  rate?: number | 'max';
  /** Start over after the last fragment, with timestamps that keep increasing. Default false. */
  loop?: boolean;
  clock?: () => number;
  /** Waits `ms` or until `signal` aborts, whichever comes first; default a timer. Tests pass a fake. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  signal?: AbortSignal;
  /** Producer timestamp of the first fragment, epoch ms; default the clock at the start. */
  startProducerTimestamp?: number;
}

const CODECS = new Map<number, string>([
  [AV_CODEC_ID_H264, 'V_MPEG4/ISO/AVC'],
  [AV_CODEC_ID_HEVC, 'V_MPEGH/ISO/HEVC'],
]);

/** A SimpleBlock's timecode is a signed 16-bit offset from its cluster's. */
const MAX_FRAGMENT_MS = 32_767;

/** A packet as read: its data copied out of libav's buffer, times in ms from the file's start. */
interface Sample {
  data: Buffer;
  ptsMs: number;
  endMs: number;
  keyframe: boolean;
}

export class FileSource {
  readonly path: string;
  /** The video track alone, renumbered 1 as KVS producers send it. */
  readonly tracks: TrackInfo[];
  readonly fragments: readonly SourceFragment[];
  /** One pass over the file, ms: the media time a loop advances by. */
  readonly durationMs: number;
  readonly frames: number;
  readonly keyframes: number;

  private constructor(path: string, track: TrackInfo, fragments: SourceFragment[]) {
    this.path = path;
    this.tracks = [track];
    this.fragments = fragments;
    const last = fragments.at(-1)!;
    this.durationMs = last.offsetMs + last.durationMs;
    this.frames = fragments.reduce((n, f) => n + f.frames, 0);
    this.keyframes = fragments.reduce((n, f) => n + f.keyframes, 0);
  }

  /** Demuxes the whole file (no decoding); rejects with FILE_SOURCE_UNREADABLE or FILE_SOURCE_UNSUPPORTED. */
  static async open(path: string): Promise<FileSource> {
    Log.setLevel(AV_LOG_QUIET);
    const input = new FormatContext();
    let opened = false;
    try {
      const ret = await input.openInput(path);
      if (ret < 0) throw unreadable(path, 'cannot be opened', ret);
      opened = true;
      const info = await input.findStreamInfo();
      if (info < 0) throw unreadable(path, 'cannot be probed', info);
      const stream = input.streams.find((s) => s.codecpar.codecType === AVMEDIA_TYPE_VIDEO);
      if (stream === undefined) throw new FileSourceError('FILE_SOURCE_UNSUPPORTED', path, 'has no video track');
      const track = videoTrack(path, stream);
      const samples = await readSamples(path, input, stream);
      return new FileSource(path, track, cut(path, samples));
    } finally {
      if (opened) await input.closeInput();
      else input.freeContext();
    }
  }

  /** The FragmentInput of fragment `index` on pass `loop` of a replay that started at `startProducerTimestamp`. */
  input(index: number, loop: number, startProducerTimestamp: number): FragmentInput {
    const fragment = this.fragments[index]!;
    const mediaMs = loop * this.durationMs + fragment.offsetMs;
    return {
      producerTimestamp: startProducerTimestamp + mediaMs,
      clusterTimecode: mediaMs,
      durationMs: fragment.durationMs,
      tracks: this.tracks,
      blocks: fragment.blocks,
      frames: fragment.frames,
      keyframes: fragment.keyframes,
    };
  }

  /**
   * Appends the fragments to `log` as a camera would send them: fragment i when its media time has
   * elapsed since the start (GetMedia delivers a fragment as soon as it starts arriving). Resolves at
   * the end of the file (never when looping), when `signal` aborts, or when the log is closed.
   */
  async replay(log: FragmentLog, options: ReplayOptions = {}): Promise<void> {
    const rate = options.rate ?? 1;
    if (rate !== 'max' && !(typeof rate === 'number' && rate > 0 && Number.isFinite(rate))) {
      throw new RangeError(`rate must be a positive number or 'max', got ${String(rate)}`);
    }
    const clock = options.clock ?? Date.now;
    const sleep = options.sleep ?? timerSleep;
    const { signal } = options;
    const startedAt = clock();
    const startProducerTimestamp = options.startProducerTimestamp ?? startedAt;
    for (let loop = 0; ; loop++) {
      for (let index = 0; index < this.fragments.length; index++) {
        if (signal?.aborted || log.closed) return;
        if (rate === 'max') {
          // One fragment per turn of the event loop, so that readers and other streams keep up.
          await yieldToLoop();
        } else {
          // Targets come from the start, not the previous append, so that timer lateness does not add up.
          const dueAt = startedAt + (loop * this.durationMs + this.fragments[index]!.offsetMs) / rate;
          const wait = dueAt - clock();
          if (wait > 0) await sleep(wait, signal);
        }
        if (signal?.aborted || log.closed) return;
        log.append(this.input(index, loop, startProducerTimestamp));
      }
      if (!options.loop) return;
    }
  }
}

function timerSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

function unreadable(path: string, what: string, ret: number): FileSourceError {
  return new FileSourceError('FILE_SOURCE_UNREADABLE', path, `${what}: ${FFmpegError.strerror(ret)}`, {
    cause: FFmpegError.fromCode(ret),
  });
}

function videoTrack(path: string, stream: Stream): TrackInfo {
  const { codecpar } = stream;
  const codecId = CODECS.get(codecpar.codecId);
  if (codecId === undefined) {
    throw new FileSourceError(
      'FILE_SOURCE_UNSUPPORTED',
      path,
      `video codec ${codecpar.codecId} is neither H.264 nor H.265`,
    );
  }
  const extradata = codecpar.extradata;
  // avcC / hvcC start with configurationVersion 1; Annex B extradata (MPEG-TS, raw streams) starts with a start code
  // and its samples are not length-prefixed, so Matroska blocks cannot carry them as they are.
  if (extradata === null || extradata.length < 7 || extradata[0] !== 1) {
    throw new FileSourceError(
      'FILE_SOURCE_UNSUPPORTED',
      path,
      `${codecId} without avcC/hvcC decoder configuration (Annex B input is not supported)`,
    );
  }
  return {
    number: 1,
    type: TRACK_TYPE_VIDEO,
    codecId,
    codecPrivate: new Uint8Array(extradata),
    width: codecpar.width || null,
    height: codecpar.height || null,
  };
}

async function readSamples(path: string, input: FormatContext, stream: Stream): Promise<Sample[]> {
  const { num, den } = stream.timeBase;
  const toMs = (ts: bigint): number => (Number(ts) * num * 1000) / den;
  const packet = new Packet();
  packet.alloc();
  const samples: Sample[] = [];
  try {
    for (;;) {
      const ret = await input.readFrame(packet);
      if (ret < 0) {
        if (ret === AVERROR_EOF || samples.length > 0) break;
        throw unreadable(path, 'cannot be read', ret);
      }
      if (packet.streamIndex === stream.index && packet.data !== null && packet.size > 0) {
        const ts = packet.pts !== AV_NOPTS_VALUE ? packet.pts : packet.dts;
        if (ts !== AV_NOPTS_VALUE) {
          const ptsMs = toMs(ts);
          samples.push({ data: packet.data, ptsMs, endMs: ptsMs + toMs(packet.duration), keyframe: packet.isKeyframe });
        }
      }
      packet.unref();
    }
  } finally {
    packet.free();
  }
  return samples;
}

/**
 * Fragments from keyframe to keyframe, in decode order; what precedes the first keyframe cannot be decoded and is
 * dropped.
 */
function cut(path: string, samples: Sample[]): SourceFragment[] {
  const first = samples.findIndex((s) => s.keyframe);
  if (first < 0) throw new FileSourceError('FILE_SOURCE_UNSUPPORTED', path, 'has no video keyframe');
  const origin = samples[first]!.ptsMs;
  // Integer milliseconds on one timeline, so that offsets and relative timecodes agree exactly.
  const ms = (t: number): number => Math.round(t - origin);
  const groups: Sample[][] = [];
  for (const sample of samples.slice(first)) {
    if (sample.keyframe || groups.length === 0) groups.push([sample]);
    else groups.at(-1)!.push(sample);
  }
  const end = Math.max(...samples.slice(first).map((s) => ms(s.endMs)));
  return groups.map((group, i) => {
    const offsetMs = ms(group[0]!.ptsMs);
    const next = groups[i + 1];
    const durationMs = Math.max(1, (next ? ms(next[0]!.ptsMs) : end) - offsetMs);
    const blocks: BlockSpec[] = group.map((s) => ({
      track: 1,
      timecode: ms(s.ptsMs) - offsetMs,
      keyframe: s.keyframe,
      data: s.data,
    }));
    if (blocks.some((b) => b.timecode > MAX_FRAGMENT_MS || b.timecode < -MAX_FRAGMENT_MS)) {
      throw new FileSourceError(
        'FILE_SOURCE_UNSUPPORTED',
        path,
        `keyframes more than ${MAX_FRAGMENT_MS} ms apart at ${offsetMs} ms`,
      );
    }
    return {
      offsetMs,
      durationMs,
      blocks: simpleBlocks(blocks),
      frames: group.length,
      keyframes: group.filter((s) => s.keyframe).length,
    };
  });
}
