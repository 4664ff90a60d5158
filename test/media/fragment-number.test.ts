// Fragment-number ordering: KVS fragment numbers are decimal strings past 2^53, ordered as numbers.

import t from 'tap';
import { isAfter, laterCheckpoint } from '../../src/media/checkpoint.js';
import { compareFragmentNumbers } from '../../src/media/fragment-number.js';

t.test('fragment numbers order as numbers, not as text, even past 2^53', async (t) => {
  // Prepare
  const big = '91343852333181432392682062607743920146264596384';
  const bigger = '91343852333181432392682062607743920146264596385';

  // Act / Assess
  t.ok(compareFragmentNumbers('9', '10') < 0, '9 before 10');
  t.ok(compareFragmentNumbers(bigger, big) > 0, 'differs only in the last digit');
  t.equal(compareFragmentNumbers(big, big), 0);
  t.equal(compareFragmentNumbers('007', '7'), 0, 'leading zeros do not count');
  t.ok(compareFragmentNumbers('010', '9') > 0, '010 after 9');
  t.ok(compareFragmentNumbers('9', '0010') < 0, '9 before 0010');
  t.ok(compareFragmentNumbers('frag-b', 'frag-a') > 0, 'labels that are not numbers order as text');
  t.ok(compareFragmentNumbers('frag-a', 'frag-b') < 0);
  t.ok(isAfter({ fragmentNumber: '1' }, null), 'anything is after no checkpoint');
  t.notOk(isAfter({ fragmentNumber: big }, { fragmentNumber: big }), 'not after itself');
  t.same(laterCheckpoint({ fragmentNumber: '10', serverTimestamp: 1 }, { fragmentNumber: '9', serverTimestamp: 2 }), {
    fragmentNumber: '10',
    serverTimestamp: 1,
  });
  t.equal(laterCheckpoint(null, null), null);
});
