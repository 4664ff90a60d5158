#!/usr/bin/env node
// The `kvs-infer` command: dispatches to its subcommands, each loaded only when it runs (the
// local stack's model libraries take a while to load), and answers `--help` for each from its usage
// here. Exit 1 for a usage error (with the usage) or a failure at run time (without), 2 for bad input (a file that
// cannot be read or written, a bad config).

import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BENCH_USAGE, bench } from './bench.js';
import { reportFailure } from './failure.js';

const COMMANDS: Record<string, { usage: string; run: (argv: string[]) => Promise<number> }> = {
  demo: {
    usage:
      'kvs-infer demo [--stream NAME=FILE ...] [--every N] [--rate 1|N|max] [--model detector|fixed|URL] [--threads ' +
      'N] [--timeout SECONDS] [--debug-port P]',
    run: async (argv) => (await import('./demo.js')).demo(argv),
  },
  probe: { usage: 'kvs-infer probe <file|->', run: async (argv) => (await import('./probe.js')).probe(argv) },
  frames: {
    usage:
      'kvs-infer frames <file|-> --out DIR [--every N | --sampling-interval MS] [--type CONTENT_TYPE] [--width W] ' +
      '[--height H] [--quality Q] [--threads N]',
    run: async (argv) => (await import('./frames.js')).frames(argv),
  },
  local: {
    usage:
      'kvs-infer local [--stream NAME=FILE ...] [--tag NAME:KEY=VALUE ...] [--loop] [--rate 1|N|max] ' +
      '[--kvs-port P --model-port P --dynamodb-port P --kinesis-port P] [--model detector|fixed|URL] ' +
      '[--fixed-latency MS] ' +
      '[--faults 500=0.2,429=0.1,hang=0.05] [--kinesis-faults RATE] [--data-stream NAME ...] [--data-dir DIR]',
    run: async (argv) => (await import('./local.js')).local(argv),
  },
  machines: {
    usage: 'kvs-infer machines [--format mermaid|dot|svg] [--out FILE]',
    run: async (argv) => (await import('./machines.js')).machines(argv),
  },
  bench: { usage: BENCH_USAGE, run: bench },
  run: {
    usage:
      'kvs-infer run [--config FILE | --ssm-parameter NAME] [--app-name NAME] [--worker-id ID] [--debug-port P ' +
      '[--debug-host H]] [--lease-only]',
    run: async (argv) => (await import('./run.js')).run(argv),
  },
  replay: {
    usage:
      'kvs-infer replay [--config FILE | --ssm-parameter NAME] --stream NAME --start TIME --end TIME ' +
      '[--endpoint NAME] [--data-stream NAME] [--progress FILE] [--batch-fragments N]  ' +
      '(TIME: ISO 8601 with a time zone, or epoch ms)',
    run: async (argv) => (await import('./replay.js')).replay(argv),
  },
};

function usage(): string {
  return [
    'usage:',
    ...Object.values(COMMANDS).map((c) => `  ${c.usage}`),
    '  kvs-infer <command> --help',
    '  kvs-infer --version',
  ].join('\n');
}

/**
 * The package's version: from the nearest kvs-infer package.json above this module (src/cli/ in a checkout,
 * dist/src/cli/ once built).
 */
function version(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); dirname(dir) !== dir; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    const pkg = existsSync(manifest)
      ? (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string; version?: string })
      : undefined;
    if (pkg?.name === 'kvs-infer' && pkg.version !== undefined) return pkg.version;
  }
  throw new Error(`no kvs-infer package.json above ${fileURLToPath(import.meta.url)}`);
}

/** `--help` or `-h` among the options, not after a `--` (past which they would be file names). */
function asksForHelp(argv: string[]): boolean {
  const end = argv.indexOf('--');
  return (end === -1 ? argv : argv.slice(0, end)).some((arg) => arg === '--help' || arg === '-h');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h') {
    process.stdout.write(`${usage()}\n`);
    return name === undefined ? 1 : 0;
  }
  if (name === '--version' || name === '-v') {
    process.stdout.write(`${version()}\n`);
    return 0;
  }
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (command === undefined) {
    process.stderr.write(`unknown command "${name}"\n${usage()}\n`);
    return 1;
  }
  if (asksForHelp(rest)) {
    process.stdout.write(`usage: ${command.usage}\n`);
    return 0;
  }
  try {
    return await command.run(rest);
  } catch (error) {
    return reportFailure(error, command.usage);
  }
}

process.exitCode = await main(process.argv.slice(2));
