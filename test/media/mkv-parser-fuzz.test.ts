// Property-based fuzzing: mutated, truncated and random inputs never throw, never hang, never
// grow memory, and give the same events whichever way they are cut into chunks.

import fc from 'fast-check';
import t from 'tap';
import { MkvParser } from '../../src/media/index.js';
import { blockGroup, kvsFragment, simpleBlock } from '../helpers/ebml-builder.js';
import { parseChunks, summarize } from '../helpers/parse.js';

const CODES = new Set(['MKV_TRUNCATED', 'MKV_INVALID', 'MKV_EMPTY']);

const seed = Buffer.concat([
  kvsFragment({
    fragmentNumber: '1',
    serverTimestamp: '1.5',
    clusterTimecode: 0,
    blocks: [simpleBlock(1, 0, true, Buffer.alloc(40, 1)), blockGroup(1, 5, true, Buffer.alloc(30, 2))],
  }),
  kvsFragment({ fragmentNumber: '2', clusterTimecode: 100, blocks: [simpleBlock(1, 0, true, Buffer.alloc(50, 3))] }),
]);

type Mutation =
  | { kind: 'flip'; at: number; value: number }
  | { kind: 'cut'; at: number }
  | { kind: 'delete'; at: number; length: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 16 }) }),
  fc.record({
    kind: fc.constant('insert' as const),
    at: fc.nat(),
    bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }),
  }),
);

function mutate(bytes: Buffer, mutations: Mutation[]): Buffer {
  let out = Buffer.from(bytes);
  for (const m of mutations) {
    const at = out.length === 0 ? 0 : m.at % out.length;
    if (m.kind === 'flip' && out.length > 0) out[at] = m.value;
    if (m.kind === 'cut') out = out.subarray(0, at);
    if (m.kind === 'delete') out = Buffer.concat([out.subarray(0, at), out.subarray(at + m.length)]);
    if (m.kind === 'insert') out = Buffer.concat([out.subarray(0, at), m.bytes, out.subarray(at)]);
  }
  return out;
}

function assertWellBehaved(bytes: Buffer, chunks: number[]): boolean {
  const whole = parseChunks(bytes);
  for (const event of whole) {
    if (event.type === 'error' && !CODES.has(event.error.code)) return false;
  }
  // Split invariance holds for bad input too: errors, offsets and resynchronisation included.
  return JSON.stringify(summarize(parseChunks(bytes, chunks))) === JSON.stringify(summarize(whole));
}

t.test('mutated KVS streams: no exception, only media error codes, the same result for every split', async (t) => {
  fc.assert(
    fc.property(
      fc.array(mutation, { minLength: 1, maxLength: 6 }),
      fc.array(fc.integer({ min: 1, max: 97 }), { minLength: 1, maxLength: 5 }),
      (mutations, chunks) => assertWellBehaved(mutate(seed, mutations), chunks),
    ),
    { numRuns: 3000, seed: 20261121 },
  );
  t.pass('3000 mutated inputs');
});

t.test('random bytes, with and without a valid EBML header in front', async (t) => {
  fc.assert(
    fc.property(
      fc.boolean(),
      fc.uint8Array({ maxLength: 2048 }),
      fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 4 }),
      (prefixed, random, chunks) =>
        assertWellBehaved(prefixed ? Buffer.concat([seed.subarray(0, 40), random]) : Buffer.from(random), chunks),
    ),
    { numRuns: 2000, seed: 7 },
  );
  t.pass('2000 random inputs');
});

t.test('memory stays bounded on 256 MiB of hostile input', async (t) => {
  // Prepare: a valid start, then a cluster claiming one endless block, then noise.
  const parser = new MkvParser({ maxElementSize: 1024 * 1024 });
  const header = seed.subarray(
    0,
    seed.indexOf(Buffer.from([0xa3]), seed.indexOf(Buffer.from([0x1f, 0x43, 0xb6, 0x75]))),
  );
  const chunk = Buffer.alloc(1024 * 1024);
  for (let i = 0; i < chunk.length; i++) chunk[i] = (i * 2654435761) >>> 24;
  global.gc?.();
  const before = process.memoryUsage();

  // Act
  let errors = 0;
  errors += parser
    .push(Buffer.concat([header, Buffer.from([0xa3, 0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])]))
    .filter((e) => e.type === 'error').length;
  for (let i = 0; i < 256; i++) errors += parser.push(chunk).filter((e) => e.type === 'error').length;
  errors += parser.end().filter((e) => e.type === 'error').length;
  const after = process.memoryUsage();

  // Assess
  const grown = after.heapUsed + after.arrayBuffers - before.heapUsed - before.arrayBuffers;
  t.ok(errors >= 1, `reported ${errors} error(s)`);
  t.ok(grown < 64 * 1024 * 1024, `memory grew by ${(grown / 1048576).toFixed(1)} MiB for 256 MiB of input`);
});
