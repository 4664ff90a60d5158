// The parser on hand-built inputs: the odd things real streams do, and bad input.

import t from 'tap';
import { MkvParser } from '../../src/media/index.js';
import {
  blockGroup,
  clusterTimecode,
  ebmlHeader,
  el,
  kvsFragment,
  simpleBlock,
  tags,
  tracks,
  unknown,
  videoTrack,
} from '../helpers/ebml-builder.js';
import { errorsOf, fragmentsOf, framesOf, parseChunks, summarize } from '../helpers/parse.js';

const SEGMENT = 0x18538067;
const CLUSTER = 0x1f43b675;
const frame = (n: number) => Buffer.alloc(16, n);

t.test('KVS fragments: tags before and after the cluster land on the same fragment, in arrival order', async (t) => {
  // Prepare
  const bytes = Buffer.concat([
    kvsFragment({
      fragmentNumber: '100',
      serverTimestamp: '1700000000.250',
      producerTimestamp: '1699999999.5',
      millisBehindNow: '42',
      clusterTimecode: 5000,
      blocks: [simpleBlock(1, 0, true, frame(1)), simpleBlock(1, 33, false, frame(2))],
    }),
    kvsFragment({ fragmentNumber: '101', clusterTimecode: 7000, blocks: [simpleBlock(1, 0, true, frame(3))] }),
  ]);

  // Act
  const events = parseChunks(bytes);

  // Assess
  t.same(errorsOf(events), []);
  t.match(fragmentsOf(events), [
    {
      index: 0,
      fragmentNumber: '100',
      serverTimestamp: 1700000000250,
      producerTimestamp: 1699999999500,
      millisBehindNow: 42,
      continuationToken: '100',
      frames: 2,
      keyframes: 1,
    },
    { index: 1, fragmentNumber: '101', serverTimestamp: null, millisBehindNow: 0, frames: 1, keyframes: 1 },
  ]);
  t.same(
    framesOf(events).map((f) => [f.fragment.fragmentNumber, f.timecodeMs, f.keyframe, f.data[0]]),
    [
      ['100', 5000, true, 1],
      ['100', 5033, false, 2],
      ['101', 7000, true, 3],
    ],
  );
  const order = events.map((e) => e.type);
  t.same(
    order,
    ['tracks', 'frame', 'frame', 'fragment', 'tracks', 'frame', 'fragment'],
    'a fragment completes when the next document starts',
  );
});

t.test('cluster timecodes that go backwards or repeat are taken as they are', async (t) => {
  const bytes = Buffer.concat([
    ebmlHeader(),
    unknown(
      SEGMENT,
      videoTrack(),
      el(CLUSTER, clusterTimecode(2000), simpleBlock(1, 0, true, frame(1))),
      el(CLUSTER, clusterTimecode(1000), simpleBlock(1, -5, true, frame(2))),
      el(CLUSTER, clusterTimecode(1000), simpleBlock(1, 10, false, frame(3))),
    ),
  ]);
  const events = parseChunks(bytes);
  t.same(errorsOf(events), []);
  t.same(
    framesOf(events).map((f) => f.timecodeMs),
    [2000, 995, 1010],
  );
  t.same(
    fragmentsOf(events).map((f) => [f.index, f.frames]),
    [
      [0, 1],
      [1, 1],
      [2, 1],
    ],
    'one fragment per cluster, in arrival order',
  );
});

t.test('TimecodeScale is applied to block timecodes', async (t) => {
  const bytes = Buffer.concat([
    ebmlHeader(),
    unknown(
      SEGMENT,
      el(0x1549a966, el(0x2ad7b1, 100_000)),
      videoTrack(),
      unknown(CLUSTER, clusterTimecode(50), simpleBlock(1, 5, true, frame(1))),
    ),
  ]);
  t.same(
    framesOf(parseChunks(bytes)).map((f) => f.timecodeMs),
    [5.5],
  );
});

