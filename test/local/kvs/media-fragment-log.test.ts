// FragmentLog: numbering, retention and caps, listing, and every GetMedia start selector, retained then live.

import t from 'tap';
import { FragmentLog, type FragmentLogOptions } from '../../../src/local/kvs/fragment-log.js';
import type { FragmentInput, StartSelector, StoredFragment } from '../../../src/local/kvs/types.js';

const FIRST = '91343852333181432392682062607743920146159169392';

function input(producerTimestamp: number, durationMs = 1000, blocks: Uint8Array = new Uint8Array(100)): FragmentInput {
  return { producerTimestamp, durationMs, tracks: [], blocks, frames: 1, keyframes: 1 };
}

/**
 * A log on a fake clock: `advance` moves time, `add` appends one fragment a second (producer time = server time - 500).
 */
function fixture(options: Omit<FragmentLogOptions, 'clock' | 'firstFragmentNumber'> = {}) {
  let now = 1_000_000;
  const log = new FragmentLog({ clock: () => now, firstFragmentNumber: FIRST, ...options });
  return {
    log,
    advance: (ms: number) => (now += ms),
    add: (n = 1): StoredFragment[] =>
      Array.from({ length: n }, () => {
        const fragment = log.append(input(now - 500));
        now += 1000;
        return fragment;
      }),
  };
}

/** Takes `n` fragments from a read, then stops it. */
async function take(iterable: AsyncIterable<StoredFragment>, n: number): Promise<StoredFragment[]> {
  const out: StoredFragment[] = [];
  if (n === 0) return out;
  for await (const fragment of iterable) {
    out.push(fragment);
    if (out.length === n) break;
  }
  return out;
}

const numbers = (fragments: StoredFragment[]) => fragments.map((f) => f.fragmentNumber);
const tick = () => new Promise((resolve) => setImmediate(resolve));

t.test(
  'appends get strictly increasing 47-digit numbers, the server timestamp from the clock, and their size',
  async (t) => {
    // Prepare
    const { log, add } = fixture();
    const byDefault = new FragmentLog({ clock: () => 1_700_000_000_000 });

    // Act
    const [a, b, c] = add(3);
    const d = byDefault.append(input(0));

    // Assess
    t.equal(a!.fragmentNumber, FIRST);
    t.ok(
      BigInt(b!.fragmentNumber) > BigInt(a!.fragmentNumber) && BigInt(c!.fragmentNumber) > BigInt(b!.fragmentNumber),
    );
    t.same([a!.serverTimestamp, b!.serverTimestamp], [1_000_000, 1_001_000]);
    t.equal(a!.sizeBytes, 100);
    t.match(d.fragmentNumber, /^\d{47}$/, 'a clock-derived default is 47 digits too');
    t.ok(
      BigInt(new FragmentLog({ clock: () => 1_700_000_000_001 }).append(input(0)).fragmentNumber) >
        BigInt(d.fragmentNumber),
      'a later log starts above an earlier one',
    );
    t.same([log.count, log.bytes, log.oldest, log.newest], [3, 300, a, c]);
    t.equal(log.get(b!.fragmentNumber), b);
    t.equal(log.get('1'), undefined);
    t.equal(log.get('not a number'), undefined);
  },
);

t.test(
  'fragments older than the retention window are dropped; memory, size and count caps drop the oldest first',
  async (t) => {
    // Prepare
    const aged = fixture({ retentionMs: 10_000 });
    const capped = fixture({ maxMemoryBytes: 250 });
    const counted = fixture({ maxFragments: 5 });
    const shared = fixture({ maxMemoryBytes: 250 });
    const sized = fixture({ maxBytes: 250 });
    const blocks = new Uint8Array(100);

    // Act
    const all = aged.add(20);
    capped.add(5);
    counted.add(8);
    for (let i = 0; i < 10; i++) shared.log.append(input(i, 1000, blocks));
    for (let i = 0; i < 10; i++) sized.log.append(input(i, 1000, blocks));

    // Assess
    t.equal(aged.log.count, 10, '10 seconds of 1-second fragments');
    t.equal(aged.log.oldest, all[10]);
    t.equal(aged.log.get(all[9]!.fragmentNumber), undefined, 'an expired fragment is gone');
    aged.advance(100_000);
    t.equal(aged.log.count, 0, 'time alone expires fragments, without appends');
    t.same([capped.log.count, capped.log.memoryBytes], [2, 200]);
    t.equal(counted.log.count, 5);
    t.same(
      [shared.log.count, shared.log.memoryBytes, shared.log.bytes],
      [10, 100, 1000],
      'a shared block buffer counts once against memory',
    );
    t.same([sized.log.count, sized.log.bytes], [2, 200], 'but once per fragment against the size cap');
  },
);

