// Checks of command-line option values, each failing with a message that names the option.

import { KvsInferError } from '../errors.js';

export function positiveInteger(name: string, value: string | undefined, fallback?: number): number | undefined {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1) throw new KvsInferError('USAGE', `--${name} must be a positive integer, got "${value}"`);
  return parsed;
}
