// Decodes single access units on a worker thread, keeping opened decoders per (codec, CodecPrivate)
// so that a stream's frames after the first skip the decoder set-up.

import { AVERROR_EOF } from 'node-av/constants';
import { Codec, CodecContext, Frame, Packet } from 'node-av/lib';
import { FrameError } from './errors.js';
import { ffmpegFailure } from './ffmpeg-errors.js';
import type { WorkerTask } from './worker-protocol.js';

/** Decoders kept per thread; a worker rarely sees more streams' configurations than this in a row. */
const CACHED_DECODERS = 4;

/** Lives as long as its worker thread; the thread's exit frees what it holds. */
export class FrameDecoder {
  /** In least-recently-used order: Map iteration follows insertion, and a hit is re-inserted. */
  readonly #decoders = new Map<string, CodecContext>();
  readonly #packet = new Packet();

  constructor() {
    this.#packet.alloc();
  }

  /** The picture in `task.data`; the caller owns (and frees) the returned frame. */
  decode(task: WorkerTask): Frame {
    const decoder = this.#decoder(task);
    const frame = new Frame();
    frame.alloc();
    try {
      // The setter copies into a padded AVPacket buffer, as libavcodec requires.
      this.#packet.data = Buffer.from(task.data);
      const sent = decoder.sendPacketSync(this.#packet);
      if (sent < 0) throw ffmpegFailure('DECODE_FAILED', `${task.codecId}: the decoder rejected the access unit`, sent);
      // Drain at once: with B-frames the decoder would otherwise hold the picture back for reordering.
      decoder.sendPacketSync(null);
      const received = decoder.receiveFrameSync(frame);
      if (received === AVERROR_EOF) {
        throw new FrameError(
          'DECODE_FAILED',
          `${task.codecId}: the access unit decoded to no picture (corrupt, or not a keyframe)`,
        );
      }
      if (received < 0) throw ffmpegFailure('DECODE_FAILED', `${task.codecId}: decoding failed`, received);
      return frame;
    } catch (error) {
      frame.free();
      throw error;
    } finally {
      // Leaves draining mode and drops references, so the next access unit starts clean on the same decoder.
      decoder.flushBuffers();
      this.#packet.unref();
    }
  }

  #decoder(task: WorkerTask): CodecContext {
    const key = cacheKey(task);
    const cached = this.#decoders.get(key);
    if (cached) {
      this.#decoders.delete(key);
      this.#decoders.set(key, cached);
      return cached;
    }
    const decoder = openDecoder(task);
    if (this.#decoders.size >= CACHED_DECODERS) {
      const [oldestKey, oldest] = this.#decoders.entries().next().value!;
      oldest.freeContext();
      this.#decoders.delete(oldestKey);
    }
    this.#decoders.set(key, decoder);
    return decoder;
  }
}

function cacheKey({ avCodecId, codecPrivate }: WorkerTask): string {
  if (!codecPrivate) return `${avCodecId}`;
  const bytes = Buffer.from(codecPrivate.buffer, codecPrivate.byteOffset, codecPrivate.byteLength);
  return `${avCodecId}:${bytes.toString('base64')}`;
}

function openDecoder(task: WorkerTask): CodecContext {
  const codec = Codec.findDecoder(task.avCodecId);
  if (!codec) throw new FrameError('UNSUPPORTED_CODEC', `${task.codecId}: this FFmpeg build has no decoder for it`);
  const decoder = new CodecContext();
  decoder.allocContext3(codec);
  // One thread per decoder: the pool's threads are the parallelism.
  decoder.threadCount = 1;
  if (task.codecPrivate) decoder.extraData = Buffer.from(task.codecPrivate);
  const opened = decoder.open2Sync(codec, null);
  if (opened < 0) {
    decoder.freeContext();
    throw ffmpegFailure(
      'DECODE_FAILED',
      `${task.codecId}: cannot open the ${codec.name} decoder with this CodecPrivate`,
      opened,
    );
  }
  return decoder;
}
