// The shapes the MKV parser hands out: tracks, fragments (with their KVS metadata) and frames.

/** Matroska TrackType values (1 video, 2 audio, 17 subtitle, ...). */
export const TRACK_TYPE_VIDEO = 1;

export interface TrackInfo {
  number: number;
  /** Matroska TrackType: 1 video, 2 audio, ... */
  type: number;
  /** Matroska CodecID, e.g. `V_MPEG4/ISO/AVC`, `V_MPEGH/ISO/HEVC`. */
  codecId: string | null;
  /** avcC / hvcC / ... decoder configuration, as stored in the file. */
  codecPrivate: Uint8Array | null;
  width: number | null;
  height: number | null;
}

/**
 * One KVS fragment: one EBML document of GetMedia output, or one cluster of a plain Matroska file.
 * Fields that KVS sends after the cluster (millisBehindNow, continuationToken) are filled in by the
 * time the `fragment` event is emitted.
 */
export interface Fragment {
  /** 0-based position in arrival order. */
  index: number;
  fragmentNumber: string | null;
  /** KVS server timestamp, epoch milliseconds. */
  serverTimestamp: number | null;
  /** KVS producer timestamp, epoch milliseconds. */
  producerTimestamp: number | null;
  millisBehindNow: number | null;
  continuationToken: string | null;
  errorCode: string | null;
  errorId: string | null;
  /** The producer's own tags (every SimpleTag not named AWS_KINESISVIDEO_*). */
  tags: Record<string, string>;
  /** Video frames and video keyframes in this fragment. */
  frames: number;
  keyframes: number;
  /** Byte offset of the fragment's first element in the input. */
  offset: number;
}

export interface Frame {
  /** The fragment the frame belongs to (the same object the `fragment` event later carries). */
  fragment: Fragment;
  track: TrackInfo;
  keyframe: boolean;
  /** Absolute timecode: cluster timecode + block offset, TimecodeScale applied. */
  timecodeMs: number;
  /**
   * Its cluster's timecode, TimecodeScale applied: `timecodeMs - clusterTimecodeMs` is how far into its fragment the
   * frame lies, which dates it from the fragment's producer (or server) timestamp.
   */
  clusterTimecodeMs: number;
  /** The block's own timecode as stored: signed 16-bit, relative to its cluster's, TimecodeScale not applied. */
  blockTimecode: number;
  /** The block's invisible flag: decode the frame, do not show it. */
  invisible: boolean;
  /** The SimpleBlock's discardable flag: a player may drop the frame (reserved, false, in a BlockGroup's Block). */
  discardable: boolean;
  /** The access unit, a view into the pushed input wherever the block lay within one chunk. */
  data: Uint8Array;
  /** Byte offset of the block element in the input. */
  offset: number;
}