t.test('BlockGroups: a keyframe unless it has a ReferenceBlock', async (t) => {
  const bytes = Buffer.concat([
    ebmlHeader(),
    unknown(
      SEGMENT,
      videoTrack(),
      unknown(
        CLUSTER,
        clusterTimecode(0),
        blockGroup(1, 0, false, frame(1)),
        blockGroup(1, 40, true, frame(2)),
        simpleBlock(1, 80, false, frame(3)),
      ),
    ),
  ]);
  const events = parseChunks(bytes);
  t.same(
    framesOf(events).map((f) => [f.keyframe, f.timecodeMs, f.data[0]]),
    [
      [true, 0, 1],
      [false, 40, 2],
      [false, 80, 3],
    ],
  );
  t.match(fragmentsOf(events), [{ frames: 3, keyframes: 1 }]);
});

t.test('each frame keeps its block header: the relative int16 timecode, invisible and discardable', async (t) => {
  // Prepare: negative and extreme relative timecodes, each flag alone, and a BlockGroup (no discardable bit there)
  const bytes = Buffer.concat([
    ebmlHeader(),
    unknown(
      SEGMENT,
      videoTrack(),
      unknown(
        CLUSTER,
        clusterTimecode(40_000),
        simpleBlock(1, -32768, true, frame(1)),
        simpleBlock(1, 32767, false, frame(2), 0x08),
        simpleBlock(1, -1, false, frame(3), 0x01),
        simpleBlock(1, 0, true, frame(4), 0x09),
        blockGroup(1, 7, true, frame(5)),
      ),
    ),
  ]);

  // Act
  const events = parseChunks(bytes);

  // Assess
  t.same(errorsOf(events), []);
  t.same(
    framesOf(events).map((f) => [f.data[0], f.blockTimecode, f.timecodeMs, f.keyframe, f.invisible, f.discardable]),
    [
      [1, -32768, 7232, true, false, false],
      [2, 32767, 72767, false, true, false],
      [3, -1, 39999, false, false, true],
      [4, 0, 40000, true, true, true],
      [5, 7, 40007, false, false, false],
    ],
  );
});

t.test('with several tracks, only the video track gives frames', async (t) => {
  const bytes = Buffer.concat([
    ebmlHeader(),
    unknown(
      SEGMENT,
      tracks(
        { number: 1, type: 2, codecId: 'A_AAC' },
        { number: 2, type: 1, codecId: 'V_MPEGH/ISO/HEVC', width: 1920, height: 1080 },
      ),
      unknown(
        CLUSTER,
        clusterTimecode(0),
        simpleBlock(1, 0, true, frame(9)),
        simpleBlock(2, 0, true, frame(1)),
        simpleBlock(1, 20, true, frame(9)),
      ),
    ),
  ]);
  const events = parseChunks(bytes);
  const tracksEvent = events.find((e) => e.type === 'tracks');
  t.match(tracksEvent, { video: { number: 2, codecId: 'V_MPEGH/ISO/HEVC', width: 1920, height: 1080 } });
  t.same(
    framesOf(events).map((f) => f.data[0]),
    [1],
  );
});

t.test('an error fragment from KVS (tags, no cluster) between two media fragments', async (t) => {
  const bytes = Buffer.concat([
    kvsFragment({ fragmentNumber: '1', clusterTimecode: 0, blocks: [simpleBlock(1, 0, true, frame(1))] }),
    ebmlHeader(),
    unknown(
      SEGMENT,
      tags({ AWS_KINESISVIDEO_ERROR_CODE: 'Requested fragment is not found', AWS_KINESISVIDEO_ERROR_ID: '4000' }),
    ),
    kvsFragment({ fragmentNumber: '3', clusterTimecode: 0, blocks: [simpleBlock(1, 0, true, frame(3))] }),
  ]);
  const events = parseChunks(bytes);
  t.same(errorsOf(events), []);
  t.match(fragmentsOf(events), [
    { index: 0, fragmentNumber: '1', frames: 1 },
    { index: 1, fragmentNumber: null, errorCode: 'Requested fragment is not found', errorId: '4000', frames: 0 },
    { index: 2, fragmentNumber: '3', frames: 1 },
  ]);
});

