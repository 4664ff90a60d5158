// Checks of command-line option values, each failing with a message that names the option.

import { KvsInferError } from '../errors.js';

export function positiveInteger(name: string, value: string | undefined, fallback?: number): number | undefined {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1) throw new KvsInferError('USAGE', `--${name} must be a positive integer, got "${value}"`);
  return parsed;
}

/** `NAME=FILE`, as --stream takes it. */
export function streamSpec(spec: string): { name: string; file: string; tags: Record<string, string> } {
  const at = spec.indexOf('=');
  if (at <= 0 || at === spec.length - 1) throw new KvsInferError('USAGE', `--stream must be NAME=FILE, got "${spec}"`);
  return { name: spec.slice(0, at), file: spec.slice(at + 1), tags: {} };
}

/** A replay rate: media seconds per second, or `max`. */
export function replayRate(value: string): number | 'max' {
  if (value === 'max') return 'max';
  const rate = Number(value);
  if (!(rate > 0 && Number.isFinite(rate))) throw new KvsInferError('USAGE', `--rate must be a positive number or max, got "${value}"`);
  return rate;
}
