// A stored fragment as KVS sends it: its own EBML document (header, unknown-size Segment, Info,
// Tracks, the three leading AWS tags, the Cluster) and, for GetMedia, the two trailing tags; and the
// document with the error tags that ends a GetMedia body KVS stops.

import { KVS_TAG } from '../../media/kvs-tags.js';
import type { TrackInfo } from '../../media/types.js';
import type { KvsInBandError } from './errors.js';
import { clusterStart, ebmlHeader, info, segmentStart, tags, tracks } from './mkv-writer.js';
import type { StoredFragment } from './types.js';

/** KVS writes its own tags with 4-byte sizes (as in real GetMedia captures), which keeps their layout fixed. */
const KVS_TAG_SIZE = { sizeLength: 4 } as const;

/** The part of a document that depends on the tracks only, cached per tracks array (one per source or session). */
const preambles = new WeakMap<readonly TrackInfo[], Uint8Array>();

function preamble(trackList: readonly TrackInfo[]): Uint8Array {
  let bytes = preambles.get(trackList);
  if (bytes === undefined) {
    bytes = Buffer.concat([ebmlHeader(), segmentStart(), info(), tracks(trackList)]);
    preambles.set(trackList, bytes);
  }
  return bytes;
}

/** KVS timestamps in tags: epoch seconds with a 3-digit millisecond fraction ("1511852109.126"). */
export function kvsTimestamp(epochMs: number): string {
  const ms = Math.round(epochMs);
  return `${Math.floor(ms / 1000)}.${String(((ms % 1000) + 1000) % 1000).padStart(3, '0')}`;
}

function leading(fragment: StoredFragment): Uint8Array[] {
  const timecode = Math.max(0, Math.round(fragment.clusterTimecode ?? fragment.producerTimestamp));
  return [
    preamble(fragment.tracks),
    tags(
      [
        [KVS_TAG.fragmentNumber, fragment.fragmentNumber],
        [KVS_TAG.serverTimestamp, kvsTimestamp(fragment.serverTimestamp)],
        [KVS_TAG.producerTimestamp, kvsTimestamp(fragment.producerTimestamp)],
      ],
      KVS_TAG_SIZE,
    ),
    // A known-size Cluster, as in real GetMedia output: readers need not guess where it ends.
    clusterStart(timecode, fragment.blocks.length),
    fragment.blocks,
  ];
}

/**
 * One GetMedia fragment, as buffers to write in order. The media is `fragment.blocks` itself (never
 * copied); the rest is a few hundred bytes.
 */
export function renderGetMediaFragment(fragment: StoredFragment, millisBehindNow: number): Uint8Array[] {
  return [
    ...leading(fragment),
    tags(
      [
        [KVS_TAG.millisBehindNow, String(Math.max(0, Math.round(millisBehindNow)))],
        // The token is the fragment's own number: resuming with it starts after this fragment.
        [KVS_TAG.continuationToken, fragment.fragmentNumber],
      ],
      KVS_TAG_SIZE,
    ),
  ];
}

/** One fragment of GetMediaForFragmentList: the same document without the trailing tags. */
export function renderArchivedFragment(fragment: StoredFragment): Uint8Array[] {
  return leading(fragment);
}

/** The last document of a GetMedia body KVS stops: no media, only the error tags. */
export function renderGetMediaError(error: KvsInBandError): Uint8Array[] {
  return [
    ebmlHeader(),
    segmentStart(),
    tags(
      [
        [KVS_TAG.errorCode, error.message],
        [KVS_TAG.errorId, String(error.errorId)],
      ],
      KVS_TAG_SIZE,
    ),
  ];
}
