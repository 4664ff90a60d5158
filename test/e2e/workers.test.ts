// Real worker processes (`kvs-infer run`) against an in-process local stack: 6 streams settle 2/2/2
// over 3 workers; kill -9 moves a worker's streams within failoverTimeMillis + 2 s, resuming after
// their checkpoints; SIGTERM moves them at once (released, then taken) with no fragment read twice;
// a fourth worker takes its share.

import t from 'tap';
import { until, WorkerCluster } from '../../src/local/worker-cluster.js';

const FAILOVER = 1500;

t.test('workers share streams, fail over, hand over and rebalance', async (t) => {
  // Prepare
  const cluster = await WorkerCluster.start({ streams: 6, failoverTimeMillis: FAILOVER });
  t.teardown(() => cluster.close());
  for (const id of ['w1', 'w2', 'w3']) cluster.spawn(id);

  // Act, Assess: three workers settle at 2/2/2
  await until('2/2/2', () => cluster.counts(['w1', 'w2', 'w3']).join() === '2,2,2', 40_000);
  t.pass('six streams settle at 2/2/2');
  const readers = () => cluster.holdings();
  await until(
    'every stream read',
    () => cluster.streams.every((s) => cluster.lines.some((l) => l.event === 'fragment' && l.stream === s)),
    10_000,
  );

  // Act: kill -9 w1
  const killed = [...readers().get('w1')!];
  await until(
    'w1 checkpointed its streams',
    () => killed.every((s) => cluster.find('checkpoint', 'w1', s).length > 0),
    5000,
  );
  const killedAt = Date.now();
  cluster.workers.get('w1')!.process.kill('SIGKILL');
  await cluster.workers.get('w1')!.exited;
  const firstReadAfter = (stream: string, since: number, not: string) =>
    cluster.lines.find((l) => l.event === 'fragment' && l.stream === stream && l.worker !== not && l.at >= since);
  await until(
    "w1's streams read by others",
    () => killed.every((s) => firstReadAfter(s, killedAt, 'w1')),
    FAILOVER + 5000,
  );

  // Assess
  for (const stream of killed) {
    const first = firstReadAfter(stream, killedAt, 'w1')!;
    const lastCheckpoint = cluster.find('checkpoint', 'w1', stream).at(-1)!;
    t.ok(
      first.at - killedAt <= FAILOVER + 2000,
      `${stream} read by ${first.worker} ${first.at - killedAt} ms after kill -9`,
    );
    t.ok(
      BigInt(first.fragmentNumber!) > BigInt(lastCheckpoint.fragmentNumber!),
      `${stream} resumes after w1's last checkpoint`,
    );
  }
  await until('3/3 over w2, w3', () => cluster.counts(['w2', 'w3']).join() === '3,3', 10_000);

  // Act: SIGTERM w2
  const handed = [...readers().get('w2')!];
  const w2 = cluster.workers.get('w2')!;
  const termAt = Date.now();
  w2.process.kill('SIGTERM');
  const code = await w2.exited;
  await until("w2's streams read by w3", () => handed.every((s) => firstReadAfter(s, termAt, 'w2')), 5000);

  // Assess
  t.equal(code, 0, 'w2 exits 0 on SIGTERM');
  for (const stream of handed) {
    // Moved by w2's release, not by expiry: taken less than failoverTimeMillis after the release (the two lines come
    // down different pipes, so the take may be seen first). From SIGTERM to the release is w2's drain of its frames in
    // flight, longer on a loaded machine.
    const first = firstReadAfter(stream, termAt, 'w2')!;
    const released = cluster.find('released', 'w2', stream).find((l) => l.at >= termAt);
    const acquired = cluster.find('acquired', first.worker!, stream).find((l) => l.at >= termAt);
    t.ok(
      released && acquired && acquired.at - released.at < FAILOVER,
      `${stream} moved without waiting for failover: released by w2 ${released && released.at - termAt} ms, ` +
        `acquired by ${first.worker} ${acquired && acquired.at - termAt} ms, ` +
        `read ${first.at - termAt} ms after SIGTERM`,
    );
    const since = cluster.find('acquired', 'w2', stream).at(-1)!.at;
    const read = cluster.lines
      .filter(
        (l) => l.event === 'fragment' && l.stream === stream && (l.worker === 'w2' ? l.at >= since : l.at >= termAt),
      )
      .map((l) => l.fragmentNumber);
    t.equal(new Set(read).size, read.length, `${stream}: no fragment read twice across the handover`);
  }

  // Act: a fourth worker joins
  cluster.spawn('w4');
  // A process start on a loaded machine, then three steals, one per take pass, each read once its handover delay is
  // over.
  await until('3/3 over w3, w4', () => cluster.counts(['w3', 'w4']).join() === '3,3', 40_000);

  // Assess
  t.pass('w4 took its share by stealing');
});
