// The bench program: `kvs-infer bench` starts it in a child process (src/cli/bench.ts). Errors end it as they end
// any kvs-infer command: a line naming the code, the usage line, exit 1.

import { BENCH_USAGE } from '../src/cli/bench.js';
import { reportFailure } from '../src/cli/failure.js';
import { bench } from './cli.js';

try {
  process.exitCode = await bench(process.argv.slice(2));
} catch (error) {
  process.exitCode = reportFailure(error, BENCH_USAGE);
}
