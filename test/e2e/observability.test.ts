// A real `kvs-infer run` worker's observability: its debug server (probes, Prometheus metrics, state)
// and the CloudWatch Embedded Metric Format lines it writes to stdout among its logs, the cost meter in each.

import t from 'tap';
import type { WorkerView } from '../../src/debug/types.js';
import { until, WorkerCluster } from '../../src/local/worker-cluster.js';
import { emfErrors } from '../metrics/emf-validator.js';

const PRICE = 0.0119;

/** Whether `dollars` is `bytes` priced at PRICE per GB, to within float rounding. */
const pricedRight = (bytes: number, dollars: number) =>
  Math.abs(dollars - (bytes * PRICE) / 1e9) <= (bytes * PRICE * 1e-12) / 1e9;

t.test('a worker serves its probes, metrics and state, and writes valid EMF lines', async (t) => {
  // Prepare
  const cluster = await WorkerCluster.start({
    streams: 2,
    failoverTimeMillis: 3000,
    config: {
      inferenceInterval: 1,
      metricsIntervalMillis: 1000,
      metricsNamespace: 'KvsInferTest',
      statsIntervalMillis: 1000,
      // Not the default, so that the price is seen to come from the configuration.
      getMediaPricePerGB: PRICE,
    },
  });
  t.teardown(() => cluster.close());

  // Act
  cluster.spawn('w1', ['--debug-port', '0']);
  // A worker run from source starts in 20 s or more on a loaded 2-core machine.
  await until('the debug server', () => cluster.lines.some((l) => l.event === 'debug-server'), 60_000);
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
  for (const kind of ['read', 'write']) {
    const units = new RegExp(`^kvs_infer_lease_table_${kind}_units_total\\{[^}]*worker="w1"[^}]*\\} (\\S+)$`, 'm');
    const value = Number(units.exec(text)?.[1]);
    t.ok(value > 0, `lease-table ${kind} capacity metered: ${value} units`);
  }

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

  // Assess: the cost meter, in the state and in /metrics
  for (const { stream, cost, counters } of view.leases) {
    t.ok(cost.bytesRead > 0 && cost.bytesRead === counters.bytesRead, `${stream}: ${cost.bytesRead} bytes read`);
    t.ok(pricedRight(cost.bytesRead, cost.dollars), `${stream}: $${cost.dollars} at $${PRICE} per GB`);
    t.ok(cost.framesInferred > 0, `${stream}: ${cost.framesInferred} frames inferred`);
    t.ok(
      Math.abs(cost.dollarsPer1000Inferences! - (cost.dollars * 1000) / cost.framesInferred) < 1e-15,
      `${stream}: $${cost.dollarsPer1000Inferences} per 1,000 inferences`,
    );
    const series = (name: string) =>
      Number(new RegExp(`^${name}\\{[^}]*stream="${stream}"[^}]*\\} (\\S+)$`, 'm').exec(text)?.[1]);
    t.ok(
      pricedRight(series('kvs_infer_bytes_read_total'), series('kvs_infer_get_media_cost_dollars_total')),
      `${stream}: /metrics prices its bytes at $${PRICE} per GB too`,
    );
  }
  t.equal(
    view.cost.bytesRead,
    view.leases.reduce((n, l) => n + l.cost.bytesRead, 0),
    "the worker's total is its leases' (none ended)",
  );
  t.ok(pricedRight(view.cost.bytesRead, view.cost.dollars), `the worker's $${view.cost.dollars}`);
  let later = view;
  for (const deadline = Date.now() + 20_000; later.cost.bytesRead <= view.cost.bytesRead && Date.now() < deadline; ) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    later = (await (await fetch(`${base}/debug/state`)).json()) as WorkerView;
  }
  t.ok(
    later.cost.bytesRead > view.cost.bytesRead && later.cost.dollars > view.cost.dollars,
    `the meter runs while the streams play: $${view.cost.dollars} then $${later.cost.dollars}`,
  );
  const stats = cluster.lines.filter((l) => l.event === 'stats').at(-1) as { cost?: WorkerView['cost'] } | undefined;
  t.ok(
    stats?.cost !== undefined && stats.cost.bytesRead > 0 && pricedRight(stats.cost.bytesRead, stats.cost.dollars),
    `the stats line carries the meter: ${JSON.stringify(stats?.cost)}`,
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
  t.ok(
    emf.some(
      (l) =>
        typeof l.StreamName === 'string' &&
        (l.BytesRead as number) > 0 &&
        pricedRight(l.BytesRead as number, l.GetMediaCost as number),
    ),
    "per-stream documents carry the interval's GetMediaCost",
  );
});
