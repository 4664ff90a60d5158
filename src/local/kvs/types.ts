// The contract between the local KVS server's media core (fragment log, file and PutMedia
// ingest, GetMedia rendering) and its HTTP API layer.

import type { TrackInfo } from '../../media/types.js';

/** A fragment as ingest hands it over: media only; the log gives it its number and server timestamp. */
export interface FragmentInput {
  /** The producer's timestamp of the fragment's first frame, epoch milliseconds. */
  producerTimestamp: number;
  /**
   * The producer's own cluster Timecode (ms), which KVS passes through to GetMedia untouched: with
   * RELATIVE PutMedia timecodes or a replayed file, the fragment's offset from the stream's start; with
   * ABSOLUTE ones, epoch ms. Optional: when absent, GetMedia writes `producerTimestamp`.
   */
  clusterTimecode?: number;
  durationMs: number;
  /** The tracks of the fragment (video first; CodecPrivate included). */
  tracks: TrackInfo[];
  /**
   * The cluster's content after its Timecode element: complete SimpleBlock elements (ids and sizes
   * included) whose 16-bit timecodes are relative to the fragment start, in milliseconds. Built once
   * per source fragment and shared by every GetMedia response that sends it.
   */
  blocks: Uint8Array;
  /** Video frames and keyframes in `blocks` (the first is always a keyframe). */
  frames: number;
  keyframes: number;
}

export interface StoredFragment extends FragmentInput {
  /** Decimal string, strictly increasing within a stream; compare as BigInt, not as strings. */
  fragmentNumber: string;
  /** Epoch milliseconds at which the log received the fragment. */
  serverTimestamp: number;
  /** Size of the fragment's media (`blocks`), as ListFragments reports it. */
  sizeBytes: number;
}

/** GetMedia's StartSelector, as the API receives it (timestamps already converted to epoch ms). */
export type StartSelector =
  | { type: 'NOW' }
  | { type: 'EARLIEST' }
  | { type: 'FRAGMENT_NUMBER'; afterFragmentNumber: string }
  | { type: 'SERVER_TIMESTAMP'; startTimestamp: number }
  | { type: 'PRODUCER_TIMESTAMP'; startTimestamp: number }
  | { type: 'CONTINUATION_TOKEN'; continuationToken: string };

/** ListFragments' selector (epoch ms, inclusive bounds). */
export interface FragmentRange {
  type: 'SERVER_TIMESTAMP' | 'PRODUCER_TIMESTAMP';
  start: number;
  end: number;
}