t.test('a bad KVS tag value is reported with its fragment and the field left null', async (t) => {
  const bytes = kvsFragment({ fragmentNumber: '7', serverTimestamp: 'yesterday', clusterTimecode: 0, blocks: [] });
  const events = parseChunks(bytes);
  const errors = errorsOf(events);
  t.equal(errors.length, 1);
  t.equal(errors[0]!.code, 'MKV_INVALID');
  t.match(errors[0]!.message, /AWS_KINESISVIDEO_SERVER_TIMESTAMP "yesterday"/);
  t.equal(errors[0]!.fragment?.fragmentNumber, '7');
  t.match(fragmentsOf(events), [{ fragmentNumber: '7', serverTimestamp: null }]);
});

t.test('every split of a hand-built stream gives the same events', async (t) => {
  const bytes = Buffer.concat([
    kvsFragment({
      fragmentNumber: '1',
      clusterTimecode: 0,
      blocks: [simpleBlock(1, 0, true, frame(1)), blockGroup(1, 5, true, frame(2))],
    }),
    kvsFragment({ fragmentNumber: '2', clusterTimecode: 100, blocks: [simpleBlock(1, 0, true, frame(3))] }),
  ]);
  const whole = summarize(parseChunks(bytes));
  for (let size = 1; size <= 64; size++) t.same(summarize(parseChunks(bytes, [size])), whole, `chunks of ${size}`);
  for (let cut = 1; cut < bytes.length; cut++)
    t.same(summarize(parseChunks(bytes, [cut, bytes.length])), whole, `one cut at ${cut}`);
});

t.test('an empty input reports MKV_EMPTY', async (t) => {
  t.match(errorsOf(parseChunks(Buffer.alloc(0))), [{ code: 'MKV_EMPTY', offset: null }]);
});

t.test('garbage reports MKV_INVALID at once, at byte 0', async (t) => {
  const garbage = Buffer.from('this is not a matroska file, it is a text file that goes on for a while '.repeat(1000));
  const start = process.hrtime.bigint();
  const events = parseChunks(garbage, [4096]);
  const elapsedMs = Number(process.hrtime.bigint() - start) / 1e6;
  t.match(errorsOf(events), [{ code: 'MKV_INVALID', offset: 0 }]);
  t.equal(errorsOf(events).length, 1, 'reported once, not once per byte');
  t.ok(elapsedMs < 1000, `took ${elapsedMs.toFixed(1)} ms`);
});

t.test(
  'corruption inside a fragment is reported with that fragment, and parsing resumes at the next one',
  async (t) => {
    // Prepare: the second fragment's cluster holds an element whose id is invalid (a 0x00 byte).
    const good = (n: string) =>
      kvsFragment({ fragmentNumber: n, clusterTimecode: 0, blocks: [simpleBlock(1, 0, true, frame(Number(n)))] });
    const bad = kvsFragment({
      fragmentNumber: '2',
      clusterTimecode: 0,
      blocks: [simpleBlock(1, 0, true, frame(2)), Buffer.from([0x00, 0x00, 0x00])],
    });

    // Act
    const events = parseChunks(Buffer.concat([good('1'), bad, good('3')]));

    // Assess
    const errors = errorsOf(events);
    t.equal(errors.length, 1);
    t.equal(errors[0]!.code, 'MKV_INVALID');
    t.equal(errors[0]!.fragment?.fragmentNumber, '2', 'the error names the fragment');
    t.match(errors[0]!.message, /fragment 2/);
    t.same(
      fragmentsOf(events).map((f) => f.fragmentNumber),
      ['1', '3'],
      'the corrupt fragment is skipped, the next one read',
    );
  },
);

t.test('an element larger than the limit is refused, not buffered', async (t) => {
  const bytes = kvsFragment({
    fragmentNumber: '1',
    clusterTimecode: 0,
    blocks: [simpleBlock(1, 0, true, Buffer.alloc(5000))],
  });
  const errors = errorsOf(parseChunks(bytes, [100], { maxElementSize: 4096 }));
  t.match(errors, [{ code: 'MKV_INVALID', message: /SimpleBlock of 5004 bytes exceeds the 4096-byte limit/ }]);
});

