// Workers whose credentials come from a container credentials endpoint (as on Fargate) that accepts and never
// answers, which the SDK's default chain alone would wait for for ever, and every call of the worker with it. Real
// `kvs-infer run` processes on the local stack:
// - one started while the endpoint hangs exits 1 after the credentials' deadline, naming it (ECS starts another);
// - one started once it answers reads and publishes every stream, and goes on publishing when the endpoint hangs
//   again while its credentials are still valid: their refresh is tried, not in a loop, and delays no call.

import t from 'tap';
import { WorkerCluster } from '../../src/local/worker-cluster.js';
import { httpServer, urlOf } from '../helpers/network.js';

const STREAMS = 2;
/** How long the running worker is watched while the endpoint hangs: several of the chain's 5 s deadlines. */
const HANG_MS = 15_000;

t.test('a hung credentials endpoint fails a starting worker at the deadline; a running one goes on', async (t) => {
  // Prepare: credentials within the SDK's refresh window (5 minutes), so that it asks for them before every call.
  let hanging = true;
  let requests = 0;
  const server = await httpServer(t, (_req, res) => {
    requests++;
    if (hanging) return;
    res.writeHead(200, { 'content-type': 'application/json' }).end(
      JSON.stringify({
        AccessKeyId: 'local',
        SecretAccessKey: 'local',
        Token: 'token',
        Expiration: new Date(Date.now() + 240_000).toISOString(),
      }),
    );
  });
  const cluster = await WorkerCluster.start({ streams: STREAMS, failoverTimeMillis: 3000 });
  t.teardown(() => cluster.close());
  // No keys in the workers' environment, nor profiles or instance metadata: the container endpoint only.
  const env = {
    AWS_ACCESS_KEY_ID: '',
    AWS_SECRET_ACCESS_KEY: '',
    AWS_SESSION_TOKEN: '',
    AWS_PROFILE: '',
    AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/credentials',
    AWS_CONFIG_FILE: '/nonexistent/config',
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_CONTAINER_CREDENTIALS_FULL_URI: `${urlOf(server)}/creds`,
  };
  const streamsPublished = async (since: number) => {
    const records = await cluster.records();
    return new Set(records.filter((r) => r.publishedAt >= since).map((r) => r.streamName));
  };

  // Act: a worker started while the endpoint hangs.
  const started = Date.now();
  const w1 = cluster.spawn('w1', [], env);
  let stderr = '';
  w1.process.stderr!.on('data', (chunk: Buffer) => (stderr += chunk));
  const w1Code = await Promise.race([w1.exited, new Promise((resolve) => setTimeout(resolve, 60_000, 'running'))]);
  const w1Ms = Date.now() - started;

  // Act: one started once it answers, then the endpoint hangs again.
  hanging = false;
  const w2Started = Date.now();
  cluster.spawn('w2', [], env);
  let published = new Set<string>();
  while (published.size < STREAMS && Date.now() - w2Started < 60_000) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    published = await streamsPublished(w2Started);
  }
  hanging = true;
  const hungAt = Date.now();
  const requestsBefore = requests;
  await new Promise((resolve) => setTimeout(resolve, HANG_MS));
  const publishedWhileHung = await streamsPublished(hungAt + 1_000);
  const refreshes = requests - requestsBefore;
  let w2Code: number | null | undefined;
  void cluster.workers.get('w2')!.exited.then((code) => (w2Code = code));

  // Assess
  t.equal(w1Code, 1, `a worker started while the endpoint hangs exits 1 (after ${w1Ms} ms)`);
  t.match(stderr, /LEASE_TABLE_FAILED: .*the AWS credential chain did not answer within 5000 ms/, 'naming it');
  t.notMatch(stderr, /usage:/, 'without the usage: nothing was wrong with its command line');
  t.same([...published].sort(), [...cluster.streams].sort(), 'once it answers, a new worker publishes every stream');
  t.same(
    [...publishedWhileHung].sort(),
    [...cluster.streams].sort(),
    'and goes on publishing every stream while a refresh of its credentials hangs',
  );
  t.ok(
    refreshes >= 1 && refreshes <= HANG_MS / 1_000,
    `the refresh was tried, and not in a loop: ${refreshes} requests in ${HANG_MS} ms`,
  );
  t.equal(w2Code, undefined, 'w2 is still running');
});
