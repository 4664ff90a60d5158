// The order of KVS fragment numbers, which the reader, the pipeline and checkpoints all rely on.

const DIGITS = /^\d+$/;
const LEADING_ZEROS = /^0+/;

/**
 * Orders two KVS fragment numbers: negative, zero or positive as `a` is before, equal to or after `b`.
 * KVS hands out decimal digit strings that grow within a stream; anything else (a test's label, say) is
 * compared as plain text so that the order is still total.
 */
export function compareFragmentNumbers(a: string, b: string): number {
  if (a === b) return 0;
  if (DIGITS.test(a) && DIGITS.test(b)) {
    // As numbers, without BigInt (this runs for every frame read): past their leading zeros, the longer digit string
    // is the larger, and two of one length order as text.
    const x = a.replace(LEADING_ZEROS, '');
    const y = b.replace(LEADING_ZEROS, '');
    return x.length - y.length || (x < y ? -1 : x > y ? 1 : 0);
  }
  return a < b ? -1 : 1;
}
