// `kvs-infer bench --scenario fleet --workers W --streams N`: W real `kvs-infer run --lease-only` processes share
// the lease table of N empty streams discovered by tag, on the local stack with KVS's control-plane quotas
// enforced. Measures the lease table's read and write units and the control-plane calls in steady state, the
// time to a balanced fleet from a cold start, after adding 20% more workers and after stopping as many with
// SIGTERM, and the failover of a kill -9.

import { join } from 'node:path';
import { CONFIG_DEFAULTS } from '../src/config/schema.js';
import { KvsInferError } from '../src/errors.js';
import type { ApiCallCount } from '../src/local/kvs/api-limits.js';
import { callRates, cpuSeconds, round, unitRates } from './fleet-figures.js';
import { FleetStack } from './fleet-stack.js';
import { builtCli, FleetWorkers } from './fleet-workers.js';
import { repoRoot } from './output.js';
import type { BenchReport, ScenarioOptions } from './report.js';
import type { OnProgress } from './scenarios/media.js';

const DEFAULTS = { streams: 1000, workers: 10, steadySeconds: 60, metricsIntervalMillis: 5000 } as const;
const SMOKE = { streams: 20, workers: 3, steadySeconds: 6, metricsIntervalMillis: 1000, failoverTimeMillis: 3000 };
/**
 * Renewal writes per second the default failoverTimeMillis is sized for: dynalite, in the bench's own process,
 * takes a few hundred writes a second on a 2-core machine, and shares it with the scans.
 */
const RENEWALS_PER_SECOND = 150;
/** The share of workers added, then stopped. */
const SCALE_STEP = 0.2;
const POLL_MS = 100;

export interface PhaseFigures {
  /** From the phase's start (spawn, SIGTERM, kill) to a balanced fleet; null when not reached within the timeout. */
  balancedMs: number | null;
  /** Serving workers at the end of the phase, and ceil(streams / them). */
  workers: number;
  share: number;
  /** The most leases any worker held right after an acquisition during the phase (0: it acquired none). */
  peakHeld: number;
}

export interface FleetFigures {
  scenario: 'fleet';
  streams: number;
  workers: number;
  leaseAssignment: string;
  failoverTimeMillis: number;
  steady: {
    seconds: number;
    /** Lease-table units per second, every worker's own calls together (the bench reads nothing). */
    rcuPerSecond: number;
    wcuPerSecond: number;
    rcuPerLease: number;
    wcuPerLease: number;
    rcuPerWorker: number;
    wcuPerWorker: number;
    /** Strongly consistent full listings per second (lease syncs), which dynalite prices as eventually consistent. */
    consistentListingsPerSecond: number;
    /** Leases acquired during the window: 0 in a settled fleet. */
    leaseMoves: number;
    /** Leases lost during the window, by the reason their holder logged (taken by another worker, expired). */
    lossesByReason: Record<string, number>;
    /** The same by worker, and the seconds into the window of the first and last: one stalled worker, or many. */
    lossesByWorker: Record<string, number>;
    lossesSeconds: [number, number] | null;
    /** KVS control-plane calls per second by API. */
    kvsCallsPerSecond: Record<string, { admitted: number; throttled: number }>;
    /** CPU seconds per second: all workers together, and the bench's own process (dynalite, the KVS server). */
    workersCpu: number | null;
    benchCpu: number;
  };
  coldStart: PhaseFigures & { allHeldMs: number | null };
  scaleOut: PhaseFigures & { added: number };
  scaleIn: PhaseFigures & { stopped: number; exitCodes: (number | null)[] };
  killed: PhaseFigures & { worker: string; leases: number; failoverMs: number | null };
  /** Every KVS control-plane call of the run, admitted and throttled, by API. */
  kvsCalls: Record<string, ApiCallCount>;
}

/** failoverTimeMillis whose renewals (one write per lease per failoverTimeMillis / 3) fit RENEWALS_PER_SECOND. */
export function defaultFailoverMillis(streams: number): number {
  return Math.max(10_000, Math.ceil((3 * streams) / RENEWALS_PER_SECOND) * 1000);
}