t.test(
  'a skip bomb (9 bytes declaring a 1 TiB Void in an unknown-size cluster) is MKV_INVALID; parsing resumes at the ' +
    'next fragment',
  async (t) => {
    // Prepare: 9 bytes (Void id, 8-byte size) declaring 2^40 bytes inside fragment 2's cluster, then fragment 3.
    const bomb = Buffer.concat([Buffer.from([0xec]), Buffer.from([0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00])]);
    const good = (n: string) =>
      kvsFragment({ fragmentNumber: n, clusterTimecode: 0, blocks: [simpleBlock(1, 0, true, frame(Number(n)))] });
    const bad = kvsFragment({
      fragmentNumber: '2',
      clusterTimecode: 0,
      blocks: [simpleBlock(1, 0, true, frame(2)), bomb],
    });
    const bytes = Buffer.concat([good('1'), bad, good('3')]);
    const at = good('1').length + bad.indexOf(bomb);

    // Act
    const whole = parseChunks(bytes);

    // Assess
    const message = new RegExp(
      `skipped element 0xEC of ${2 ** 40} bytes exceeds the ${64 * 1024 * 1024}-byte limit at byte ${at} \\(fragment ` +
        `2\\)`,
    );
    t.match(errorsOf(whole), [{ code: 'MKV_INVALID', offset: at, message }]);
    t.same(
      fragmentsOf(whole).map((f) => f.fragmentNumber),
      ['1', '3'],
      'fragment 3 is read',
    );
    t.same(
      framesOf(whole).map((f) => f.data[0]),
      [1, 2, 3],
    );
    for (const size of [1, 7, 64]) t.same(summarize(parseChunks(bytes, [size])), summarize(whole), `chunks of ${size}`);
    // An unknown element at the top level is no different; inside a known-size parent the parent bounds it.
    const topLevel = Buffer.concat([
      ebmlHeader(),
      Buffer.from([0x1a, 0x45, 0xdf, 0xa3, 0x01, 0x00, 0x01, 0, 0, 0, 0, 0]),
      good('4'),
    ]);
    t.match(errorsOf(parseChunks(topLevel)), [
      { code: 'MKV_INVALID', message: /skipped EBML \(0x1A45DFA3\) of 1099511627776 bytes/ },
    ]);
    t.same(
      fragmentsOf(parseChunks(topLevel)).map((f) => f.fragmentNumber),
      ['4'],
    );
  },
);

t.test('an element that overruns its parent is MKV_INVALID', async (t) => {
  const track = el(0xae, el(0xd7, 1));
  // The TrackEntry claims 200 bytes inside a Tracks of 20.
  const tracksBytes = Buffer.concat([
    Buffer.from([0x16, 0x54, 0xae, 0x6b, 0x94]),
    Buffer.from([0xae, 0x40, 0xc8]),
    track.subarray(0, 17),
  ]);
  const errors = errorsOf(parseChunks(Buffer.concat([ebmlHeader(), unknown(SEGMENT, tracksBytes)])));
  t.match(errors, [{ code: 'MKV_INVALID', message: /overruns its Tracks/ }]);
});

t.test('a KVS fragment cut inside its unknown-size cluster is MKV_TRUNCATED; a plain file is not', async (t) => {
  const kvs = kvsFragment({ fragmentNumber: '1', clusterTimecode: 0, blocks: [simpleBlock(1, 0, true, frame(1))] });
  const cut = kvs.indexOf(Buffer.from([0x12, 0x54, 0xc3, 0x67]), kvs.indexOf(Buffer.from([0x1f, 0x43, 0xb6, 0x75])));
  const kvsEvents = parseChunks(kvs.subarray(0, cut));
  t.match(errorsOf(kvsEvents), [{ code: 'MKV_TRUNCATED', message: /Cluster of fragment 1/ }]);
  t.same(fragmentsOf(kvsEvents), [], 'the unfinished fragment is not delivered');

  const plain = Buffer.concat([
    ebmlHeader(),
    unknown(SEGMENT, videoTrack(), unknown(CLUSTER, clusterTimecode(0), simpleBlock(1, 0, true, frame(1)))),
  ]);
  const plainEvents = parseChunks(plain);
  t.same(errorsOf(plainEvents), [], 'a live-recorded file ends its unknown-size cluster at the end of input');
  t.match(fragmentsOf(plainEvents), [{ frames: 1 }]);
});

