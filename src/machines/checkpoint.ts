// What a lease checkpoint is, and the one ordering rule the lease machine needs: a checkpoint never moves backwards.

/** The last fragment of a stream whose sampled frames have all been published (and every fragment before it). */
export interface Checkpoint {
  /** KVS fragment number: a decimal string too long for a double, so compared as digits, never as a number. */
  fragmentNumber: string;
  /** KVS server timestamp of that fragment, epoch milliseconds; kept for the lease table and for lag metrics. */
  serverTimestamp: number;
  /**
   * I-frames of the stream counted by the sampler up to the end of this fragment. A new owner resumes the count
   * from here, so it samples exactly the I-frames the old owner would have; absent on checkpoints written before.
   */
  keyframesSeen?: number;
}

const DIGITS = /^\d+$/;

/**
 * Orders two KVS fragment numbers: negative, zero or positive as `a` is before, equal to or after `b`.
 * KVS hands out decimal digit strings that grow within a stream; anything else (a test's label, say) is
 * compared as plain text so that the order is still total.
 */
export function compareFragmentNumbers(a: string, b: string): number {
  if (DIGITS.test(a) && DIGITS.test(b)) {
    const x = BigInt(a);
    const y = BigInt(b);
    return x < y ? -1 : x > y ? 1 : 0;
  }
  return a < b ? -1 : a > b ? 1 : 0;
}

/** True when `fragmentNumber` comes after `than`, or when there is nothing to compare with. */
export function isAfter(fragmentNumber: string, than: Checkpoint | null): boolean {
  return than === null || compareFragmentNumbers(fragmentNumber, than.fragmentNumber) > 0;
}

/** The later of two checkpoints; `a` on a tie, so an equal rewrite does not replace the object. */
export function laterCheckpoint(a: Checkpoint | null, b: Checkpoint | null): Checkpoint | null {
  if (a === null) return b;
  if (b === null) return a;
  return compareFragmentNumbers(b.fragmentNumber, a.fragmentNumber) > 0 ? b : a;
}