t.test(
  'list returns the retained fragments whose server or producer timestamp is in the inclusive range, in order',
  async (t) => {
    // Prepare
    const { log, add } = fixture();
    const all = add(6);

    // Act
    const byServer = log.list({ type: 'SERVER_TIMESTAMP', start: 1_001_000, end: 1_003_000 });
    const byProducer = log.list({ type: 'PRODUCER_TIMESTAMP', start: 1_001_000, end: 1_003_000 });

    // Assess
    t.same(numbers(byServer), numbers(all.slice(1, 4)));
    t.same(numbers(byProducer), numbers(all.slice(2, 4)), 'producer times are 500 ms earlier');
  },
);

t.test('each start selector starts where KVS would, then continues live', async (t) => {
  // Prepare
  const { log, add } = fixture();
  const retained = add(5);
  const cases: [string, StartSelector, StoredFragment[]][] = [
    ['EARLIEST: the oldest retained', { type: 'EARLIEST' }, retained],
    [
      'FRAGMENT_NUMBER: after that fragment',
      { type: 'FRAGMENT_NUMBER', afterFragmentNumber: retained[1]!.fragmentNumber },
      retained.slice(2),
    ],
    [
      'CONTINUATION_TOKEN: after that fragment',
      { type: 'CONTINUATION_TOKEN', continuationToken: retained[3]!.fragmentNumber },
      retained.slice(4),
    ],
    [
      'SERVER_TIMESTAMP exactly on a fragment',
      { type: 'SERVER_TIMESTAMP', startTimestamp: 1_002_000 },
      retained.slice(2),
    ],
    [
      'SERVER_TIMESTAMP inside a fragment: that fragment',
      { type: 'SERVER_TIMESTAMP', startTimestamp: 1_002_999 },
      retained.slice(2),
    ],
    [
      'PRODUCER_TIMESTAMP inside a fragment: that fragment',
      { type: 'PRODUCER_TIMESTAMP', startTimestamp: 1_001_700 },
      retained.slice(2),
    ],
    ['PRODUCER_TIMESTAMP before everything: the oldest', { type: 'PRODUCER_TIMESTAMP', startTimestamp: 0 }, retained],
    ['NOW: nothing retained', { type: 'NOW' }, []],
  ];
  const reads = cases.map(([, selector]) => log.read(selector));

  // Act
  const live = add(2);
  const results = await Promise.all(reads.map((read, i) => take(read, cases[i]![2].length + 2)));

  // Assess
  for (const [i, [what, , expected]] of cases.entries())
    t.same(numbers(results[i]!), numbers([...expected, ...live]), what);
});

t.test('a live reader waits for the next append and gets fragments in order, none twice', async (t) => {
  // Prepare
  const { log, add } = fixture();
  add(2);
  const got: StoredFragment[] = [];
  const reading = (async () => {
    for await (const fragment of log.read({ type: 'NOW' })) {
      got.push(fragment);
      if (got.length === 3) break;
    }
  })();
  await tick();

  // Act
  t.equal(got.length, 0, 'nothing before an append');
  const [a] = add(1);
  await tick();
  t.same(numbers(got), numbers([a!]), 'delivered on append');
  const rest = add(3);
  await reading;

  // Assess
  t.same(numbers(got), numbers([a!, rest[0]!, rest[1]!]));
});

t.test('timestamp selectors in the future wait for the first fragment that reaches them', async (t) => {
  // Prepare
  const { log, add } = fixture();
  add(2);
  const read = take(log.read({ type: 'SERVER_TIMESTAMP', startTimestamp: 1_004_500 }), 2);

  // Act
  const live = add(5);

  // Assess
  t.same(numbers(await read), numbers([live[2]!, live[3]!]), 'the fragment received at 1,004,000 contains 1,004,500');
});

t.test(
  'a slow reader neither blocks appends nor holds memory: when its position expires it continues from the oldest',
  async (t) => {
    // Prepare
    const { log, add } = fixture({ retentionMs: 5_000 });
    add(3);
    const iterator = log.read({ type: 'EARLIEST' })[Symbol.asyncIterator]();
    const first = await iterator.next();

    // Act
    const later = add(50);
    const next = await iterator.next();

    // Assess
    t.equal((first.value as StoredFragment).serverTimestamp, 1_000_000);
    t.equal(log.count, 5, 'the log kept only its window');
    t.equal((next.value as StoredFragment).fragmentNumber, later[45]!.fragmentNumber, 'the oldest retained');
    await iterator.return?.();
  },
);

