// Fault injection: which failure, if any, a request meets. Rates come from code or from a CLI
// string such as `500=0.2,429=0.1,hang=0.05,latency=0.1:2000`; one draw per invocation picks at most one.

import { ModelServerError } from './errors.js';

/**
 * `500` InternalFailure, `503` ServiceUnavailable, `424` ModelError (the container answered 500),
 * `429` ModelNotReadyException (the SDK's modelled 429), `throttle` ThrottlingException "Rate exceeded"
 * (400, unmodelled), `latency` an extra delay before a normal answer, `hang` a container that never answers,
 * which SageMaker ends with its ModelError at the invocation timeout (60 s), `malformed` a 200 whose body is
 * cut in half, `blackhole` no answer at all, ever: the connection stays open until the client gives up (for
 * client timeout tests). On /invocations a status fault is that status as it is, and `hang` is a blackhole,
 * since the 60 s cut is SageMaker's, not the container's.
 */
// Appended kinds go last: a seed's draws keep their meaning for the kinds before them.
export const FAULT_KINDS = [
  '500',
  '503',
  '424',
  '429',
  'throttle',
  'latency',
  'hang',
  'malformed',
  'blackhole',
] as const;

export type FaultKind = (typeof FAULT_KINDS)[number];

/** Rates are probabilities per invocation, 0 to 1, summing to at most 1. */
export type FaultConfig = { [K in FaultKind]?: number } & {
  /** Extra delay of a `latency` spike in ms; default DEFAULT_LATENCY_SPIKE_MS. */
  latencyMs?: number;
};

export const DEFAULT_LATENCY_SPIKE_MS = 1000;

const isFaultKind = (value: string): value is FaultKind => (FAULT_KINDS as readonly string[]).includes(value);

const bad = (message: string) => new ModelServerError('BAD_FAULT_SPEC', message);

/** Parses `kind=rate[,kind=rate...]`, with `latency=rate:ms`. An empty or blank spec means no faults. */
export function parseFaults(spec: string): FaultConfig {
  const config: FaultConfig = {};
  if (spec.trim() === '') return config;
  for (const raw of spec.split(',')) {
    const token = raw.trim();
    const match = /^([^=]*)=([^:]*)(?::(.*))?$/.exec(token);
    if (!match) throw bad(`bad fault token "${token}": expected kind=rate (e.g. 500=0.2, latency=0.1:2000)`);
    const [, kind = '', rateText = '', msText] = match;
    if (!isFaultKind(kind))
      throw bad(`bad fault token "${token}": unknown kind "${kind}" (known: ${FAULT_KINDS.join(', ')})`);
    if (kind in config) throw bad(`bad fault token "${token}": ${kind} given twice`);
    const rate = Number(rateText);
    if (rateText.trim() === '' || !(rate >= 0 && rate <= 1))
      throw bad(`bad fault token "${token}": rate must be a number from 0 to 1, got "${rateText}"`);
    config[kind] = rate;
    if (msText !== undefined) {
      if (kind !== 'latency') throw bad(`bad fault token "${token}": only latency takes :ms`);
      const ms = Number(msText);
      if (!(Number.isInteger(ms) && ms > 0))
        throw bad(`bad fault token "${token}": latency ms must be a positive integer, got "${msText}"`);
      config.latencyMs = ms;
    }
  }
  return validateFaults(config);
}

/** Checks rates and the spike length; returns the config unchanged when usable. */
export function validateFaults(config: FaultConfig): FaultConfig {
  let total = 0;
  for (const [key, value] of Object.entries(config)) {
    if (key === 'latencyMs') {
      if (!(Number.isInteger(value) && value > 0)) throw bad(`latencyMs must be a positive integer, got ${value}`);
      continue;
    }
    if (!isFaultKind(key)) throw bad(`unknown fault kind "${key}" (known: ${FAULT_KINDS.join(', ')})`);
    if (!(typeof value === 'number' && value >= 0 && value <= 1))
      throw bad(`rate of ${key} must be a number from 0 to 1, got ${value}`);
    total += value;
  }
  // A little slack for sums such as 0.1 + 0.2 + 0.7 that overshoot 1 in floating point.
  if (total > 1 + 1e-9) throw bad(`fault rates add up to ${total}, more than 1`);
  return config;
}

/** Draws the fault of each invocation, in arrival order, from a (seeded) uniform source. */
export class FaultPlan {
  #config: FaultConfig;
  readonly #random: () => number;

  constructor(config: FaultConfig, random: () => number) {
    this.#config = { ...validateFaults(config) };
    this.#random = random;
  }

  get config(): FaultConfig {
    return { ...this.#config };
  }

  set config(config: FaultConfig) {
    this.#config = { ...validateFaults(config) };
  }

  get latencyMs(): number {
    return this.#config.latencyMs ?? DEFAULT_LATENCY_SPIKE_MS;
  }

  /** One draw per call even without faults configured, so adding a fault does not shift later draws' meaning. */
  next(): FaultKind | null {
    const draw = this.#random();
    let edge = 0;
    for (const kind of FAULT_KINDS) {
      edge += this.#config[kind] ?? 0;
      if (draw < edge) return kind;
    }
    return null;
  }
}
