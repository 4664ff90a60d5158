// A real `kvs-infer run` worker's observability: its debug server (probes, Prometheus metrics, state)
// and the CloudWatch Embedded Metric Format lines it writes to stdout among its logs.

import t from 'tap';
import type { WorkerView } from '../../src/debug/types.js';
import { until, WorkerCluster } from '../../src/local/worker-cluster.js';
import { emfErrors } from '../metrics/emf-validator.js';

t.test('a worker serves its probes, metrics and state, and writes valid EMF lines', async (t) => {
  // Prepare
  const cluster = await WorkerCluster.start({
    streams: 2,
    failoverTimeMillis: 3000,
    config: { inferenceInterval: 1, metricsIntervalMillis: 1000, metricsNamespace: 'KvsInferTest' },
  });
  t.teardown(() => cluster.close());

  // Act
  cluster.spawn('w1', ['--debug-port', '0']);
  await until('the debug server', () => cluster.lines.some((l) => l.event === 'debug-server'), 20_000);
  const base = String(cluster.lines.find((l) => l.event === 'debug-server')!.url).replace(/\/debug$/, '');
  await until('both streams held', () => cluster.counts(['w1'])[0] === 2, 20_000);
  await until(
    'frames published on both streams',
    () => cluster.lines.filter((l) => l.event === 'checkpoint').length >= 4,
    20_000,
  );
  await new Promise((resolve) => setTimeout(resolve, 2500));

  // Assess: probes
  t.equal((await fetch(`${base}/healthz`)).status, 200, '/healthz');
  t.equal((await fetch(`${base}/readyz`)).status, 200, '/readyz once the lease table was scanned');

  // Assess: Prometheus
  const text = await (await fetch(`${base}/metrics`)).text();
  for (const stream of cluster.streams) {
    const published = new RegExp(
      `^kvs_infer_frames_published_total\\{[^}]*stream="${stream}"[^}]*\\} (\\d+)$`,
      'm',
    ).exec(text);
    t.ok(published && Number(published[1]) > 0, `${stream}: ${published?.[1]} frames published, by /metrics`);
  }
  t.match(text, /^kvs_infer_current_leases\{[^}]*worker="w1"[^}]*\} 2$/m, 'two leases held');

  // Assess: state
  const view = (await (await fetch(`${base}/debug/state`)).json()) as WorkerView;
  t.same(
    view.leases.map((l) => l.stream),
    cluster.streams,
    'both leases in /debug/state',
  );
  t.ok(
    view.leases.every((l) => l.states.includes('lease.reading.media.streaming') && l.stages.every((s) => s.count > 0)),
    'each reading, with the latency of every stage',
  );

  // Assess: EMF on stdout
  const emf = cluster.lines.filter((l) => '_aws' in l);
  t.ok(emf.length >= 3, `${emf.length} EMF lines among the logs`);
  t.same(
    emf.flatMap((l) => emfErrors(JSON.stringify({ ...l, at: undefined }))),
    [],
    'every one valid by the EMF specification',
  );
  const streamDocs = emf.filter(
    (l) =>
      typeof l.StreamName === 'string' && Array.isArray((l.IngestToProcessLatency as { Values?: unknown })?.Values),
  );
  t.ok(streamDocs.length > 0, 'per-stream documents carry IngestToProcessLatency as a distribution');
  t.ok(
    emf.some((l) => l.WorkerId === 'w1' && l.CurrentLeases === 2),
    'a worker document says CurrentLeases 2',
  );
});
