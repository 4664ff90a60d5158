// The promises every chaos scenario checks, written once: at-least-once up to every checkpoint, never two
// readers of a stream, bounded in-flight frames and memory, recovery within a stated time after the fault,
// no error record for a transient fault. Each scenario ends with one `FAILURE-MODE |` line for the README.

import type { Test } from 'tap';
import { DEFAULT_BUFFERED_BYTES } from '../../src/actors/pipeline/result-publisher.js';
import { DECODE_STAGE_BYTES } from '../../src/actors/pipeline/stream-pipeline.js';
import { until } from '../../src/local/worker-cluster.js';
import { keyOf, served } from '../e2e/pipeline-oracle.js';
import type { ChaosCluster } from './chaos-cluster.js';
import type { Sample } from './monitor.js';
import type { PublishedRecord } from './results-reader.js';

/** The RSS bound of one worker process (TypeScript loader included), whatever the fault. */
const RSS_BOUND_BYTES = 1024 * 1024 * 1024;
/** One PutRecords batch: the publish stage's share of the in-flight bound. */
const PUBLISH_BATCH = 500;
/** Decode slots per decode thread: the thread and its queue of four (FramePool's default maxQueue). */
const SLOTS_PER_DECODE_THREAD = 5;
const RECORDS_POLL_MS = 1000;
/** Checkpoint intervals within which every live stream writes a checkpoint (a loaded machine's slack included). */
const CHECKPOINTS_WITHIN_INTERVALS = 5;
const MIB = 1024 * 1024;

/** The most sampled frames a worker may hold (read, not yet published), however long a fault lasts. */
function inFlightBound(config: ChaosCluster['config']): number {
  return (
    config.sageMakerTaskQueueSize +
    config.sageMakerTaskThreadPoolSize +
    config.decodeThreadPoolSize * SLOTS_PER_DECODE_THREAD +
    PUBLISH_BATCH
  );
}

/**
 * The README's bound on the memory a worker holds in flight, bytes: the decode stage, S x I of encoded images
 * waiting for the endpoint stage, (B + (Q + T) x A) x 11/3 in the endpoint stage and the records built from its
 * answers (at most 8/3 of an answer each; answers larger than their images can overshoot B by one answer per place),
 * and the publisher's records and the bodies of its two calls.
 */
export function inFlightMemoryBound(config: ChaosCluster['config'], imageBytes: number, answerBytes: number): number {
  const slots = config.decodeThreadPoolSize * SLOTS_PER_DECODE_THREAD;
  const places = config.sageMakerTaskQueueSize + config.sageMakerTaskThreadPoolSize;
  const endpointStage = config.sageMakerTaskQueueBytes + places * answerBytes;
  return DECODE_STAGE_BYTES + slots * imageBytes + (endpointStage * 11) / 3 + 4 * DEFAULT_BUFFERED_BYTES;
}

/**
 * Each worker's RSS from `start` to `end` stays under its RSS just before (the `before` ms up to `start`, the
 * process at work with nothing held back) plus the in-flight memory bound.
 */
export function assertMemoryBound(
  t: Test,
  chaos: ChaosCluster,
  window: { start: number; end: number; before: number },
  boundBytes: number,
): void {
  for (const worker of new Set(chaos.monitor.samples.map((s) => s.worker))) {
    const rss = (from: number, to: number) =>
      Math.max(
        0,
        ...chaos.monitor
          .of(worker, from)
          .filter((s) => s.at < to && s.state)
          .map((s) => s.state!.rssBytes),
      );
    const baseline = rss(window.start - window.before, window.start);
    const during = rss(window.start, window.end);
    t.ok(baseline > 0, `${worker}: RSS sampled before the fault (${Math.round(baseline / MIB)} MiB)`);
    t.ok(
      during <= baseline + boundBytes,
      `${worker}: max RSS during the fault ${Math.round(during / MIB)} MiB <= ${Math.round(baseline / MIB)} MiB ` +
        `before it + the in-flight bound ${Math.round(boundBytes / MIB)} MiB`,
    );
  }
}

/** How long after a fault's end every stream published again; null: not within the budget. */
export interface Recovery {
  /** Until every stream published a record made after the fault ended: records flowing again. */
  flowingMs: number | null;
  /** Until every stream published a record of a fragment KVS received after the fault ended: caught up, live again. */
  liveMs: number | null;
}

/** Stated bounds of a recovery: records flowing again, and caught up with the fault's backlog. */
export interface RecoveryBudget {
  flowingMs: number;
  liveMs: number;
}

/** Whose records count for a recovery: every stream by default, by any worker. */
export interface RecoveryScope {
  streams?: string[];
  /** Only records this worker published (a take-over). */
  worker?: string;
}

/**
 * Polls the records until every stream in scope is live again after `since` (the end of the fault) or the live
 * budget has passed. Times come from the records' publishedAt (the worker's clock, this host's).
 */
