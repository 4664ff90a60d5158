// The messages between FramePool and its worker threads. Errors travel as values: structured
// cloning keeps an Error's message but drops its class and `code`.

import type { AVCodecID } from 'node-av/constants';
import type { FrameErrorCode } from './errors.js';
import type { ImageContentType, ImageRequest } from './types.js';

/** A FrameTask after the pool has checked it; `data` is the access unit in an ArrayBuffer of its own. */
export interface WorkerTask {
  codecId: string;
  /** libavcodec's id for `codecId`, resolved by the pool. */
  avCodecId: AVCodecID;
  codecPrivate: Uint8Array | null;
  data: ArrayBuffer;
  output: ImageRequest;
}

/** `busyMs`: the thread's time on the task, for the pool's utilization. */
export type WorkerReply =
  | {
      ok: true;
      /** Exactly the image bytes, moved (not copied) to the pool's thread. */
      data: ArrayBuffer;
      contentType: ImageContentType;
      width: number;
      height: number;
      decodeMs: number;
      encodeMs: number;
      busyMs: number;
    }
  | { ok: false; code: FrameErrorCode; message: string; busyMs: number };
