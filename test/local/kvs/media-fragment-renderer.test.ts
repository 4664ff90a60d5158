// GetMedia / GetMediaForFragmentList documents: parsed back with our MkvParser, and laid out as real KVS lays them out.

import { readFile } from 'node:fs/promises';
import t from 'tap';
import { FragmentLog } from '../../../src/local/kvs/fragment-log.js';
import {
  kvsTimestamp,
  renderArchivedFragment,
  renderGetMediaFragment,
} from '../../../src/local/kvs/fragment-renderer.js';
import { simpleBlocks } from '../../../src/local/kvs/mkv-writer.js';
import type { FragmentInput } from '../../../src/local/kvs/types.js';
import { TRACK_TYPE_VIDEO, type TrackInfo } from '../../../src/media/types.js';
import { capture, capturesSkip } from '../../helpers/fixtures.js';
import { errorsOf, fragmentsOf, framesOf, parseChunks } from '../../helpers/parse.js';

const track: TrackInfo = {
  number: 1,
  type: TRACK_TYPE_VIDEO,
  codecId: 'V_MPEG4/ISO/AVC',
  codecPrivate: Uint8Array.of(1, 0x64, 0, 0x1f),
  width: 640,
  height: 360,
};
const tracks = [track];

function input(offsetMs: number, frames = 60): FragmentInput {
  const blocks = simpleBlocks(
    Array.from({ length: frames }, (_, i) => ({
      track: 1,
      timecode: Math.round(i * 33.333),
      keyframe: i === 0,
      data: new Uint8Array(100 + i).fill(i),
    })),
  );
  return {
    producerTimestamp: 1_511_852_108_513 + offsetMs,
    clusterTimecode: offsetMs,
    durationMs: 2000,
    tracks,
    blocks,
    frames,
    keyframes: 1,
  };
}

interface Node {
  id: number;
  /** Bytes of the size field; 8 with an all-ones value is unknown size. */
  sizeLength: number;
  size: number | 'unknown';
  children?: Node[];
  text?: string;
}

const MASTERS = new Set([
  0x1a45dfa3, 0x18538067, 0x1549a966, 0x1654ae6b, 0xae, 0xe0, 0x1f43b675, 0x1254c367, 0x7373, 0x67c8, 0x63c0,
]);
const TEXT = new Set([0x45a3, 0x4487, 0x86, 0x4282]);

/** An independent, minimal EBML walker: the element tree of one document, unknown-size Clusters closed by Tags. */
function walk(bytes: Uint8Array): Node[] {
  const root: Node[] = [];
  const stack: { end: number; children: Node[]; id: number }[] = [{ end: bytes.length, children: root, id: 0 }];
  let pos = 0;
  while (pos < bytes.length) {
    while (stack.length > 1 && stack.at(-1)!.end <= pos) stack.pop();
    const idLength = Math.clz32(bytes[pos]!) - 23;
    let id = 0;
    for (let i = 0; i < idLength; i++) id = id * 256 + bytes[pos + i]!;
    const sizeLength = Math.clz32(bytes[pos + idLength]!) - 23;
    let size = bytes[pos + idLength]! & (0xff >> sizeLength);
    let allOnes = size === 0xff >> sizeLength;
    for (let i = 1; i < sizeLength; i++) {
      allOnes &&= bytes[pos + idLength + i] === 0xff;
      size = size * 256 + bytes[pos + idLength + i]!;
    }
    if (id === 0x1254c367 && stack.at(-1)!.id === 0x1f43b675) stack.pop();
    const node: Node = { id, sizeLength, size: allOnes ? 'unknown' : size };
    const start = pos + idLength + sizeLength;
    stack.at(-1)!.children.push(node);
    if (MASTERS.has(id)) {
      node.children = [];
      stack.push({ end: allOnes ? stack.at(-1)!.end : start + size, children: node.children, id });
      pos = start;
    } else {
      if (TEXT.has(id)) node.text = Buffer.from(bytes.subarray(start, start + size)).toString('latin1');
      pos = start + size;
    }
  }
  return root;
}

/**
 * The shape KVS gives its own elements: ids, size-field lengths, tag names; Segment children limited to those we write.
 */
function kvsShape(document: Node[]): unknown {
  const [header, segment] = document;
  const written = new Set([0x1549a966, 0x1654ae6b, 0x1254c367, 0x1f43b675]);
  const isKvsTags = (n: Node) => n.id !== 0x1254c367 || JSON.stringify(n).includes('AWS_KINESISVIDEO');
  return {
    header: header!.children!.map((n) => n.id),
    segment: { sizeLength: segment!.sizeLength, size: segment!.size },
    children: segment!
      .children!.filter((n) => written.has(n.id) && isKvsTags(n))
      .map((n) => {
        if (n.id === 0x1254c367) {
          const simpleTags = n.children![0]!.children!;
          return {
            id: n.id,
            sizeLengths: [
              n.sizeLength,
              n.children![0]!.sizeLength,
              ...simpleTags.flatMap((s) => [s.sizeLength, ...s.children!.map((c) => c.sizeLength)]),
            ],
            names: simpleTags.map((s) => s.children![0]!.text),
          };
        }
        if (n.id === 0x1f43b675) {
          const kinds = n.children!.filter((c) => c.id !== 0xbf).map((c) => c.id);
          return { id: n.id, sizeKnown: n.size !== 'unknown', first: kinds[0], rest: [...new Set(kinds.slice(1))] };
        }
        return { id: n.id };
      }),
  };
}