async function recovery(
  chaos: ChaosCluster,
  since: number,
  budget: RecoveryBudget,
  scope: RecoveryScope = {},
): Promise<Recovery> {
  const streams = scope.streams ?? chaos.streams;
  const after = (records: PublishedRecord[], made: (r: PublishedRecord) => boolean): number | null => {
    const mine = records.filter((r) => (scope.worker === undefined || r.workerId === scope.worker) && made(r));
    const first = streams.map((s) => Math.min(...mine.filter((r) => r.streamName === s).map((r) => r.publishedAt)));
    return first.every(Number.isFinite) ? Math.max(...first) - since : null;
  };
  for (;;) {
    const records = await chaos.records();
    const flowingMs = after(records, (r) => r.publishedAt >= since);
    const liveMs = after(records, (r) => r.serverTimestamp >= since);
    if (liveMs !== null || Date.now() > since + budget.liveMs) return { flowingMs, liveMs };
    await new Promise((resolve) => setTimeout(resolve, RECORDS_POLL_MS));
  }
}

/** Asserts both recovery times within their budgets after `since`. */
export async function assertRecovered(
  t: Test,
  chaos: ChaosCluster,
  since: number,
  budget: RecoveryBudget,
  scope: RecoveryScope = {},
): Promise<Recovery> {
  const measured = await recovery(chaos, since, budget, scope);
  const { flowingMs, liveMs } = measured;
  const which = `${scope.streams?.join(', ') ?? 'every stream'}${scope.worker ? ` by ${scope.worker}` : ''}`;
  t.ok(
    flowingMs !== null && flowingMs <= budget.flowingMs,
    `records flowing again on ${which} ${flowingMs ?? 'never'} ms after the fault (stated: <= ${budget.flowingMs} ms)`,
  );
  t.ok(
    liveMs !== null && liveMs <= budget.liveMs,
    `${which} caught up (a fragment received after the fault published) ${liveMs ?? 'never'} ms after it (stated: <= ` +
      `${budget.liveMs} ms)`,
  );
  return measured;
}

/**
 * Every invariant, once the scenario's fault is over and its streams have recovered (or not); returns the duplicates.
 * `unreadable`: fragments that cannot be published (a corrupt one), left out of the at-least-once check. Every fault
 * of the suite is transient (or a corrupt fragment, which is skipped, not recorded): none may cost an error record.
 */
export async function assertInvariants(t: Test, chaos: ChaosCluster, unreadable = new Set<string>()): Promise<number> {
  // Progress: a checkpoint of every stream written from now on covers the whole fault and its recovery.
  const now = Date.now();
  const budget = CHECKPOINTS_WITHIN_INTERVALS * chaos.config.checkpointIntervalMillis;
  const fresh = () =>
    chaos.streams.filter(
      (s) => !chaos.cluster.lines.some((l) => l.event === 'checkpoint' && l.stream === s && l.at >= now),
    );
  await until('a checkpoint of every stream', () => fresh().length === 0, budget).catch(() => undefined);
  t.same(fresh(), [], `every stream checkpointed within ${budget} ms of the recovery`);
  // Checkpoints first: whatever they cover was published before they were written, so it is in the records read after.
  const checkpoints = lastCheckpoints(chaos);
  const records = await chaos.records();
  assertCheckpointsPublished(t, chaos, checkpoints, records, unreadable);
  assertSingleReader(t, chaos.monitor.samples);
  assertBounded(t, chaos);
  const errors = records.filter((r) => r.error !== undefined);
  const described = errors.map((r) => `${r.idempotencyKey}: ${r.error?.code} after ${r.attempts} attempts`);
  t.same(described, [], `0 error records of ${records.length} for a transient fault`);
  return duplicatesIn(records);
}

/** The newest checkpoint each stream's workers logged, by stream. */
function lastCheckpoints(chaos: ChaosCluster): Map<string, bigint> {
  const latest = new Map<string, bigint>();
  for (const line of chaos.cluster.lines) {
    if (line.event !== 'checkpoint' || line.stream === undefined) continue;
    const number = BigInt(line.fragmentNumber!);
    if (number > (latest.get(line.stream) ?? -1n)) latest.set(line.stream, number);
  }
  return latest;
}

/** Every fragment KVS holds up to each stream's last checkpoint has its record (its one keyframe, sampled). */
function assertCheckpointsPublished(
  t: Test,
  chaos: ChaosCluster,
  checkpoints: Map<string, bigint>,
  records: PublishedRecord[],
  unreadable: Set<string>,
): void {
  const published = new Set(records.map((r) => r.idempotencyKey));
  for (const stream of chaos.streams) {
    const checkpoint = checkpoints.get(stream);
    if (checkpoint === undefined) {
      t.fail(`${stream}: never checkpointed`);
      continue;
    }
    const covered = served(chaos.cluster, stream).filter(
      (f) => BigInt(f.fragmentNumber) <= checkpoint && !unreadable.has(f.fragmentNumber),
    );
    const missing = covered.filter(
      (f) => !published.has(keyOf({ stream, fragmentNumber: f.fragmentNumber, frameTimecode: f.clusterTimecode! })),
    );
    t.same(
      missing.map((f) => f.fragmentNumber),
      [],
      `${stream}: all ${covered.length} fragments up to checkpoint ${checkpoint} published (${missing.length} missing)`,
    );
  }
}

