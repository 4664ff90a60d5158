// KIT's record fields as its Java application writes them: the KVS parser library's FragmentMetadata and
// Frame printed by their Lombok @ToString, so that a consumer written for KIT's records reads kvs-infer's.

import type { Fragment, Frame } from '../../media/index.js';

/** What KIT's two strings are made from, besides the frame's identity. */
export interface KitSource {
  /**
   * The parser's own fragment, read when the record is built: KVS sends millisBehindNow and the continuation
   * token after the cluster, and KIT prints what its fragment metadata holds by then.
   */
  fragment: Readonly<Pick<Fragment, 'millisBehindNow' | 'continuationToken'>>;
  /** The frame's block header, as KIT's Frame holds it. */
  block: Pick<Frame, 'blockTimecode' | 'keyframe' | 'invisible' | 'discardable'> & { trackNumber: number };
}

/** The fields of `frame` KIT's strings need; not the frame's bytes, which must not outlive their encoding. */
export function kitSource(frame: Frame): KitSource {
  const { fragment, track, blockTimecode, keyframe, invisible, discardable } = frame;
  return { fragment, block: { trackNumber: track.number, blockTimecode, keyframe, invisible, discardable } };
}

export interface KitFragmentIdentity {
  fragmentNumber: string;
  /** Epoch ms. */
  serverTimestamp: number;
  /** Epoch ms; null when the producer sent none. */
  producerTimestamp: number | null;
}

/**
 * `FragmentMetadata(...)` as KIT prints it. Records are made only of fragments with a server timestamp, which KIT's
 * library reads as successful (success=true, errorId=0, errorCode=null); KVS's error fragments hold no frames. A
 * missing producer timestamp, on which KIT's library fails, prints as -1, the library's value for "not known".
 */
export function fragmentMetaData(identity: KitFragmentIdentity, fragment: KitSource['fragment']): string {
  const fields = [
    `fragmentNumberString=${identity.fragmentNumber}`,
    `serverSideTimestampMillis=${kitMillis(identity.serverTimestamp)}`,
    `producerSideTimestampMillis=${identity.producerTimestamp === null ? -1 : kitMillis(identity.producerTimestamp)}`,
    // A BigInteger: the digits without leading zeros.
    `fragmentNumber=${identity.fragmentNumber.replace(/^0+(?=\d)/, '')}`,
    'success=true',
    'errorId=0',
    'errorCode=null',
    'millisBehindNow=' +
      (fragment.millisBehindNow === null ? 'OptionalLong.empty' : `OptionalLong[${fragment.millisBehindNow}]`),
    'continuationToken=' +
      (fragment.continuationToken === null ? 'Optional.empty' : `Optional[${fragment.continuationToken}]`),
  ];
  return `FragmentMetadata(${fields.join(', ')})`;
}

/**
 * `Frame(...)` as KIT prints it (the frame's bytes excluded). `timeCode` is the block's own timecode, relative to
 * its cluster; lacing is always NO, as the parser refuses laced video blocks.
 */
export function frameMetaData(block: KitSource['block']): string {
  const { trackNumber, blockTimecode, keyframe, invisible, discardable } = block;
  return (
    `Frame(trackNumber=${trackNumber}, timeCode=${blockTimecode}, keyFrame=${keyframe}, ` +
    `invisible=${invisible}, discardable=${discardable}, lacing=NO)`
  );
}

/**
 * KIT's ceil(seconds x 1000) of a KVS timestamp tag. KVS's tags carry milliseconds ("1700000000.123"), so
 * ms / 1000 is the very double Java parses from the tag, and the product rounds as Java's does.
 */
function kitMillis(ms: number): number {
  return Math.ceil((ms / 1000) * 1000);
}
