// The Kinesis data stream the results go to does not exist when the worker starts: /readyz answers 503
// naming it, an error line names it, and reading pauses with bounded frames in flight; once the stream is
// created the worker turns ready and publishes everything it read, with no error record.

import { setTimeout as sleep } from 'node:timers/promises';
import { CreateStreamCommand, waitUntilStreamExists } from '@aws-sdk/client-kinesis';
import t from 'tap';
import { kinesisClient } from '../../src/aws/clients.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../src/local/index.js';
import { RESULTS_STREAM, until } from '../../src/local/worker-cluster.js';
import { ChaosCluster } from './chaos-cluster.js';
import { assertInvariants, faultPhase } from './invariants.js';

const STREAMS = 4;
/** How long the stream stays missing once the worker has said so. */
const MISSING_MS = 10_000;

t.test('a missing data stream: not ready, named, then created: ready and publishing', async (t) => {
  // Prepare
  const chaos = await ChaosCluster.start(t, { streams: STREAMS, stack: { dataStreams: [] } });

  // Act
  await faultPhase(
    t,
    chaos,
    {
      fault: 'the data stream (kdsStreamName) missing, then created',
      behaviour:
        '/readyz 503 naming the stream and an error line; PutRecords retried with backoff while reading pauses; ' +
        'ready and publishing once it exists',
      // Stated: the publisher's retries back off to 5 s at most; then the backlog of the wait is worked off.
      budget: { flowingMs: 15_000, liveMs: 60_000 },
    },
    async () => {
      const start = Date.now();
      await chaos.spawn('w1');
      // Checked below: a worker that never says so is still given the stream, so that the rest can be checked too.
      const notReadyHolding = () =>
        chaos.monitor.of('w1').some((s) => s.readyz?.status === 503 && s.state !== null && s.state.held.length > 0);
      await until('/readyz failing', notReadyHolding, 30_000).catch(() => undefined);
      await sleep(MISSING_MS);
      await createResultsStream(chaos);
      return { start, end: Date.now() };
    },
  );
  await until('/readyz green', () => chaos.monitor.of('w1').at(-1)?.readyz?.status === 200, 30_000).catch(
    () => undefined,
  );

  // Assess
  const whileMissing = chaos.monitor.of('w1').filter((s) => s.readyz?.status === 503);
  const named = whileMissing.filter((s) => String(s.readyz?.body.reason ?? '').includes(RESULTS_STREAM));
  t.ok(
    named.length > 0,
    `/readyz answered 503 naming ${RESULTS_STREAM} (${String(whileMissing.at(-1)?.readyz?.body.reason)})`,
  );
  const errors = chaos.cluster.lines.filter(
    (l) => l.level === 'error' && Object.values(l).some((v) => typeof v === 'string' && v.includes(RESULTS_STREAM)),
  );
  t.ok(errors.length > 0, `an error line names ${RESULTS_STREAM} (${errors[0]?.event ?? 'none'})`);
  t.equal(chaos.monitor.of('w1').at(-1)?.readyz?.status, 200, '/readyz is green once the stream exists');
  await assertInvariants(t, chaos);
});

async function createResultsStream(chaos: ChaosCluster): Promise<void> {
  const client = kinesisClient({
    endpoint: chaos.cluster.stack.kinesis.url,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
  });
  try {
    await client.send(new CreateStreamCommand({ StreamName: RESULTS_STREAM, ShardCount: 1 }));
    await waitUntilStreamExists({ client, maxWaitTime: 30, minDelay: 1, maxDelay: 1 }, { StreamName: RESULTS_STREAM });
  } finally {
    client.destroy();
  }
}
