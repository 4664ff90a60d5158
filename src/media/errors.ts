// Errors of the media layer; `offset` is the byte offset in the input where the problem starts.

import { KvsInferError } from '../errors.js';
import type { Fragment } from './types.js';

export type MediaErrorCode = 'MKV_TRUNCATED' | 'MKV_INVALID' | 'MKV_EMPTY' | 'NO_VIDEO_TRACK';

export class MediaError extends KvsInferError<MediaErrorCode> {
  /** Byte offset in the input, or null where the error is not about a position. */
  readonly offset: number | null;
  /** The fragment being read when the error happened, if any. */
  readonly fragment: Fragment | null;

  constructor(
    code: MediaErrorCode,
    message: string,
    details: { offset?: number | null; fragment?: Fragment | null; cause?: unknown } = {},
  ) {
    super(code, message, { cause: details.cause });
    this.offset = details.offset ?? null;
    this.fragment = details.fragment ?? null;
  }
}