t.test('push after end and empty chunks are harmless', async (t) => {
  const parser = new MkvParser();
  t.same(parser.push(Buffer.alloc(0)), []);
  const bytes = kvsFragment({ fragmentNumber: '1', clusterTimecode: 0, blocks: [simpleBlock(1, 0, true, frame(1))] });
  t.ok(parser.push(bytes).length > 0);
  t.match(parser.end(), [{ type: 'fragment' }]);
  t.same(parser.push(bytes), []);
  t.same(parser.end(), []);
});

const TAGS = 0x1254c367;
const TAG = 0x7373;
const simpleTag = (name: string, value: string, ...rest: Uint8Array[]) =>
  el(0x67c8, el(0x45a3, name), el(0x4487, value), ...rest);

/** An element built by `el` (8-byte size) that claims `extra` bytes more than it holds: cut off by what follows. */
function claiming(element: Buffer, extra: number): Buffer {
  const out = Buffer.from(element);
  const at = (element[0]! >= 0x80 ? 1 : element[0]! >= 0x40 ? 2 : element[0]! >= 0x20 ? 3 : 4) + 2;
  out.writeUIntBE(out.readUIntBE(at, 6) + extra, at, 6);
  return out;
}

/** A KVS fragment with `leading` among its first tags and `closing` as its last element. */
function kvsDocument(fragmentNumber: string, leading: Uint8Array[], closing: Uint8Array = tags({})): Buffer {
  return Buffer.concat([
    ebmlHeader(),
    unknown(
      SEGMENT,
      videoTrack(),
      el(TAGS, el(TAG, simpleTag('AWS_KINESISVIDEO_FRAGMENT_NUMBER', fragmentNumber), ...leading)),
      unknown(CLUSTER, clusterTimecode(0), simpleBlock(1, 0, true, frame(Number(fragmentNumber) % 256))),
      closing,
    ),
  ]);
}

/** Closing tags cut off inside a SimpleTag, `extra` bytes short: the next document starts inside it. */
const cutTags = (value: string, extra: number) =>
  claiming(el(TAGS, claiming(el(TAG, claiming(simpleTag('LEAKED', value), extra)), extra)), extra);

t.test(
  'a corrupt or cut-off SimpleTag holds nothing once the parser moves on; later tags are exactly theirs',
  async (t) => {
    // Prepare: 60 corrupt tags of 64 KiB, three ways: an invalid element inside it (resync at the Cluster), cut off
    // by the next document's header when that fits inside it (a new document), or overrun by it (resync there).
    const big = 'v'.repeat(64 * 1024);
    const rounds = 20;
    const good = (n: number) => kvsDocument(String(n), [simpleTag('CAMERA', `cam-${n}`)]);
    const corrupt = [
      (n: number) => kvsDocument(String(n), [simpleTag('LEAKED', big, Buffer.from([0x00]))]),
      (n: number) => kvsDocument(String(n), [], cutTags(big, 40)),
      (n: number) => kvsDocument(String(n), [], cutTags(big, 10)),
    ];
    const parser = new MkvParser();
    const held = () => (parser as unknown as { simpleTags: unknown[] }).simpleTags.length;
    const events = [];

    // Act
    for (let round = 0; round < rounds; round++) {
      for (const [way, bad] of corrupt.entries()) {
        const n = 100 * round + 10 * way;
        events.push(...parser.push(bad(n + 1)), ...parser.push(good(n + 2)));
        t.equal(held(), 0, `round ${round}, way ${way}: no SimpleTag held after the next fragment`);
      }
    }
    events.push(...parser.end());

    // Assess
    const fragments = fragmentsOf(events);
    t.notOk(
      fragments.some((f) => 'LEAKED' in f.tags),
      'a corrupt tag lands on no fragment',
    );
    const goodOnes = fragments.filter((f) => Number(f.fragmentNumber) % 10 === 2);
    t.equal(goodOnes.length, rounds * corrupt.length, 'every good fragment is read');
    for (const f of goodOnes)
      t.same(f.tags, { CAMERA: `cam-${f.fragmentNumber}` }, `fragment ${f.fragmentNumber}'s tags`);
    t.same(
      errorsOf(events).map((e) => e.fragment?.fragmentNumber),
      Array.from({ length: rounds }, (_, round) => [`${100 * round + 1}`, `${100 * round + 21}`]).flat(),
      'the invalid and overrun tags are reported with their fragments; the one cut by a document that fits is not',
    );
    t.equal(held(), 0);
  },
);

