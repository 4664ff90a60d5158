// `kvs-infer bench`: the benchmarks live in bench/, beside src/ in a checkout, and run as a program of their
// own (bench/main.ts), so that nothing in src/ imports them. The published package holds dist/src only.

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KvsInferError } from '../errors.js';

export const BENCH_USAGE =
  'kvs-infer bench --scenario media|live|capacity|sweep|fleet [--streams N] [--duration SECONDS] ' +
  '[--warmup SECONDS] [--workers W] [--lease-assignment leader|every-worker] [--failover MS] ' +
  '[--checkpoint-interval MS] ' +
  '[--inference-interval N | --sampling-interval MS] [--width PX] [--height PX] [--price-per-gb USD] ' +
  '[--resolution 1080p|720p] [--bitrate 4M] [--gop SECONDS] [--runs N] [--bound MS] [--file F ...] [--json FILE] ' +
  '[--out DIR] [--cpu-prof DIR] [--no-stagger] [--smoke]';

/**
 * Runs the bench program with `argv`, its output on this process's stdout and stderr, and returns its exit code.
 * dist/bench/main.js once built, bench/main.ts under a TypeScript loader (this module's own extension tells which,
 * and the loader comes along in execArgv).
 */
export async function bench(argv: string[]): Promise<number> {
  const main = fileURLToPath(new URL(`../../bench/main${extname(fileURLToPath(import.meta.url))}`, import.meta.url));
  if (!existsSync(main)) {
    throw new KvsInferError(
      'BENCH_UNAVAILABLE',
      'kvs-infer bench runs from a checkout of the repository: the installed package does not include the benchmarks',
    );
  }
  const child = spawn(process.execPath, [...process.execArgv, main, ...argv], { stdio: 'inherit' });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    // A bench killed by a signal failed: 1, as for any other error.
    child.once('exit', (code) => resolve(code ?? 1));
  });
}
