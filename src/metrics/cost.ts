// The cost meter's arithmetic: what the media read from KVS costs (GetMedia's data-consumption charge) and what
// that buys per inference. Pure functions, shared by the registry, the worker's views and `kvs-infer bench`.

import { KvsInferError } from '../errors.js';

/** AWS bills data by the decimal GB. */
export const BYTES_PER_GB = 1e9;

/** What reading a stream (or every stream of a worker) has cost so far, and what it bought. */
export interface MediaCost {
  /** Bytes of media read from GetMedia. */
  bytesRead: number;
  /** Estimated US dollars of GetMedia data consumption: bytesRead × getMediaPricePerGB / 10^9. */
  dollars: number;
  /** Frames the endpoint answered successfully. */
  framesInferred: number;
  /** `dollars` per 1,000 frames inferred; null before the first. */
  dollarsPer1000Inferences: number | null;
}

/** The estimated US dollars of reading `bytes` from GetMedia at `pricePerGB` dollars per 10^9 bytes. */
export function getMediaCost(bytes: number, pricePerGB: number): number {
  check('bytes', bytes);
  check('pricePerGB', pricePerGB);
  return (bytes * pricePerGB) / BYTES_PER_GB;
}

/** `dollars` spread over `inferences`, per 1,000 of them; null when there are none yet (no figure, not infinity). */
export function costPer1000Inferences(dollars: number, inferences: number): number | null {
  check('dollars', dollars);
  check('inferences', inferences);
  return inferences === 0 ? null : (dollars * 1000) / inferences;
}

/** The cost of `bytesRead` at `pricePerGB`, and per 1,000 of the `inferred` frames it bought. */
export function mediaCost(counts: { bytesRead: number; inferred: number }, pricePerGB: number): MediaCost {
  const dollars = getMediaCost(counts.bytesRead, pricePerGB);
  return {
    bytesRead: counts.bytesRead,
    dollars,
    framesInferred: counts.inferred,
    dollarsPer1000Inferences: costPer1000Inferences(dollars, counts.inferred),
  };
}

function check(name: string, value: number): void {
  if (!(Number.isFinite(value) && value >= 0)) {
    throw new KvsInferError('BAD_METRIC', `the cost meter's ${name} must be a finite number >= 0, got ${value}`);
  }
}
