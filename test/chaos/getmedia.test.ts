// GetMedia faults between one worker and KVS (its own proxy carries the control plane and, since the local
// KVS server answers GetDataEndpoint with the URL the request came in on, GetMedia too): bodies cut
// mid-fragment, then KVS black-holed for longer than getMediaIdleTimeoutMillis. The reader reconnects from
// its continuation token each time; no sampled frame is lost.

import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { until } from '../../src/local/worker-cluster.js';
import { ChaosCluster } from './chaos-cluster.js';
import { blackhole, cut, pass } from './fault-proxy.js';
import { assertInvariants, faultPhase } from './invariants.js';

const STREAMS = 4;
const CUTS = 5;
const CUT_EVERY_MS = 2000;
const BLACKHOLE_MS = 10_000;
/** Two streams' GetMedia for a few seconds: far more than the control plane's answers. */
const MEDIA_BYTES = 32 * 1024;

t.test('GetMedia cut mid-fragment, then black-holed', async (t) => {
  // Prepare
  const chaos = await ChaosCluster.start(t, { streams: STREAMS });
  await chaos.spawnAll(['w1', 'w2']);
  await chaos.settled(['w1', 'w2'], [STREAMS / 2, STREAMS / 2]);
  const proxy = chaos.proxy('w1', 'kvs');
  t.ok(
    proxy.stats.bytesDown > MEDIA_BYTES,
    `w1's GetMedia goes through its KVS proxy (${proxy.stats.bytesDown} bytes down)`,
  );

  // Act: cuts
  await faultPhase(
    t,
    chaos,
    {
      fault: `GetMedia cut mid-fragment (${CUTS} cuts, ${CUT_EVERY_MS / 1000} s apart)`,
      behaviour:
        'the reader fails, reconnects with backoff from its continuation token; the partial fragment is read again',
      // Stated: a reconnect backoff of at most 1 s per cut; the rest is a loaded machine's slack.
      budget: { flowingMs: 10_000, liveMs: 20_000 },
    },
    async () => {
      const start = Date.now();
      for (let i = 0; i < CUTS; i++) {
        // Cut mode until one connection is cut: the next chunk KVS sends (a fragment of a GetMedia body) arrives half.
        const resets = proxy.stats.resets;
        proxy.set(cut());
        await until(`cut ${i + 1}`, () => proxy.stats.resets > resets, 10_000);
        proxy.set(pass());
        await sleep(CUT_EVERY_MS);
      }
      return { start, end: Date.now() };
    },
  );
  const failed = chaos.cluster.lines.filter((l) => l.event === 'reader-failed' && l.worker === 'w1').length;
  t.ok(failed > 0, `w1's readers saw the cuts (${failed} reader-failed lines)`);

  // Act: black hole
  await faultPhase(
    t,
    chaos,
    {
      fault: `GetMedia black-holed, ${BLACKHOLE_MS / 1000} s`,
      behaviour:
        'no byte for getMediaIdleTimeoutMillis: the reader drops the connection and reconnects ' +
        '(GetDataEndpoint and GetMedia under deadlines) until KVS answers again',
      // Stated: the idle timeout (3 s) fires during the fault; after it, a reconnect backoff of at most 1 s, then
      // catching up.
      budget: { flowingMs: 10_000, liveMs: 20_000 },
    },
    () => proxy.window(blackhole(), BLACKHOLE_MS),
  );

  // Assess
  await assertInvariants(t, chaos);
});