export async function fleetScenario(options: ScenarioOptions, onProgress: OnProgress): Promise<BenchReport> {
  const smoke = options.smoke === true;
  const streams = options.streams ?? (smoke ? SMOKE.streams : DEFAULTS.streams);
  const workerCount = options.workers ?? (smoke ? SMOKE.workers : DEFAULTS.workers);
  const failoverTimeMillis =
    options.failoverTimeMillis ?? (smoke ? SMOKE.failoverTimeMillis : defaultFailoverMillis(streams));
  const steadySeconds = options.durationSeconds ?? (smoke ? SMOKE.steadySeconds : DEFAULTS.steadySeconds);
  const metricsIntervalMillis = smoke ? SMOKE.metricsIntervalMillis : DEFAULTS.metricsIntervalMillis;
  // One worker is killed at the end, and it must not be the sync-lease holder.
  if (workerCount < 2)
    throw new KvsInferError('USAGE', `--workers must be at least 2 for --scenario fleet, got ${workerCount}`);
  const main = builtCli(join(repoRoot(), 'dist', 'src', 'cli', 'main.js'));

  onProgress(`fleet: ${streams} streams, ${workerCount} workers, failoverTimeMillis ${failoverTimeMillis}`);
  const stack = await FleetStack.start({
    streams,
    failoverTimeMillis,
    metricsIntervalMillis,
    leaseAssignment: options.leaseAssignment,
  });
  const fleet = new FleetWorkers(stack.streams, { main, config: stack.configFile, env: stack.env });
  try {
    const run = new FleetRun(stack, fleet, { failoverTimeMillis, onProgress });
    const figures = await run.measure(workerCount, steadySeconds, metricsIntervalMillis);
    return fleetReport(
      { ...figures, leaseAssignment: options.leaseAssignment ?? CONFIG_DEFAULTS.leaseAssignment },
      { metricsIntervalMillis, smoke },
    );
  } finally {
    await fleet.close();
    await stack.close();
  }
}

class FleetRun {
  readonly #stack: FleetStack;
  readonly #fleet: FleetWorkers;
  readonly #failover: number;
  readonly #progress: OnProgress;
  #next = 1;

  constructor(stack: FleetStack, fleet: FleetWorkers, options: { failoverTimeMillis: number; onProgress: OnProgress }) {
    this.#stack = stack;
    this.#fleet = fleet;
    this.#failover = options.failoverTimeMillis;
    this.#progress = options.onProgress;
  }

