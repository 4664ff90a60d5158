// `npm run bench:failover`: failover time of real worker processes, kill -9 of a worker to the first
// fragment of its stream read by the new owner, over several trials; prints median and worst.

import { parseArgs } from 'node:util';
import { progress } from '../src/cli/progress.js';
import { until, WorkerCluster } from '../src/local/worker-cluster.js';

const { values } = parseArgs({
  options: { trials: { type: 'string', default: '5' }, failover: { type: 'string', default: '1500' } },
});
const trials = Number(values.trials);
const failoverTimeMillis = Number(values.failover);

async function trial(): Promise<number> {
  // Compiled: the children run the built CLI without a TypeScript loader.
  const cluster = await WorkerCluster.start({
    streams: 2,
    failoverTimeMillis,
    execArgv: [],
    main: 'dist/src/cli/main.js',
  });
  try {
    cluster.spawn('a');
    cluster.spawn('b');
    await until('1/1', () => cluster.counts(['a', 'b']).join() === '1,1', 30_000);
    const [stream] = [...cluster.holdings().get('a')!];
    await until('a reads', () => cluster.find('checkpoint', 'a', stream).length > 0, 10_000);
    const killedAt = Date.now();
    cluster.workers.get('a')!.process.kill('SIGKILL');
    await until(
      'b reads the stream',
      () => cluster.find('fragment', 'b', stream).some((l) => l.at >= killedAt),
      failoverTimeMillis + 10_000,
    );
    return cluster.find('fragment', 'b', stream).find((l) => l.at >= killedAt)!.at - killedAt;
  } finally {
    await cluster.close();
  }
}

const times: number[] = [];
const bar = progress('trials');
for (let i = 0; i < trials; i++) {
  bar.update(i, trials, i === 0 ? '' : `last ${times.at(-1)} ms`);
  times.push(await trial());
  process.stdout.write(`trial ${i + 1}: ${times.at(-1)} ms\n`);
}
bar.stop();
const sorted = [...times].sort((a, b) => a - b);
const median =
  sorted.length % 2
    ? sorted[(sorted.length - 1) / 2]!
    : (sorted[sorted.length / 2 - 1]! + sorted[sorted.length / 2]!) / 2;
process.stdout.write(
  `failoverTimeMillis ${failoverTimeMillis}: median ${median} ms, worst ${sorted.at(-1)} ms over ${trials} trials\n`,
);
