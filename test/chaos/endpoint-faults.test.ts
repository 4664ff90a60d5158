// Bursts of endpoint faults, one after the other, each followed by recovery: a mix of 500s, 429s and hangs
// from the model server, then every call answered 503, then 429 (throttling), then every call hanging
// (the endpoint black-holed). Transient faults all: they are retried within the retry budget while
// reading pauses, and not one frame becomes an error record.

import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { ChaosCluster } from './chaos-cluster.js';
import { blackhole, httpError } from './fault-proxy.js';
import { assertInvariants, faultPhase } from './invariants.js';

const STREAMS = 4;
const BURST_MS = 10_000;
/** Stated for each burst: a retry backoff of at most 10 s after it, then the burst's backlog is worked off. */
const BUDGET = { flowingMs: 20_000, liveMs: 60_000 };
// Hangs at 10%: at 5%, about 1 run in 200 drew none among some 35 faults, and so did not exercise them.
const MIXED = '500=0.2,429=0.1,hang=0.1';

/** A SageMaker runtime error answer, as the service shapes it (type in x-amzn-ErrorType, message in the body). */
const sageMakerError = (status: number, type: string, message: string) =>
  httpError(status, JSON.stringify({ message }), { 'x-amzn-ErrorType': type, 'content-type': 'application/json' });

interface Burst {
  fault: string;
  behaviour: string;
  inject: (chaos: ChaosCluster) => Promise<{ start: number; end: number }>;
}

const BURSTS: Burst[] = [
  {
    fault: `endpoint faults ${MIXED.replaceAll(',', ', ')}, ${BURST_MS / 1000} s`,
    behaviour:
      'each failed call retried with capped exponential backoff and full jitter; a hang is cut at ' +
      'sageMakerTaskTimeoutInMilli and retried',
    inject: async (chaos) => {
      const start = Date.now();
      chaos.cluster.stack.model.setFaults(MIXED);
      await sleep(BURST_MS);
      chaos.cluster.stack.model.setFaults({});
      return { start, end: Date.now() };
    },
  },
  {
    fault: `endpoint answers 503 to every call, ${BURST_MS / 1000} s`,
    behaviour:
      'retried with backoff within sageMakerTaskRetryBudgetMillis; reading pauses while the endpoint queue is full',
    inject: (chaos) =>
      chaos.window('sagemaker', sageMakerError(503, 'ServiceUnavailable', 'Service unavailable (chaos)'), BURST_MS),
  },
  {
    fault: `endpoint throttles every call (429), ${BURST_MS / 1000} s`,
    behaviour: 'throttling is retried like a 5xx, with backoff; reading pauses',
    inject: (chaos) =>
      chaos.window('sagemaker', sageMakerError(429, 'ThrottlingException', 'Rate exceeded (chaos)'), BURST_MS),
  },
  {
    fault: `endpoint hangs on every call (black hole), ${BURST_MS / 1000} s`,
    behaviour: 'each call cut at sageMakerTaskTimeoutInMilli and retried on a new connection; reading pauses',
    inject: (chaos) => chaos.window('sagemaker', blackhole(), BURST_MS),
  },
];

t.test('endpoint 5xx / 429 / hang bursts', async (t) => {
  // Prepare
  const chaos = await ChaosCluster.start(t, { streams: STREAMS });
  await chaos.spawnAll(['w1', 'w2']);
  await chaos.settled(['w1', 'w2'], [STREAMS / 2, STREAMS / 2]);

  // Act
  for (const { fault, behaviour, inject } of BURSTS)
    await faultPhase(t, chaos, { fault, behaviour, budget: BUDGET }, () => inject(chaos));

  // Assess
  const met = chaos.cluster.stack.model.stats.faults;
  t.ok(met['500'] > 0 && met['429'] > 0 && met.hang > 0, `the model server injected ${JSON.stringify(met)}`);
  const answered = chaos.proxies('sagemaker').reduce((n, p) => n + p.stats.answered, 0);
  t.ok(answered > 0, `the proxies answered ${answered} calls with 503 or 429`);
  await assertInvariants(t, chaos);
});
