// What `kvs-infer replay` fails with. The bad-input codes (exit 2, one line) are listed in src/cli/failure.ts.

import { KvsInferError } from '../errors.js';

export type ReplayErrorCode =
  /** --start or --end is neither ISO 8601 with a time zone nor epoch milliseconds. */
  | 'REPLAY_BAD_TIME'
  /** --end is before --start. */
  | 'REPLAY_BAD_RANGE'
  /** The video stream does not exist (or the caller may not read it). */
  | 'REPLAY_UNKNOWN_STREAM'
  /** The data stream the records would go to does not exist. */
  | 'REPLAY_UNKNOWN_DATA_STREAM'
  /** The progress file cannot be read, is not one, or belongs to another replay. */
  | 'REPLAY_BAD_PROGRESS'
  /** Listing or reading the range failed after its retries; the progress file keeps what was done. */
  | 'REPLAY_FAILED';

export class ReplayError extends KvsInferError<ReplayErrorCode> {}
