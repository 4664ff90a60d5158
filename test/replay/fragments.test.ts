// The replay's batches: fragments in order, cut at a count and at a byte total.

import t from 'tap';
import { batches, type RangeFragment } from '../../src/replay/fragments.js';

const fragment = (n: number, sizeBytes: number): RangeFragment => ({
  fragmentNumber: String(n),
  sizeBytes,
  producerTimestamp: n * 1000,
  serverTimestamp: n * 1000,
});
const numbers = (cut: RangeFragment[][]) => cut.map((batch) => batch.map((f) => Number(f.fragmentNumber)));

t.test('batches hold at most maxFragments fragments', async (t) => {
  // Act
  const cut = batches(
    [1, 2, 3, 4, 5, 6, 7].map((n) => fragment(n, 10)),
    { maxFragments: 3, maxBytes: 1000 },
  );

  // Assess
  t.same(numbers(cut), [[1, 2, 3], [4, 5, 6], [7]]);
});

t.test('batches hold at most maxBytes, but a larger fragment goes alone', async (t) => {
  // Act
  const cut = batches([fragment(1, 40), fragment(2, 60), fragment(3, 1), fragment(4, 250), fragment(5, 50)], {
    maxFragments: 100,
    maxBytes: 100,
  });

  // Assess
  t.same(numbers(cut), [[1, 2], [3], [4], [5]]);
});

t.test('nothing to read, no batch', async (t) => {
  // Act and Assess
  t.same(batches([], { maxFragments: 5, maxBytes: 100 }), []);
});