t.test('close ends every reader, waiting or not, and refuses appends', async (t) => {
  // Prepare
  const { log, add } = fixture();
  add(2);
  const waiting = take(log.read({ type: 'NOW' }), 5);
  const behind = take(log.read({ type: 'EARLIEST' }), 10);
  await tick();

  // Act
  log.close();

  // Assess
  t.same(await waiting, []);
  t.ok((await behind).length <= 2, 'a reader with retained fragments left ends too');
  t.equal(log.count, 0);
  t.throws(() => log.append(input(0)), { code: 'ResourceNotFoundException' });
  t.same(await take(log.read({ type: 'EARLIEST' }), 1), [], 'reading a closed log ends at once');
});

t.test('aborting the signal ends a waiting reader', async (t) => {
  // Prepare
  const { log, add } = fixture();
  add(1);
  const controller = new AbortController();
  const reading = take(log.read({ type: 'EARLIEST' }, controller.signal), 5);
  await tick();

  // Act
  controller.abort();

  // Assess
  t.equal((await reading).length, 1, 'what was retained, then the end');
  const before = new AbortController();
  before.abort();
  t.same(await take(log.read({ type: 'EARLIEST' }, before.signal), 1), [], 'an already aborted signal reads nothing');
});

t.test('bad selectors are refused when read is called, before any iteration', async (t) => {
  // Prepare
  const { log, add } = fixture();
  add(3);
  const next = (BigInt(FIRST) + 3n).toString();

  // Act / Assess
  t.throws(() => log.read({ type: 'FRAGMENT_NUMBER', afterFragmentNumber: 'abc' }), {
    code: 'InvalidArgumentException',
  });
  t.throws(() => log.read({ type: 'FRAGMENT_NUMBER', afterFragmentNumber: '' }), { code: 'InvalidArgumentException' });
  t.throws(() => log.read({ type: 'CONTINUATION_TOKEN', continuationToken: '-5' }), {
    code: 'InvalidArgumentException',
  });
  t.throws(() => log.read({ type: 'SERVER_TIMESTAMP', startTimestamp: Number.NaN }), {
    code: 'InvalidArgumentException',
  });
  t.throws(
    () => log.read({ type: 'FRAGMENT_NUMBER', afterFragmentNumber: next }),
    { code: 'ResourceNotFoundException' },
    'a number this log never issued',
  );
  t.throws(() => log.read({ type: 'CONTINUATION_TOKEN', continuationToken: '9'.repeat(60) }), {
    code: 'ResourceNotFoundException',
  });
});

t.test(
  'a start after a fragment no longer retained (expired, or from before the stream was recreated) is in-band error ' +
    '4000',
  async (t) => {
    // Prepare
    const { log, add } = fixture({ retentionMs: 3_000 });
    const all = add(10);
    const oldest = log.oldest!;

    // Act / Assess
    const notFound = { code: 'GET_MEDIA_IN_BAND', errorId: 4000, message: 'Requested fragment is not found' };
    t.throws(
      () => log.read({ type: 'FRAGMENT_NUMBER', afterFragmentNumber: all[0]!.fragmentNumber }),
      notFound,
      'expired',
    );
    t.throws(
      () => log.read({ type: 'CONTINUATION_TOKEN', continuationToken: '42' }),
      notFound,
      'a number from before this log',
    );
    const predecessor = (BigInt(oldest.fragmentNumber) - 1n).toString();
    t.throws(
      () => log.read({ type: 'FRAGMENT_NUMBER', afterFragmentNumber: predecessor }),
      notFound,
      'the one just before the oldest',
    );
    const afterOldest = await take(
      log.read({ type: 'FRAGMENT_NUMBER', afterFragmentNumber: oldest.fragmentNumber }),
      1,
    );
    t.same(numbers(afterOldest), numbers([all[all.length - 2]!]), 'the oldest is resumable');
  },
);

t.test('dropOldest drops retained fragments as retention would, oldest first', async (t) => {
  // Prepare
  const { log, add } = fixture();
  const all = add(5);

  // Act
  const dropped = log.dropOldest(3);
  const more = log.dropOldest(10);

  // Assess
  t.equal(dropped, 3);
  t.equal(more, 2, 'no more than there are');
  t.equal(log.count, 0);
  t.equal(log.bytes, 0);
  t.equal(log.memoryBytes, 0);
  t.throws(() => log.read({ type: 'FRAGMENT_NUMBER', afterFragmentNumber: all[4]!.fragmentNumber }), {
    code: 'GET_MEDIA_IN_BAND',
    errorId: 4000,
  });
  const next = add(1);
  t.same(numbers(await take(log.read({ type: 'EARLIEST' }), 1)), numbers(next), 'numbering goes on');
});
