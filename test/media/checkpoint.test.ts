// The order of checkpoints: an inclusive checkpoint (resume at its fragment) sits after every fragment before it
// and just before the plain checkpoint of the same fragment, so completing that fragment moves past it.

import fc from 'fast-check';
import t from 'tap';
import { type Checkpoint, compareCheckpoints, isAfter, laterCheckpoint } from '../../src/media/checkpoint.js';

const F = '91343852333181432392682062607743920146264596384';
const E = '91343852333181432392682062607743920146264596383';
const G = '91343852333181432392682062607743920146264596385';
const plain = (fragmentNumber: string): Checkpoint => ({ fragmentNumber, serverTimestamp: 1 });
const inclusive = (fragmentNumber: string): Checkpoint => ({ fragmentNumber, serverTimestamp: 1, inclusive: true });

t.test('an inclusive checkpoint at F: after everything before F, just before the plain checkpoint at F', async (t) => {
  // Act
  const order = [plain(G), inclusive(F), plain(E), plain(F), inclusive(G), inclusive(E)].sort(compareCheckpoints);

  // Assess
  t.same(
    order.map((c) => `${c.inclusive ? 'at' : 'after'} ${c.fragmentNumber.slice(-1)}`),
    ['at 3', 'after 3', 'at 4', 'after 4', 'at 5', 'after 5'],
  );
  t.equal(compareCheckpoints(inclusive(F), inclusive(F)), 0, 'equal to itself');
  t.ok(isAfter(plain(F), inclusive(F)), 'completing F advances past "at F"');
  t.notOk(isAfter(inclusive(F), plain(F)), '"at F" is no progress over "after F"');
  t.notOk(isAfter(inclusive(F), inclusive(F)), 'not after itself');
  t.ok(isAfter(inclusive(F), plain(E)), '"at F" is after "after E"');
  t.ok(isAfter({ fragmentNumber: F }, inclusive(F)), 'a completion event (no inclusive field) counts as plain');
});

t.test(
  'laterCheckpoint picks the plain checkpoint over the inclusive one at the same fragment, in either order',
  async (t) => {
    t.same(laterCheckpoint(inclusive(F), plain(F)), plain(F));
    t.same(laterCheckpoint(plain(F), inclusive(F)), plain(F));
    t.same(laterCheckpoint(plain(F), inclusive(G)), inclusive(G));
    t.same(laterCheckpoint(inclusive(F), null), inclusive(F));
    const a = inclusive(F);
    t.equal(laterCheckpoint(a, inclusive(F)), a, 'a on a tie');
  },
);

t.test('compareCheckpoints is the order of (fragment number, inclusive first), for any checkpoints', async (t) => {
  // Small numbers too, so that ties on the fragment come up often.
  const number = fc.oneof(fc.bigInt({ min: 0n, max: 3n }), fc.bigInt({ min: 0n, max: 10n ** 47n }));
  const checkpoint = fc.record({ n: number, inclusive: fc.boolean() });
  t.doesNotThrow(() =>
    fc.assert(
      fc.property(checkpoint, checkpoint, (a, b) => {
        const key = (c: typeof a) => c.n * 2n + (c.inclusive ? 0n : 1n);
        const expected = Math.sign(Number(key(a) - key(b)));
        const actual = compareCheckpoints(
          { fragmentNumber: a.n.toString(), ...(a.inclusive ? { inclusive: true as const } : {}) },
          { fragmentNumber: b.n.toString(), ...(b.inclusive ? { inclusive: true as const } : {}) },
        );
        return Math.sign(actual) === expected;
      }),
    ),
  );
});
