#!/usr/bin/env node
// The `kvs-infer` command: dispatches to its subcommands. Exit 1 for a usage error, 2 for bad input.

import { frames, framesUsage } from './frames.js';
import { probe, probeUsage } from './probe.js';

const COMMANDS: Record<string, { run: (argv: string[]) => Promise<number>; usage: string }> = {
  probe: { run: probe, usage: probeUsage },
  frames: { run: frames, usage: framesUsage },
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
