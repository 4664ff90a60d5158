// `kvs-infer run --lease-only`, the fleet simulation's worker: it takes, renews, hands over and releases leases as
// usual, but reads nothing (no GetDataEndpoint, no GetMedia, no checkpoint), while a worker without the flag reads
// the same live streams. Real worker processes on the local stack, whose streams get a fragment five times a second.

import t from 'tap';
import { until, WorkerCluster } from '../../src/local/worker-cluster.js';

t.test('a --lease-only worker holds, hands over and releases leases without reading', async (t) => {
  // Prepare
  const cluster = await WorkerCluster.start({ streams: 2, failoverTimeMillis: 3000 });
  t.teardown(() => cluster.close());
  const fragments = (stream: string) =>
    cluster.stack.kvs.streamLog(stream).list({ type: 'SERVER_TIMESTAMP', start: 0, end: Number.MAX_SAFE_INTEGER });
  const calls = (operation: string) => cluster.stack.kvs.apiCalls()[operation]?.admitted ?? 0;

  // Act: the lease-only worker alone while the streams go on for two seconds (ten fragments each) ...
  const a = cluster.spawn('a', ['--lease-only']);
  await until('a holds both streams', () => cluster.counts(['a']).join() === '2', 30_000);
  const served = cluster.streams.map((s) => fragments(s).length);
  await until(
    'ten more fragments on each stream',
    () => cluster.streams.every((s, i) => fragments(s).length >= served[i]! + 10),
    30_000,
  );
  const mediaCallsWhileAlone = [calls('GetDataEndpoint'), calls('GetMedia')];
  // ... then a reading worker, which takes one stream from it, and a SIGTERM.
  cluster.spawn('b');
  await until('b reads a stream', () => cluster.find('fragment', 'b').length > 0, 30_000);
  a.process.kill('SIGTERM');
  const code = await a.exited;

  // Assess
  t.same(mediaCallsWhileAlone, [0, 0], 'no GetDataEndpoint nor GetMedia while only the lease-only worker ran');
  t.same(cluster.find('fragment', 'a'), [], 'a read no fragment');
  t.same(
    cluster.lines.filter((l) => l.worker === 'a' && l.event.startsWith('checkpoint')),
    [],
    'a wrote no checkpoint',
  );
  t.equal(cluster.find('lost', 'a').length, 1, 'a handed one stream over to b');
  t.match(cluster.find('released', 'a'), [{ checkpoint: null }], 'and released the other on SIGTERM');
  t.equal(code, 0, 'a exited 0');
});
