// The live-edge decision on fragments as the local KVS server renders them and the parser reads them: jump after a
// fragment further behind than the limit, report the range and the time skipped once the next fragment is read,
// estimate the fragments, and never jump again on the first fragment read after a jump.

import t from 'tap';
import { LiveEdge, type LiveEdgeSkip } from '../../../src/actors/pipeline/live-edge.js';
import { renderGetMediaFragment } from '../../../src/local/kvs/fragment-renderer.js';
import type { StoredFragment } from '../../../src/local/kvs/types.js';
import { type MkvEvent, readMkv } from '../../../src/media/index.js';
import { simpleBlock } from '../../helpers/ebml-builder.js';

const SERVER_T0 = 1_700_000_100_000;
const PRODUCER_T0 = 1_700_000_000_000;

/** Fragment `i` of a continuous stream of 200 ms fragments, `frames` frames each, 50 ms apart. */
function stored(i: number, frames = 4): StoredFragment {
  const blocks = Buffer.concat(
    Array.from({ length: frames }, (_, k) => simpleBlock(1, k * 50, k === 0, Buffer.from(`f${i}-${k}`))),
  );
  return {
    fragmentNumber: String(91343852333181432000n + BigInt(i)),
    serverTimestamp: SERVER_T0 + i * 200,
    producerTimestamp: PRODUCER_T0 + i * 200,
    durationMs: 200,
    tracks: [{ number: 1, type: 1, codecId: 'V_MPEG4/ISO/AVC', codecPrivate: Uint8Array.of(1), width: 64, height: 48 }],
    blocks,
    sizeBytes: blocks.length,
    frames,
    keyframes: 1,
  };
}

/** The parser's events for `fragments` sent as GetMedia sends them, each tagged with its MillisBehindNow. */
async function parsed(fragments: [StoredFragment, number][]): Promise<MkvEvent[]> {
  const chunks = fragments.flatMap(([fragment, behind]) => renderGetMediaFragment(fragment, behind));
  const events: MkvEvent[] = [];
  for await (const event of readMkv(
    (async function* () {
      yield* chunks;
    })(),
  ))
    events.push(event);
  return events;
}

interface Outcome {
  /** Fragment numbers after which the reader was told to jump. */
  jumps: string[];
  skips: LiveEdgeSkip[];
}

/** Feeds every event to `edge` as the reader does. */
function decide(edge: LiveEdge, events: MkvEvent[]): Outcome {
  const outcome: Outcome = { jumps: [], skips: [] };
  for (const event of events) {
    if (event.type === 'frame') edge.frame(event.frame);
    if (event.type !== 'fragment') continue;
    const { skipped, jump } = edge.read(event.fragment);
    if (skipped) outcome.skips.push(skipped);
    if (jump) outcome.jumps.push(event.fragment.fragmentNumber!);
  }
  return outcome;
}

t.test(
  'a fragment over the limit asks for a jump; the next fragment read reports the range and time skipped',
  async (t) => {
    // Prepare: fragment 0 and 1 within the limit (1 s), 2 over it; after the jump, fragment 30 is read.
    const edge = new LiveEdge(1000);
    const events = await parsed([
      [stored(0), 900],
      [stored(1), 1000],
      [stored(2), 6000],
      [stored(30), 40],
    ]);

    // Act
    const { jumps, skips } = decide(edge, events);

    // Assess
    t.same(jumps, [stored(2).fragmentNumber], 'only the fragment over the limit; equal to it is not over');
    t.same(skips, [
      {
        type: 'live-edge-skip',
        lastFragmentNumber: stored(2).fragmentNumber,
        lastServerTimestamp: SERVER_T0 + 400,
        lastProducerTimestamp: PRODUCER_T0 + 400,
        millisBehindNow: 6000,
        maxMillisBehindNow: 1000,
        firstFragmentNumber: stored(30).fragmentNumber,
        firstServerTimestamp: SERVER_T0 + 6000,
        firstProducerTimestamp: PRODUCER_T0 + 6000,
        // From fragment 2's last frame (150 ms into it) to fragment 30's first: 6000 - 400 - 150.
        skippedMillis: 5450,
        skippedProducerMillis: 5450,
        // Fragments 3 to 29, by fragment 2's length (150 ms of frames, plus one 50 ms interval).
        fragmentsSkipped: 27,
      },
    ]);
  },
);

t.test(
  'after a jump, the first fragment read never triggers another, however far behind; the next one may',
  async (t) => {
    // Prepare: fragment 5, the first after the jump, still says 9 s behind (a stale lag); so does 6.
    const edge = new LiveEdge(2000);
    const events = await parsed([
      [stored(0), 8000],
      [stored(5), 9000],
      [stored(6), 9000],
      [stored(40), 0],
    ]);

    // Act
    const { jumps, skips } = decide(edge, events);

    // Assess
    t.same(jumps, [stored(0).fragmentNumber, stored(6).fragmentNumber]);
    t.same(
      skips.map((s) => [s.lastFragmentNumber, s.firstFragmentNumber]),
      [
        [stored(0).fragmentNumber, stored(5).fragmentNumber],
        [stored(6).fragmentNumber, stored(40).fragmentNumber],
      ],
    );
  },
);

t.test('after a fragment of one frame the time skipped is measured, the fragments are not guessed', async (t) => {
  // Prepare
  const edge = new LiveEdge(1000);
  const events = await parsed([
    [stored(0, 1), 3000],
    [stored(10), 0],
  ]);

  // Act
  const { skips } = decide(edge, events);

  // Assess
  t.match(skips, [{ skippedMillis: 2000, skippedProducerMillis: 2000, fragmentsSkipped: null }]);
});