t.test('a GetMedia fragment parses back with every KVS tag, frame, keyframe and timecode', async (t) => {
  // Prepare
  const log = new FragmentLog({ clock: () => 1_511_852_109_126 });
  const first = log.append(input(0));
  const second = log.append(input(2000, 45));

  // Act
  const buffers = [...renderGetMediaFragment(first, 15_858), ...renderGetMediaFragment(second, 14_155)];
  const events = parseChunks(Buffer.concat(buffers), [1000, 7]);

  // Assess
  t.same(errorsOf(events), []);
  const fragments = fragmentsOf(events);
  t.same(
    fragments.map(
      ({
        fragmentNumber,
        serverTimestamp,
        producerTimestamp,
        millisBehindNow,
        continuationToken,
        frames,
        keyframes,
        tags,
      }) => ({
        fragmentNumber,
        serverTimestamp,
        producerTimestamp,
        millisBehindNow,
        continuationToken,
        frames,
        keyframes,
        tags,
      }),
    ),
    [
      {
        fragmentNumber: first.fragmentNumber,
        serverTimestamp: 1_511_852_109_126,
        producerTimestamp: 1_511_852_108_513,
        millisBehindNow: 15_858,
        continuationToken: first.fragmentNumber,
        frames: 60,
        keyframes: 1,
        tags: {},
      },
      {
        fragmentNumber: second.fragmentNumber,
        serverTimestamp: 1_511_852_109_126,
        producerTimestamp: 1_511_852_110_513,
        millisBehindNow: 14_155,
        continuationToken: second.fragmentNumber,
        frames: 45,
        keyframes: 1,
        tags: {},
      },
    ],
  );
  const frames = framesOf(events);
  t.same(
    frames.filter((f) => f.keyframe).map((f) => f.timecodeMs),
    [0, 2000],
    "cluster timecodes are the fragments' media offsets",
  );
  t.equal(frames[59]!.timecodeMs, Math.round(59 * 33.333));
  t.same(frames[0]!.track, track, 'tracks as stored');
  t.equal(buffers[3], first.blocks, 'the media is the stored buffer itself, not a copy');
});

t.test('without a cluster timecode, the producer timestamp is the cluster timecode (ABSOLUTE producers)', async (t) => {
  // Prepare
  const log = new FragmentLog({ clock: () => 1000 });
  const { clusterTimecode: _, ...absolute } = input(0);
  const stored = log.append({ ...absolute, producerTimestamp: 4096 });

  // Act
  const frames = framesOf(parseChunks(Buffer.concat(renderGetMediaFragment(stored, 0))));

  // Assess
  t.equal(frames[0]!.timecodeMs, 4096);
});

t.test('an archived (GetMediaForFragmentList) fragment has the three leading tags and no trailing ones', async (t) => {
  // Prepare
  const log = new FragmentLog({ clock: () => 1_600_000_000_005 });
  const stored = log.append(input(0));

  // Act
  const bytes = Buffer.concat(renderArchivedFragment(stored));
  const events = parseChunks(bytes);

  // Assess
  t.same(errorsOf(events), []);
  const [fragment] = fragmentsOf(events);
  t.equal(fragment!.fragmentNumber, stored.fragmentNumber);
  t.equal(fragment!.serverTimestamp, 1_600_000_000_005);
  t.equal(fragment!.millisBehindNow, null);
  t.equal(fragment!.continuationToken, null);
  t.equal(fragment!.frames, 60);
  t.notOk(bytes.includes('AWS_KINESISVIDEO_CONTINUATION_TOKEN'));
});

t.test('KVS timestamps are seconds with exactly three decimals', async (t) => {
  // Prepare / Act / Assess
  t.equal(kvsTimestamp(1_511_852_109_126), '1511852109.126');
  t.equal(kvsTimestamp(1_511_852_109_006), '1511852109.006');
  t.equal(kvsTimestamp(1_511_852_109_000), '1511852109.000');
});

t.test(
  'the element layout matches the real GetMedia capture: EBML header, unknown-size Segment, tags with 4-byte sizes, ' +
    'known-size Cluster',
  { skip: capturesSkip },
  async (t) => {
    // Prepare
    const real = await readFile(capture('output_get_media.mkv'));
    const secondDocument = real.indexOf(Buffer.from([0x1a, 0x45, 0xdf, 0xa3]), 1);
    const realDocument = walk(real.subarray(0, secondDocument));
    const stored = new FragmentLog({ clock: () => 1_511_852_109_126 }).append(input(0));

    // Act
    const ours = Buffer.concat(renderGetMediaFragment(stored, 15_858));

    // Assess
    t.same(kvsShape(walk(ours)), kvsShape(realDocument));
    t.same(ours.subarray(0, 59), real.subarray(0, 59), 'EBML header and Segment start byte for byte');
    t.same(
      (kvsShape(walk(ours)) as { children: unknown[] }).children
        .map((c) => (c as { names?: string[] }).names)
        .filter(Boolean),
      [
        [
          'AWS_KINESISVIDEO_FRAGMENT_NUMBER',
          'AWS_KINESISVIDEO_SERVER_TIMESTAMP',
          'AWS_KINESISVIDEO_PRODUCER_TIMESTAMP',
        ],
        ['AWS_KINESISVIDEO_MILLIS_BEHIND_NOW', 'AWS_KINESISVIDEO_CONTINUATION_TOKEN'],
      ],
      'the AWS tags, in order',
    );
    t.equal(stored.fragmentNumber.length, 47, 'fragment numbers are 47 digits, like the real ones');
  },
);
