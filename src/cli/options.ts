// Checks of command-line option values, each failing with a message that names the option.

import { KvsInferError } from '../errors.js';
import { checkReadable } from './files.js';

export function positiveInteger(name: string, value: string | undefined, fallback?: number): number | undefined {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1)
    throw new KvsInferError('USAGE', `--${name} must be a positive integer, got "${value}"`);
  return parsed;
}

/**
 * `NAME=FILE`, as --stream takes it; a FILE that cannot be read throws INPUT_UNREADABLE before the local stack starts.
 */
export function streamSpec(spec: string): { name: string; file: string; tags: Record<string, string> } {
  const at = spec.indexOf('=');
  if (at <= 0 || at === spec.length - 1) throw new KvsInferError('USAGE', `--stream must be NAME=FILE, got "${spec}"`);
  const file = spec.slice(at + 1);
  checkReadable(file, `--stream ${spec}`);
  return { name: spec.slice(0, at), file, tags: {} };
}

/** A replay rate: media seconds per second, or `max`. */
export function replayRate(value: string): number | 'max' {
  if (value === 'max') return 'max';
  const rate = Number(value);
  if (!(rate > 0 && Number.isFinite(rate)))
    throw new KvsInferError('USAGE', `--rate must be a positive number or max, got "${value}"`);
  return rate;
}

/** `--model`: a built-in model by name, or the http:// URL of your own model container. */
export function modelSpec(value: string): 'detector' | 'fixed' | URL {
  if (value === 'detector' || value === 'fixed') return value;
  const url = URL.canParse(value) ? new URL(value) : null;
  if (url?.protocol !== 'http:') {
    throw new KvsInferError(
      'USAGE',
      `--model must be detector, fixed, or the http:// URL of a model container (e.g. http://127.0.0.1:8080), got ` +
        `"${value}"`,
    );
  }
  return url;
}

/** How the status lines name the model. */
export const modelLabel = (model: 'detector' | 'fixed' | URL): string =>
  model instanceof URL ? `your container at ${model.origin}` : model;