  async measure(
    workers: number,
    steadySeconds: number,
    metricsIntervalMillis: number,
  ): Promise<Omit<FleetFigures, 'leaseAssignment'>> {
    const fleet = this.#fleet;
    const streams = this.#stack.streams.length;
    // Cold start: discovery lists and tags every stream (paced under ListTagsForStream's quota), the sync-lease
    // holder creates the leases, and the workers take them. Bounded for the largest sizes this machine runs.
    const coldTimeout = 120_000 + streams * 200;
    const phaseTimeout = 120_000 + 6 * this.#failover;
    const coldStarted = Date.now();
    fleet.resetPeak();
    for (let i = 0; i < workers; i++) this.#spawn();
    let allHeldMs: number | null = null;
    const coldBalanced = await this.#untilBalanced('cold start', coldStarted, coldTimeout, () => {
      if (allHeldMs === null && fleet.balance().heldOnce === streams) allHeldMs = Date.now() - coldStarted;
    });
    const coldStart = { ...this.#phase(coldBalanced), allHeldMs };

    // Steady state: after one renewal interval and one metrics interval more, so that every EMF interval in the
    // window is a settled one.
    await sleep(Math.floor(this.#failover / 3) + metricsIntervalMillis);
    const steady = await this.#steady(steadySeconds);

    const added = Math.max(1, Math.round(workers * SCALE_STEP));
    fleet.resetPeak();
    const outAt = Date.now();
    for (let i = 0; i < added; i++) this.#spawn();
    const scaleOut = { ...this.#phase(await this.#untilBalanced('scale-out', outAt, phaseTimeout)), added };

    // The oldest first: among them, most likely, the sync-lease holder, whose duty then moves too.
    const stopping = fleet.serving.slice(0, added);
    fleet.resetPeak();
    const inAt = Date.now();
    for (const worker of stopping) fleet.signal(worker.id, 'SIGTERM');
    const inBalanced = await this.#untilBalanced('scale-in', inAt, phaseTimeout);
    const exitCodes = await Promise.all(stopping.map((w) => w.exited));
    const scaleIn = { ...this.#phase(inBalanced), stopped: stopping.length, exitCodes };

    const killed = await this.#kill(phaseTimeout);
    return {
      scenario: 'fleet',
      streams,
      workers,
      failoverTimeMillis: this.#failover,
      steady,
      coldStart,
      scaleOut,
      scaleIn,
      killed,
      kvsCalls: this.#stack.kvs.apiCalls(),
    };
  }

  /** Lease-table units, control-plane calls and CPU over `seconds` of a settled fleet. */
  async #steady(seconds: number): Promise<FleetFigures['steady']> {
    const fleet = this.#fleet;
    const streams = this.#stack.streams.length;
    const serving = fleet.serving;
    const from = Date.now();
    const callsBefore = this.#stack.kvs.apiCalls();
    const cpuBefore = serving.map((w) => cpuSeconds(w.process.pid));
    const benchBefore = process.cpuUsage();
    const movesBefore = fleet.acquisitions.length;
    const lossesBefore = fleet.losses.length;
    for (let waited = 0; waited < seconds; waited++) {
      this.#progress('steady state', waited, seconds, `${fleet.balance().maxHeld} max held`);
      await sleep(1000);
    }
    const to = Date.now();
    const window = (to - from) / 1000;
    const losses = fleet.losses.slice(lossesBefore);
    const cpuAfter = serving.map((w) => cpuSeconds(w.process.pid));
    const bench = process.cpuUsage(benchBefore);
    const units = unitRates(
      serving.map((w) => w.units),
      from,
      to,
    );
    const workersCpu = cpuBefore.every((c, i) => c !== null && cpuAfter[i] !== null)
      ? cpuAfter.reduce<number>((sum, c, i) => sum + (c! - cpuBefore[i]!), 0) / window
      : null;
    return {
      seconds: round(window),
      rcuPerSecond: round(units.read),
      wcuPerSecond: round(units.write),
      rcuPerLease: round(units.read / streams),
      wcuPerLease: round(units.write / streams),
      rcuPerWorker: round(units.read / serving.length),
      wcuPerWorker: round(units.write / serving.length),
      consistentListingsPerSecond: round(units.syncs),
      leaseMoves: fleet.acquisitions.length - movesBefore,
      lossesByReason: countBy(losses, (l) => l.reason),
      lossesByWorker: countBy(losses, (l) => l.worker),
      lossesSeconds:
        losses.length === 0 ? null : [round((losses[0]!.at - from) / 1000), round((losses.at(-1)!.at - from) / 1000)],
      kvsCallsPerSecond: Object.fromEntries(
        Object.entries(callRates(callsBefore, this.#stack.kvs.apiCalls(), window)).map(([op, rate]) => [
          op,
          { admitted: round(rate.admitted), throttled: round(rate.throttled) },
        ]),
      ),
      workersCpu: workersCpu === null ? null : round(workersCpu),
      benchCpu: round((bench.user + bench.system) / 1e6 / window),
    };
  }

  /**
   * kill -9 of a serving worker (not the sync-lease holder, if known): until its streams are all taken, then balance.
   */
  async #kill(timeout: number): Promise<FleetFigures['killed']> {
    const fleet = this.#fleet;
    const sync = fleet.syncHolder;
    const victim = fleet.serving.find((w) => w.id !== sync) ?? fleet.serving[0]!;
    const leases = [...victim.held];
    fleet.resetPeak();
    const killedAt = Date.now();
    fleet.signal(victim.id, 'SIGKILL');
    let failoverMs: number | null = null;
    const retaken = () => {
      const taken = new Set(fleet.acquisitions.filter((a) => a.at >= killedAt).map((a) => a.stream));
      return leases.filter((s) => taken.has(s)).length;
    };
    const balanced = await this.#untilBalanced('kill -9', killedAt, timeout, () => {
      if (failoverMs === null && retaken() === leases.length) failoverMs = Date.now() - killedAt;
    });
    return { ...this.#phase(balanced), worker: victim.id, leases: leases.length, failoverMs };
  }

  #spawn(): void {
    this.#fleet.spawn(`w-${String(this.#next++).padStart(3, '0')}`);
  }

  #phase(balancedMs: number | null): PhaseFigures {
    const balance = this.#fleet.balance();
    return { balancedMs, workers: this.#fleet.serving.length, share: balance.share, peakHeld: this.#fleet.peak };
  }

  /** Polls until the fleet is balanced; ms since `since`, or null after `timeout`. `each` runs at every poll. */
  async #untilBalanced(label: string, since: number, timeout: number, each?: () => void): Promise<number | null> {
    const streams = this.#stack.streams.length;
    for (;;) {
      each?.();
      const balance = this.#fleet.balance();
      const elapsed = Date.now() - since;
      if (balance.balanced) {
        this.#progress(`${label}: balanced in ${(elapsed / 1000).toFixed(1)} s`);
        return elapsed;
      }
      if (elapsed > timeout) {
        this.#progress(`${label}: not balanced after ${(timeout / 1000).toFixed(0)} s`);
        return null;
      }
      const detail = `max ${balance.maxHeld}/${balance.share}, ${balance.heldTwice} held twice`;
      this.#progress(label, balance.heldOnce, streams, detail);
      await sleep(POLL_MS);
    }
  }
}