t.test(
  'a fragment cut short by the next document, whose header overruns the open element: the next fragment is read ' +
    'whole, with its number and tracks',
  async (t) => {
    // Prepare: fragment 2's closing tags stop 10 bytes short; fragment 3's 30-byte EBML header starts inside them.
    const good = (n: string) => kvsDocument(n, []);
    const bytes = Buffer.concat([good('1'), kvsDocument('2', [], cutTags('x', 10)), good('3'), good('4')]);

    // Act
    const events = parseChunks(bytes);

    // Assess
    t.match(errorsOf(events), [{ code: 'MKV_INVALID', message: /EBML of \d+ bytes overruns its SimpleTag/ }]);
    t.equal(errorsOf(events)[0]!.fragment?.fragmentNumber, '2', 'the error names the cut fragment');
    t.same(
      fragmentsOf(events).map((f) => f.fragmentNumber),
      ['1', '3', '4'],
      'fragment 3 keeps its number (not read from its Cluster on, without its tags)',
    );
    t.same(
      framesOf(events).map((f) => [f.fragment.fragmentNumber, f.data[0]]),
      [
        ['1', 1],
        ['2', 2],
        ['3', 3],
        ['4', 4],
      ],
    );
    t.equal(events.filter((e) => e.type === 'tracks').length, 4, "fragment 3's own Tracks are read");
    for (const size of [1, 7, 64])
      t.same(summarize(parseChunks(bytes, [size])), summarize(events), `chunks of ${size}`);
  },
);

t.test("a bad element size in a fragment's tags is reported naming that fragment; the next is read", async (t) => {
  // Prepare: a producer tag after the fragment number whose TagString has an invalid size byte (0x00).
  const bad = kvsDocument('2', [simpleTag('CAMERA', 'front')]);
  bad[bad.indexOf(Buffer.from('front')) - 8] = 0x00;
  const bytes = Buffer.concat([kvsDocument('1', []), bad, kvsDocument('3', [])]);

  // Act
  const events = parseChunks(bytes);

  // Assess: the resync finds fragment 2's Cluster, read on as a fragment without a number (the pipeline drops its
  // frames), so the error naming fragment 2 is what reports the loss.
  t.match(errorsOf(events), [{ code: 'MKV_INVALID', message: /invalid element size .*\(fragment 2\)/ }]);
  t.equal(errorsOf(events)[0]!.fragment?.fragmentNumber, '2');
  t.same(
    fragmentsOf(events).map((f) => f.fragmentNumber),
    ['1', null, '3'],
  );
});

/** `element` (built with 8-byte sizes) with its size field saying `extra` bytes more than it holds. */
function inflated(element: Buffer, idBytes: number, extra: number): Buffer {
  const copy = Buffer.from(element);
  copy.writeUIntBE(copy.length - idBytes - 8 + extra, idBytes + 2, 6);
  return copy;
}

/** Fragment n of a GetMedia answer: two frames, then `after` (nothing by default). */
const getMediaFragment = (n: number, after: Buffer[] = []) =>
  kvsFragment({
    fragmentNumber: String(n),
    clusterTimecode: n * 1000,
    blocks: [simpleBlock(1, 0, true, frame(n)), simpleBlock(1, 40, false, frame(n + 100)), ...after],
  });

