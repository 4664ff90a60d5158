// What a lease checkpoint is, and the one ordering rule the lease machine needs: a checkpoint never moves backwards.

import { compareFragmentNumbers } from './fragment-number.js';

/**
 * Where a stream's reading resumes. Usually the last fragment whose sampled frames have all been published (and
 * every fragment's before it): reading resumes after it. An `inclusive` checkpoint instead names a fragment that
 * was read but is not done: reading resumes at it.
 */
export interface Checkpoint {
  /** KVS fragment number: a decimal string too long for a double, so compared as digits, never as a number. */
  fragmentNumber: string;
  /** KVS server timestamp of that fragment, epoch milliseconds; an inclusive checkpoint is resumed from it. */
  serverTimestamp: number;
  /**
   * I-frames of the stream counted by the sampler up to the end of this fragment (up to its start, for an inclusive
   * one). A new owner resumes the count from here, so it samples exactly the I-frames the old owner would have;
   * absent on checkpoints written before it existed, and on a stream's first (inclusive) checkpoint: 0.
   */
  keyframesSeen?: number;
  /**
   * With samplingIntervalMillis: the sampler's next tick after this fragment, epoch ms of producer time. A new owner
   * samples the first I-frame at or after it, so sampling goes on with no burst and no gap; absent (sampling by
   * I-frame count, checkpoints written before it existed, a stream's first checkpoint): the next I-frame is sampled.
   */
  nextSampleAt?: number;
  /**
   * The fragment itself is not done: resume at it, not after it. Written once, when a stream that has no checkpoint
   * reads its first fragment, so that a new owner goes on from there rather than from the configured start (NOW),
   * which would lose what came in between. Completing that fragment moves past it.
   */
  inclusive?: true;
}

/** What a reader needs of a checkpoint to resume from it. */
export type ResumePoint = Pick<Checkpoint, 'fragmentNumber' | 'serverTimestamp' | 'inclusive'>;

/** What the order of checkpoints looks at. */
type Position = Pick<Checkpoint, 'fragmentNumber' | 'inclusive'>;

/**
 * Orders two checkpoints by how far they let reading skip: by fragment number, and at the same fragment the
 * inclusive one (resume at it) first, so that completing a fragment advances past its inclusive checkpoint.
 */
export function compareCheckpoints(a: Position, b: Position): number {
  return compareFragmentNumbers(a.fragmentNumber, b.fragmentNumber) || Number(!a.inclusive) - Number(!b.inclusive);
}

/** True when `position` comes after `than`, or when there is nothing to compare with. */
export function isAfter(position: Position, than: Position | null): boolean {
  return than === null || compareCheckpoints(position, than) > 0;
}

/** The later of two checkpoints; `a` on a tie, so an equal rewrite does not replace the object. */
export function laterCheckpoint(a: Checkpoint | null, b: Checkpoint | null): Checkpoint | null {
  if (a === null) return b;
  if (b === null) return a;
  return isAfter(b, a) ? b : a;
}