const seconds = (ms: number | null) => (ms === null ? 'not reached' : `${(ms / 1000).toFixed(1)} s`);

/** The report: settings, figures, a table of every measured figure, and conclusions. */
export function fleetReport(
  figures: FleetFigures,
  settings: { metricsIntervalMillis: number; smoke: boolean },
): BenchReport {
  const { steady, coldStart, scaleOut, scaleIn, killed } = figures;
  const calls = Object.entries(steady.kvsCallsPerSecond).sort(([a], [b]) => a.localeCompare(b));
  const throttled = Object.values(figures.kvsCalls).reduce((sum, c) => sum + c.throttled, 0);
  const held = (p: PhaseFigures) => `${p.peakHeld} (ceil(N/W) = ${p.share}, W = ${p.workers} after)`;
  const rows: (string | number)[][] = [
    ['lease table RCU/s (steady)', steady.rcuPerSecond],
    ['lease table WCU/s (steady)', steady.wcuPerSecond],
    ['RCU/s per lease', steady.rcuPerLease],
    ['WCU/s per lease', steady.wcuPerLease],
    ['RCU/s per worker', steady.rcuPerWorker],
    ['WCU/s per worker', steady.wcuPerWorker],
    ['strongly consistent listings/s (steady)', steady.consistentListingsPerSecond],
    ['lease moves in the steady window', steady.leaseMoves],
    [
      'leases lost in the steady window, by reason',
      Object.entries(steady.lossesByReason)
        .map(([reason, n]) => `${reason} ${n}`)
        .join(', ') || 'none',
    ],
    ...calls.map(([op, rate]) => [`${op} calls/s (steady; throttled/s)`, `${rate.admitted} (${rate.throttled})`]),
    ['KVS calls throttled, whole run', throttled],
    ['cold start: all streams held', seconds(coldStart.allHeldMs)],
    ['cold start: balanced', seconds(coldStart.balancedMs)],
    ['cold start: most leases held upon a take', held(coldStart)],
    [`+${scaleOut.added} workers: balanced`, seconds(scaleOut.balancedMs)],
    [`+${scaleOut.added} workers: most leases held upon a take`, held(scaleOut)],
    [`SIGTERM ${scaleIn.stopped} workers: balanced`, seconds(scaleIn.balancedMs)],
    [`SIGTERM ${scaleIn.stopped} workers: most leases held upon a take`, held(scaleIn)],
    [`kill -9 ${killed.worker} (${killed.leases} leases): all re-acquired`, seconds(killed.failoverMs)],
    ['kill -9: balanced', seconds(killed.balancedMs)],
    ['kill -9: most leases held upon a take', held(killed)],
    ['worker CPU, all workers (s/s, steady)', steady.workersCpu ?? 'n/a'],
    ['bench process CPU: dynalite, KVS server (s/s, steady)', steady.benchCpu],
  ];
  const conclusions = [
    `${figures.streams} streams on ${figures.workers} workers (leaseAssignment ${figures.leaseAssignment}, ` +
      `failoverTimeMillis ${figures.failoverTimeMillis}): ${steady.rcuPerSecond} RCU/s and ` +
      `${steady.wcuPerSecond} WCU/s in steady state, ${steady.rcuPerLease} RCU/s and ${steady.wcuPerLease} WCU/s ` +
      'per lease.',
    `Balanced ${seconds(coldStart.balancedMs)} after a cold start, ${seconds(scaleOut.balancedMs)} after adding ` +
      `${scaleOut.added} workers, ${seconds(scaleIn.balancedMs)} after stopping ${scaleIn.stopped} with SIGTERM; ` +
      `a kill -9's ${killed.leases} leases re-acquired in ${seconds(killed.failoverMs)}.`,
    `KVS answered ${throttled} control-plane calls with ClientLimitExceededException over the run.`,
  ];
  return {
    scenario: 'fleet',
    settings: {
      streams: figures.streams,
      workers: figures.workers,
      leaseAssignment: figures.leaseAssignment,
      failoverTimeMillis: figures.failoverTimeMillis,
      steadySeconds: steady.seconds,
      metricsIntervalMillis: settings.metricsIntervalMillis,
      smoke: settings.smoke,
    },
    figures: figures as unknown as Record<string, unknown>,
    table: { columns: ['figure', 'value'], rows },
    conclusions,
    plots: [],
  };
}

function countBy<T>(items: T[], key: (item: T) => string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const item of items) counts[key(item)] = (counts[key(item)] ?? 0) + 1;
  return counts;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