t.test(
  'an element inflated in an unknown-size Cluster, a block or one skipped, is cut short by the next fragment, which ' +
    'is read whole, in any chunks',
  async (t) => {
    const elements = [
      { what: 'SimpleBlock', element: simpleBlock(1, 80, false, frame(200)), idBytes: 1 },
      { what: 'element 0xEC', element: el(0xec, Buffer.alloc(16)), idBytes: 1 },
    ];
    const sizes = [
      // Its size reaches far past what there is (4 MiB): its bytes never all come.
      { name: 'by 4 MiB', extra: 4 * 1024 * 1024 },
      // Past fragment 2's closing tags and fragment 3's header: its bytes come, with fragment 3's start among them.
      { name: 'into the next fragment', extra: 0 },
    ];
    for (const { what, element, idBytes } of elements) {
      for (const { name, extra } of sizes) {
        // Prepare
        const two = (grow: number) => getMediaFragment(2, [inflated(element, idBytes, grow)]);
        const after = two(0).length - two(0).indexOf(element) - element.length;
        const second = two(extra || after + 60);
        const bytes = Buffer.concat([getMediaFragment(1), second, getMediaFragment(3), getMediaFragment(4)]);
        const nextAt = getMediaFragment(1).length + second.length;
        const label = `${what} ${name}`;

        // Act
        const events = parseChunks(bytes);

        // Assess
        const cut = `the next document's EBML header at byte ${nextAt} cuts short ${what} of \\d+ bytes at byte \\d+`;
        t.match(
          errorsOf(events),
          [{ code: 'MKV_INVALID', message: new RegExp(`^${cut} \\(fragment 2\\)$`) }],
          `${label}: one error, naming where the next document starts`,
        );
        t.equal(errorsOf(events)[0]?.fragment?.fragmentNumber, '2', `${label}: the error names the fragment cut`);
        t.same(
          fragmentsOf(events).map((f) => f.fragmentNumber),
          ['1', '3', '4'],
          `${label}: the fragments after it are read, with their numbers`,
        );
        t.same(
          framesOf(events).map((f) => [f.fragment.fragmentNumber, f.data[0]]),
          [
            ['1', 1],
            ['1', 101],
            ['2', 2],
            ['2', 102],
            ['3', 3],
            ['3', 103],
            ['4', 4],
            ['4', 104],
          ],
          `${label}: every whole frame, none made of the next fragments`,
        );
        for (const size of [1, 7, 64, 1000])
          t.same(summarize(parseChunks(bytes, [size])), summarize(events), `${label}: chunks of ${size}`);
      }
    }
  },
);

t.test(
  'a frame or a skipped element that holds the EBML magic, or a header that is not a Matroska one, is taken as it is',
  async (t) => {
    // Prepare: a frame with the magic bytes alone, one with a whole EBML header of another DocType; a Void with each.
    const magic = Buffer.from([0x00, 0x1a, 0x45, 0xdf, 0xa3, 0x84, 0x42, 0x82, 0x81, 0x6d, 0x00]);
    const other = Buffer.concat([Buffer.alloc(5, 9), el(0x1a45dfa3, el(0x4282, 'not-mkv')), Buffer.alloc(5, 9)]);
    const bytes = Buffer.concat([
      getMediaFragment(1, [simpleBlock(1, 80, false, magic), el(0xec, magic)]),
      getMediaFragment(2, [simpleBlock(1, 80, false, other), el(0xec, other)]),
      getMediaFragment(3),
    ]);

    // Act
    const events = parseChunks(bytes);

    // Assess
    t.same(errorsOf(events), []);
    t.same(
      fragmentsOf(events).map((f) => f.fragmentNumber),
      ['1', '2', '3'],
    );
    t.same(
      framesOf(events).map((f) => Buffer.from(f.data).toString('hex')),
      [frame(1), frame(101), magic, frame(2), frame(102), other, frame(3), frame(103)].map((b) => b.toString('hex')),
    );
    for (const size of [1, 7, 64])
      t.same(summarize(parseChunks(bytes, [size])), summarize(events), `chunks of ${size}`);
  },
);
