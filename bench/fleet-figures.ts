// The fleet simulation's arithmetic, apart from the processes: lease-table unit rates from the workers' EMF
// intervals, control-plane call rates from the KVS server's counts, and a process's CPU time from /proc.

import type { ApiCallCount } from '../src/local/kvs/api-limits.js';
import type { UnitSample } from './fleet-workers.js';
import { cpuSecondsOf } from './proc.js';

export interface UnitRates {
  /** Read units per second, every worker together. */
  read: number;
  write: number;
  /** Strongly consistent lease-table listings (LeaseSyncs) per second. */
  syncs: number;
  /** Workers that reported at least one whole interval inside the window. */
  workers: number;
}

/**
 * Units per second over [from, to] (epoch ms): for each worker, the units of its EMF intervals that lie wholly inside
 * the window over the time those intervals cover, then summed over workers. A worker's first line has no start to
 * measure from and is left out.
 */
export function unitRates(workers: UnitSample[][], from: number, to: number): UnitRates {
  const rates: UnitRates = { read: 0, write: 0, syncs: 0, workers: 0 };
  for (const samples of workers) {
    let covered = 0;
    const sum = { read: 0, write: 0, syncs: 0 };
    for (let i = 1; i < samples.length; i++) {
      const previous = samples[i - 1]!;
      const current = samples[i]!;
      if (previous.at < from || current.at > to) continue;
      covered += current.at - previous.at;
      sum.read += current.read;
      sum.write += current.write;
      sum.syncs += current.syncs;
    }
    if (covered <= 0) continue;
    rates.workers++;
    rates.read += (sum.read * 1000) / covered;
    rates.write += (sum.write * 1000) / covered;
    rates.syncs += (sum.syncs * 1000) / covered;
  }
  return rates;
}

export interface CallRate {
  /** Calls let through, per second. */
  admitted: number;
  /** Calls answered ClientLimitExceededException, per second. */
  throttled: number;
}

/** Calls per second by operation between two snapshots of `KvsServer.apiCalls()`, `seconds` apart. */
export function callRates(
  before: Record<string, ApiCallCount>,
  after: Record<string, ApiCallCount>,
  seconds: number,
): Record<string, CallRate> {
  const rates: Record<string, CallRate> = {};
  for (const [operation, count] of Object.entries(after)) {
    const earlier = before[operation] ?? { admitted: 0, throttled: 0 };
    rates[operation] = {
      admitted: (count.admitted - earlier.admitted) / seconds,
      throttled: (count.throttled - earlier.throttled) / seconds,
    };
  }
  return rates;
}

/** User + system CPU seconds of process `pid` so far, from /proc (Linux); null where it cannot be read. */
export function cpuSeconds(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    return cpuSecondsOf(pid);
  } catch {
    return null;
  }
}

/** `value` rounded to `digits` significant digits, for tables and JSON a person reads. */
export function round(value: number, digits = 3): number {
  if (value === 0 || !Number.isFinite(value)) return value;
  return Number(value.toPrecision(digits));
}