/**
 * No stream in a reading state on two workers at once. A worker's reading of a stream is known for the spans
 * between consecutive samples that both show it (by the worker's own clock); two such spans of different workers
 * that overlap are two readers for certain. A span shorter than the poll interval can slip through; none is invented.
 */
function assertSingleReader(t: Test, samples: Sample[]): void {
  type Span = { worker: string; from: number; to: number };
  const spans = new Map<string, Span[]>();
  // Per worker, the spans still growing: stream -> span.
  const open = new Map<string, Map<string, Span>>();
  for (const sample of samples) {
    const mine = open.get(sample.worker) ?? new Map<string, Span>();
    open.set(sample.worker, mine);
    // No answer: what the worker did since its last sample is unknown, so no span reaches across it.
    if (sample.state === null) {
      mine.clear();
      continue;
    }
    const { now, reading } = sample.state;
    for (const stream of [...mine.keys()]) if (!reading.includes(stream)) mine.delete(stream);
    for (const stream of reading) {
      const span = mine.get(stream);
      if (span) {
        span.to = now;
      } else {
        const fresh = { worker: sample.worker, from: now, to: now };
        mine.set(stream, fresh);
        spans.set(stream, [...(spans.get(stream) ?? []), fresh]);
      }
    }
  }
  const overlaps: string[] = [];
  for (const [stream, list] of spans) {
    for (const a of list) {
      for (const b of list) {
        if (a.worker < b.worker && a.from <= b.to && b.from <= a.to) {
          const from = Math.max(a.from, b.from);
          overlaps.push(
            `${stream}: ${a.worker} and ${b.worker} both reading for ${Math.min(a.to, b.to) - from} ms from ` +
              `${new Date(from).toISOString()}`,
          );
        }
      }
    }
  }
  const answered = samples.filter((s) => s.state !== null).length;
  t.ok(answered >= samples.length / 2 && answered > 0, `${answered} of ${samples.length} /debug/state polls answered`);
  t.same(overlaps, [], 'no stream in a reading state on two workers at any sampled instant');
}

/** In-flight frames and RSS of every worker under their bounds at every sample; the maxima are printed. */
function assertBounded(t: Test, chaos: ChaosCluster): void {
  const states = chaos.monitor.samples.flatMap((s) => (s.state ? [s.state] : []));
  const maxInFlight = Math.max(0, ...states.map((s) => s.inFlight));
  const maxRss = Math.max(0, ...states.map((s) => s.rssBytes));
  const bound = inFlightBound(chaos.config);
  t.ok(
    maxInFlight <= bound,
    `max frames in flight ${maxInFlight} <= ${bound} (endpoint queue + calls + decode slots + one PutRecords batch)`,
  );
  t.ok(maxRss <= RSS_BOUND_BYTES, `max RSS ${Math.round(maxRss / MIB)} MiB <= ${RSS_BOUND_BYTES / MIB} MiB`);
}

/** Records beyond the first of each idempotency key. */
export function duplicatesIn(records: PublishedRecord[]): number {
  return records.length - new Set(records.map((r) => r.idempotencyKey)).size;
}

/**
 * Runs one fault (`inject` resolves with when it began and ended), asserts recovery within its budget and prints its
 * FAILURE-MODE row, with the duplicates published from its start until recovery. Returns its times.
 */
export async function faultPhase(
  t: Test,
  chaos: ChaosCluster,
  row: { fault: string; behaviour: string; budget: RecoveryBudget },
  inject: () => Promise<{ start: number; end: number }>,
): Promise<{ start: number; end: number } & Recovery> {
  const before = duplicatesIn(await chaos.records());
  const { start, end } = await inject();
  const measured = await assertRecovered(t, chaos, end, row.budget);
  printFailureMode({
    fault: row.fault,
    behaviour: row.behaviour,
    recovery: measured,
    duplicates: duplicatesIn(await chaos.records()) - before,
  });
  return { start, end, ...measured };
}

export interface FailureMode {
  fault: string;
  behaviour: string;
  recovery: Recovery;
  duplicates: number;
}

/** One row of the README's "Failure modes" table, on stdout for whoever regenerates it. */
export function printFailureMode(row: FailureMode): void {
  const { flowingMs, liveMs } = row.recovery;
  console.log(
    `FAILURE-MODE | ${row.fault} | ${row.behaviour} | ${flowingMs ?? 'not recovered'} (live ${liveMs ?? 'never'}) | ` +
      `${row.duplicates} |`,
  );
}
