#!/usr/bin/env node
// The `kvs-infer` command: dispatches to its subcommands, each loaded only when it runs (the
// local stack's model libraries take a while to load). Exit 1 for a usage error, 2 for bad input.

const COMMANDS: Record<string, { usage: string; run: (argv: string[]) => Promise<number> }> = {
  demo: {
    usage: 'kvs-infer demo [--stream NAME=FILE ...] [--every N] [--rate 1|N|max] [--model detector|fixed] [--threads N] [--timeout SECONDS] [--debug-port P]',
    run: async (argv) => (await import('./demo.js')).demo(argv),
  },
  probe: { usage: 'kvs-infer probe <file|->', run: async (argv) => (await import('./probe.js')).probe(argv) },
  frames: {
    usage: 'kvs-infer frames <file|-> --out DIR [--every N] [--type CONTENT_TYPE] [--width W] [--height H] [--quality Q] [--threads N]',
    run: async (argv) => (await import('./frames.js')).frames(argv),
  },
  local: {
    usage: 'kvs-infer local [--stream NAME=FILE ...] [--tag NAME:KEY=VALUE ...] [--loop] [--rate 1|N|max] [--kvs-port P --model-port P --dynamodb-port P --kinesis-port P] [--model detector|fixed] [--fixed-latency MS] [--faults 500=0.2,429=0.1,hang=0.05] [--kinesis-faults RATE] [--data-stream NAME ...] [--data-dir DIR]',
    run: async (argv) => (await import('./local.js')).local(argv),
  },
  machines: {
    usage: 'kvs-infer machines [--format mermaid|dot|svg] [--out FILE]',
    run: async (argv) => (await import('./machines.js')).machines(argv),
  },
  bench: {
    usage: 'kvs-infer bench --scenario media|live|capacity|sweep [options]',
    run: async (argv) => {
      // bench/ sits beside src/ in a checkout: dist/bench/cli.js once built, bench/cli.ts under a TypeScript
      // loader (this module's own extension tells which). The published package holds dist/src only.
      const [{ existsSync }, { extname }, { fileURLToPath }] = await Promise.all([import('node:fs'), import('node:path'), import('node:url')]);
      const cli = new URL(`../../bench/cli${extname(fileURLToPath(import.meta.url))}`, import.meta.url);
      if (!existsSync(fileURLToPath(cli))) {
        const { KvsInferError } = await import('../errors.js');
        throw new KvsInferError('BENCH_UNAVAILABLE', 'kvs-infer bench runs from a checkout of the repository: the installed package does not include the benchmarks');
      }
      return ((await import(cli.href)) as typeof import('../../bench/cli.js')).bench(argv);
    },
  },
  run: {
    usage: 'kvs-infer run [--config FILE | --ssm-parameter NAME] [--app-name NAME] [--worker-id ID] [--debug-port P [--debug-host H]]',
    run: async (argv) => (await import('./run.js')).run(argv),
  },
};

function usage(): string {
  return ['usage:', ...Object.values(COMMANDS).map((c) => `  ${c.usage}`)].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h') {
    process.stdout.write(`${usage()}\n`);
    return name === undefined ? 1 : 0;
  }
  const command = COMMANDS[name];
  if (command === undefined) {
    process.stderr.write(`unknown command "${name}"\n${usage()}\n`);
    return 1;
  }
  try {
    return await command.run(rest);
  } catch (error) {
    const { code = 'ERROR', message } = error as { code?: string; message: string };
    process.stderr.write(`${message.startsWith(code) ? message : `${code}: ${message}`}\nusage: ${command.usage}\n`);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
