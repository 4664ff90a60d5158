// What the workers of an end-to-end test must have published, worked out from the KVS server's own
// fragment log and an independent demux of the clip, and the check of the records read back from Kinesis.

import type { Test } from 'tap';
import type { InferenceRecord } from '../../src/actors/pipeline/inference-record.js';
import type { StoredFragment } from '../../src/local/kvs/types.js';
import type { LogLine, WorkerCluster } from '../../src/local/worker-cluster.js';
import { libavKeyframeTimes } from '../helpers/reference-reader.js';

export interface ExpectedFrame {
  stream: string;
  fragmentNumber: string;
  frameTimecode: number;
  keyframeIndex: number;
}

export const keyOf = (f: {
  streamName?: string;
  stream?: string;
  fragmentNumber: string;
  frameTimecode: number;
}): string => `${f.streamName ?? f.stream}/${f.fragmentNumber}/${f.frameTimecode}`;

/** Every fragment the server holds for `stream`, oldest first. */
export function served(cluster: WorkerCluster, stream: string): StoredFragment[] {
  return cluster.stack.kvs.streamLog(stream).list({ type: 'SERVER_TIMESTAMP', start: 0, end: Number.MAX_SAFE_INTEGER });
}

/**
 * The sampled I-frames of `stream`: its keyframes in order (each fragment of the 200 ms-GOP clip holds exactly one),
 * 1 of every `interval` from the first, leaving out fragments in `unreadable` (their keyframe is never seen).
 * Checks on the way that the server's fragments carry the clip's keyframe times, as libavformat reads them.
 */
export async function expectedFrames(
  t: Test,
  cluster: WorkerCluster,
  stream: string,
  interval: number,
  unreadable = new Set<string>(),
): Promise<ExpectedFrame[]> {
  const fragments = served(cluster, stream);
  const clipTimes = await libavKeyframeTimes(cluster.file);
  t.ok(
    fragments.every((f) => f.keyframes === 1),
    `${stream}: every fragment holds one keyframe`,
  );
  t.same(
    fragments.map((f) => f.clusterTimecode),
    clipTimes.slice(0, fragments.length),
    `${stream}: the ${fragments.length} fragments served start at the clip's keyframe times`,
  );
  const expected: ExpectedFrame[] = [];
  let index = 0;
  for (const fragment of fragments) {
    if (unreadable.has(fragment.fragmentNumber)) continue;
    const keyframeIndex = index++;
    if (keyframeIndex % interval === 0)
      expected.push({
        stream,
        fragmentNumber: fragment.fragmentNumber,
        frameTimecode: fragment.clusterTimecode!,
        keyframeIndex,
      });
  }
  return expected;
}

/** Polls the results stream until every expected frame has a record, or `ms` passes. */
export async function recordsCovering(
  cluster: WorkerCluster,
  expected: ExpectedFrame[],
  ms: number,
): Promise<InferenceRecord[]> {
  const deadline = Date.now() + ms;
  for (;;) {
    const records = await cluster.records();
    const keys = new Set(records.map(keyOf));
    if (expected.every((f) => keys.has(keyOf(f))) || Date.now() > deadline) return records;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/**
 * Asserts each expected frame appears with its fragment, timecode and keyframe index, and nothing else does; returns
 * the duplicates.
 */
export function assertCovered(
  t: Test,
  records: InferenceRecord[],
  expected: ExpectedFrame[],
  what: string,
): Map<string, InferenceRecord[]> {
  const byKey = new Map<string, InferenceRecord[]>();
  for (const record of records) byKey.set(record.idempotencyKey, [...(byKey.get(record.idempotencyKey) ?? []), record]);
  const missing = expected.filter((f) => !byKey.has(keyOf(f)));
  t.same(missing, [], `${what}: all ${expected.length} sampled I-frames published at least once`);
  const wanted = new Map(expected.map((f) => [keyOf(f), f]));
  const unexpected = records.filter((r) => !wanted.has(r.idempotencyKey));
  t.same(
    unexpected.map((r) => r.idempotencyKey),
    [],
    `${what}: no record for a frame that was not to be sampled`,
  );
  const wrongIndex = records.filter(
    (r) => wanted.has(r.idempotencyKey) && wanted.get(r.idempotencyKey)!.keyframeIndex !== r.keyframeIndex,
  );
  t.same(
    wrongIndex.map((r) => r.idempotencyKey),
    [],
    `${what}: every record has its frame's keyframe index`,
  );
  return new Map([...byKey].filter(([, copies]) => copies.length > 1));
}

/**
 * Asserts that every duplicate is of a frame after the checkpoint its later publisher started from (the
 * `acquired` line it logged last before publishing it), or at it when it was inclusive: the only duplicates
 * at-least-once allows.
 */
export function assertDuplicatesAfterCheckpoints(
  t: Test,
  duplicates: Map<string, InferenceRecord[]>,
  lines: LogLine[],
  what: string,
): void {
  const early: string[] = [];
  for (const copies of duplicates.values()) {
    for (const copy of copies.slice(1)) {
      const acquired = lines
        .filter(
          (l) =>
            l.event === 'acquired' &&
            l.worker === copy.workerId &&
            l.stream === copy.streamName &&
            Date.parse(String(l.time)) <= copy.publishedAt,
        )
        .at(-1);
      const checkpoint = (acquired?.checkpoint as string | null | undefined) ?? null;
      // An inclusive checkpoint (the first one, written at a stream's first fragment read) resumes at its fragment.
      const inclusive = acquired?.inclusive === true;
      const before =
        checkpoint !== null &&
        (inclusive
          ? BigInt(copy.fragmentNumber) < BigInt(checkpoint)
          : BigInt(copy.fragmentNumber) <= BigInt(checkpoint));
      if (before)
        early.push(`${copy.idempotencyKey} by ${copy.workerId} (resumed ${inclusive ? 'at' : 'after'} ${checkpoint})`);
    }
  }
  const count = [...duplicates.values()].reduce((n, copies) => n + copies.length - 1, 0);
  t.same(
    early,
    [],
    `${what}: ${count} duplicate record(s), every one of a frame after the checkpoint its publisher resumed from`,
  );
}

/**
 * Asserts that `survivor` took `stream` over after `killedAt`, resuming after `victim`'s last logged checkpoint or a
 * later one: a write that landed as the victim was killed, before it could log it. Returns that last logged
 * checkpoint's line and the fragment resumed after.
 */
export function assertResumedAfterLastCheckpoint(
  t: Test,
  lines: LogLine[],
  stream: string,
  workers: { victim: string; survivor: string; killedAt: number },
): { lastLogged: LogLine; resumedAfter: bigint } {
  const { victim, survivor, killedAt } = workers;
  // After the kill only: before the workers' balance settled, the survivor may have held the stream briefly.
  const taken = lines.find(
    (l) => l.event === 'acquired' && l.worker === survivor && l.stream === stream && l.at >= killedAt,
  );
  const lastLogged = lines.filter((l) => l.event === 'checkpoint' && l.worker === victim && l.stream === stream).at(-1);
  const resumedAfter = BigInt((taken?.checkpoint as string | null | undefined) ?? -1);
  t.ok(
    taken !== undefined && lastLogged !== undefined && resumedAfter >= BigInt(lastLogged.fragmentNumber!),
    `${stream}: ${survivor} resumed after ${taken?.checkpoint}, ${victim}'s last logged checkpoint ` +
      `${lastLogged?.fragmentNumber} or one it wrote as it was killed`,
  );
  return { lastLogged: lastLogged!, resumedAfter };
}
