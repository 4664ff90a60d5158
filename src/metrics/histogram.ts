// A latency distribution in milliseconds over an HDR histogram (2 significant digits: within 1%), with exact count,
// sum, min and max kept beside it, and `drain()` to hand one interval to CloudWatch EMF as Values/Counts.

import hdr from 'hdr-histogram-js';

/** The longest latency kept apart from the others: an hour. Longer ones are recorded as an hour. */
export const MAX_LATENCY_MS = 3_600_000;

/** CloudWatch drops a metric value carrying more than 100 values (the EMF limit per metric). */
export const MAX_EMF_VALUES = 100;

export interface LatencySummary {
  count: number;
  sum: number;
  /** NaN when nothing was recorded (as are max and the percentiles): no sample, no value. */
  min: number;
  max: number;
  p50: number;
  p90: number;
  p99: number;
}

/** One interval's distribution in the shape EMF takes for a metric value (`Count`, as the EMF libraries name it). */
export interface EmfDistribution {
  Values: number[];
  Counts: number[];
  Min: number;
  Max: number;
  Sum: number;
  Count: number;
}

export class LatencyHistogram {
  // Each stream holds sixteen (eight latencies, each twice), and the debug view and every Prometheus scrape read
  // their percentiles. Plain 32-bit counts at 2 digits: 9 KB each, and a summary in tens of microseconds. (hdr's
  // packed counts at 3 digits filled to 27 KB, and a summary took 8 ms: 70% of a worker's main thread went to
  // percentiles of ten streams polled five times a second.)
  readonly #hdr: InstanceType<typeof hdr.JsHistogram>;
  #count = 0;
  #sum = 0;
  #min = Number.POSITIVE_INFINITY;
  #max = Number.NEGATIVE_INFINITY;
  #destroyed = false;

  constructor() {
    const built = hdr.build({
      lowestDiscernibleValue: 1,
      highestTrackableValue: MAX_LATENCY_MS,
      numberOfSignificantValueDigits: 2,
      bitBucketSize: 32,
      autoResize: false,
      useWebAssembly: false,
    });
    // drain() walks the counts array, which only the JS implementations expose.
    if (!(built instanceof hdr.JsHistogram))
      throw new Error('hdr-histogram-js built a histogram without a counts array');
    this.#hdr = built;
  }

  /** Ignores NaN and infinities: a latency computed from a missing timestamp is no sample. */
  record(ms: number): void {
    if (!Number.isFinite(ms) || this.#destroyed) return;
    const value = Math.min(Math.max(ms, 1), MAX_LATENCY_MS);
    this.#hdr.recordValue(Math.round(value));
    this.#count++;
    this.#sum += value;
    if (value < this.#min) this.#min = value;
    if (value > this.#max) this.#max = value;
  }

  get count(): number {
    return this.#count;
  }

  get sum(): number {
    return this.#sum;
  }

  get min(): number {
    return this.#count === 0 ? Number.NaN : this.#min;
  }

  get max(): number {
    return this.#count === 0 ? Number.NaN : this.#max;
  }

  /**
   * Value at percentile `p` (0..100), within hdr's 2 digits (1%); kept inside the exact [min, max] so a constant reads
   * as itself.
   */
  percentile(p: number): number {
    if (this.#count === 0) return Number.NaN;
    const value = this.#hdr.getValueAtPercentile(Math.min(Math.max(p, 0), 100));
    return Math.min(Math.max(value, this.#min), this.#max);
  }

  summary(): LatencySummary {
    return {
      count: this.count,
      sum: this.sum,
      min: this.min,
      max: this.max,
      p50: this.percentile(50),
      p90: this.percentile(90),
      p99: this.percentile(99),
    };
  }

  reset(): void {
    this.#hdr.reset();
    this.#count = 0;
    this.#sum = 0;
    this.#min = Number.POSITIVE_INFINITY;
    this.#max = Number.NEGATIVE_INFINITY;
  }

  /**
   * The distribution recorded since the last drain, then resets; null when nothing was recorded (EMF has no
   * empty distribution). More than 100 distinct values are merged into at most 100 log-spaced groups, each
   * the count-weighted mean of its members, so the count and the mean survive and the tail keeps its shape.
   */
  drain(): EmfDistribution | null {
    if (this.#count === 0) return null;
    const values: number[] = [];
    const counts: number[] = [];
    const h = this.#hdr;
    const last = h.countsArrayIndex(h.maxValue);
    for (let index = 0; index <= last; index++) {
      const count = h.getCountAtIndex(index);
      if (count === 0) continue;
      values.push(h.medianEquivalentValue(h.valueFromIndex(index)));
      counts.push(count);
    }
    const merged = values.length > MAX_EMF_VALUES ? mergeLogBins(values, counts, MAX_EMF_VALUES) : { values, counts };
    const distribution: EmfDistribution = {
      Values: merged.values.map((v) => Math.min(Math.max(round3(v), this.#min), this.#max)),
      Counts: merged.counts,
      Min: this.#min,
      Max: this.#max,
      Sum: this.#sum,
      Count: this.#count,
    };
    this.reset();
    return distribution;
  }

  /** Frees the counts; the histogram records nothing afterwards. */
  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    this.reset();
    this.#hdr.destroy();
  }
}

/** Groups sorted `values` into at most `bins` bins equally wide in log space between the first and last value. */
function mergeLogBins(values: number[], counts: number[], bins: number): { values: number[]; counts: number[] } {
  const low = values[0]!;
  const span = Math.log(values[values.length - 1]! / low);
  const out = { values: [] as number[], counts: [] as number[] };
  let bin = -1;
  let weighted = 0;
  let total = 0;
  for (let i = 0; i < values.length; i++) {
    const b = Math.min(bins - 1, Math.floor((bins * Math.log(values[i]! / low)) / span));
    if (b !== bin && total > 0) {
      out.values.push(weighted / total);
      out.counts.push(total);
      weighted = 0;
      total = 0;
    }
    bin = b;
    weighted += values[i]! * counts[i]!;
    total += counts[i]!;
  }
  out.values.push(weighted / total);
  out.counts.push(total);
  return out;
}

function round3(value: number): number {
  return Math.round(value * 1000) / 1000;
}
