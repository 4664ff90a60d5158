// The order of KVS fragment numbers, which the reader, the pipeline and checkpoints all rely on.

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
