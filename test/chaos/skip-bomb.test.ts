// A parser skip bomb: on its way from KVS to the worker, one fragment's Cluster header is turned into 9 bytes
// declaring a 1 TiB Void at Segment level (unknown size, so nothing bounds it). Skipped without a limit it would
// swallow the rest of the GetMedia connection; instead the fragment is reported corrupt (stream, fragment, code)
// and the stream goes on with the next fragment, as do the others.

import t from 'tap';
import { until } from '../../src/local/worker-cluster.js';
import { served } from '../e2e/pipeline-oracle.js';
import { ChaosCluster } from './chaos-cluster.js';
import { ClusterBomb } from './cluster-bomb.js';
import { assertInvariants, assertRecovered, printFailureMode } from './invariants.js';

t.test('a parser skip bomb in one fragment: reported and skipped, the stream goes on', async (t) => {
  // Prepare
  const chaos = await ChaosCluster.start(t, { streams: 2 });
  await chaos.spawn('w1');
  await chaos.settled(['w1'], [2]);
  const bomb = new ClusterBomb();

  // Act
  const proxy = chaos.proxy('w1', 'kvs');
  proxy.rewriteDown(bomb.rewriter);
  await until('the bomb planted', () => bomb.fragmentNumber !== null, 30_000);
  proxy.rewriteDown(null);
  const bombedAt = Date.now();
  const bombed = chaos.streams.find((s) =>
    served(chaos.cluster, s).some((f) => f.fragmentNumber === bomb.fragmentNumber),
  );
  t.ok(bombed, `the bomb replaced the Cluster of fragment ${bomb.fragmentNumber} of ${bombed}`);
  const recovery = await assertRecovered(
    t,
    chaos,
    bombedAt,
    { flowingMs: 10_000, liveMs: 20_000 },
    { streams: [bombed!] },
  );

  // Assess
  const reported = chaos.cluster.lines.filter((l) => l.event === 'corrupt-fragment');
  t.same(
    reported.map((l) => [l.stream, l.fragmentNumber, l.code]),
    [[bombed, bomb.fragmentNumber, 'MKV_INVALID']],
    `the bombed fragment is reported once, with its stream, fragment number and code (${String(reported[0]?.message)})`,
  );
  const duplicates = await assertInvariants(t, chaos, new Set([bomb.fragmentNumber!]));
  printFailureMode({
    fault: "parser skip bomb (a fragment's Cluster header turned into a 1 TiB Void at Segment level)",
    behaviour:
      'the skip is checked against the element limit: corrupt-fragment logged (MKV_INVALID, stream, fragment), ' +
      'parsing resumes at the next fragment',
    recovery,
    duplicates,
  });
});
