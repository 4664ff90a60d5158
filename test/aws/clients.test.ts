// Every client kvs-infer builds has a deadline: against a black hole (a TCP server that accepts and never
// answers, as a partition looks to a client) each call fails with a TimeoutError within it, and a call hung
// on one socket does not hold up the next one.

import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { ListStreamsCommand as ListDataStreamsCommand } from '@aws-sdk/client-kinesis';
import { ListStreamsCommand } from '@aws-sdk/client-kinesis-video';
import { GetMediaCommand } from '@aws-sdk/client-kinesis-video-media';
import { InvokeEndpointCommand } from '@aws-sdk/client-sagemaker-runtime';
import { DescribeParametersCommand } from '@aws-sdk/client-ssm';
import type { NodeHttpHandler } from '@smithy/node-http-handler';
import t, { type Test } from 'tap';
import {
  type ClientOptions,
  dynamoDbClient,
  dynamoDbRequestTimeoutMs,
  kinesisClient,
  kinesisVideoClient,
  kinesisVideoMediaClient,
  sageMakerRuntimeClient,
  ssmClient,
} from '../../src/aws/clients.js';
import { blackHole, timed } from '../helpers/network.js';

interface AnyClient {
  send(command: unknown): Promise<unknown>;
  destroy(): void;
  config: { requestHandler: unknown };
}

/** One call per factory, with a command that needs nothing but a 200 with `{}` to succeed. */
const FACTORIES: {
  name: string;
  build: (options: ClientOptions) => AnyClient;
  call: () => unknown;
  retries: boolean;
}[] = [
  { name: 'DynamoDB', build: dynamoDbClient, call: () => new ListTablesCommand({}), retries: true },
  { name: 'Kinesis', build: kinesisClient, call: () => new ListDataStreamsCommand({}), retries: true },
  { name: 'KVS control plane', build: kinesisVideoClient, call: () => new ListStreamsCommand({}), retries: true },
  {
    name: 'KVS GetMedia',
    build: kinesisVideoMediaClient,
    call: () => new GetMediaCommand({ StreamName: 'cam', StartSelector: { StartSelectorType: 'NOW' } }),
    retries: true,
  },
  { name: 'SSM', build: ssmClient, call: () => new DescribeParametersCommand({}), retries: true },
  {
    name: 'SageMaker runtime',
    build: sageMakerRuntimeClient,
    call: () => new InvokeEndpointCommand({ EndpointName: 'model', Body: Uint8Array.of(1) }),
    retries: false,
  },
];

const base = { region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } };

/** Answers every request `{}` at once; with `holdFirst`, except the first, which it holds and never answers. */
async function fakeAws(t: Test, holdFirst: boolean): Promise<{ url: string; answered: () => number }> {
  let requests = 0;
  let answered = 0;
  const server = createHttpServer((req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    if (holdFirst && requests++ === 0) return;
    req.on('end', () => {
      answered++;
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, answered: () => answered };
}

const REQUEST_TIMEOUT_MS = 400;

for (const factory of FACTORIES) {
  t.test(`${factory.name}: a black-holed call fails with a TimeoutError at its deadline`, async (t) => {
    // Prepare
    const endpoint = await blackHole(t);
    const client = factory.build({ ...base, endpoint, connectTimeoutMs: 1_500, requestTimeoutMs: REQUEST_TIMEOUT_MS });
    t.teardown(() => client.destroy());

    // Act
    const { error, ms } = await timed(client.send(factory.call()));

    // Assess
    t.match(error, { name: 'TimeoutError' });
    // SageMaker's handler waits 1 s past the dispatcher's per-attempt timeout (the value given); the others retry up to
    // 3 times.
    const least = factory.retries ? REQUEST_TIMEOUT_MS : REQUEST_TIMEOUT_MS + 1_000;
    t.ok(ms >= least - 50, `failed after ${ms.toFixed(0)} ms, not before the deadline of ${least} ms`);
    t.ok(ms < 10_000, `failed after ${ms.toFixed(0)} ms`);
    const config = (client.config.requestHandler as NodeHttpHandler).httpHandlerConfigs();
    t.match(config, { connectionTimeout: 1_500, throwOnRequestTimeout: true }, 'connecting has its deadline too');
  });

  t.test(`${factory.name}: a call hung on one socket does not hold up the next`, async (t) => {
    // Prepare
    const server = await fakeAws(t, true);
    const client = factory.build({ ...base, endpoint: server.url, requestTimeoutMs: 1_500 });
    t.teardown(() => client.destroy());
    let hungSettled = false;
    const hung = timed(client.send(factory.call())).finally(() => (hungSettled = true));

    // Act
    const next = await timed(client.send(factory.call()));

    // Assess
    t.equal(next.error, null, 'the second call succeeds');
    t.notOk(hungSettled, 'while the first is still waiting');
    // The first is cut at its deadline; the SDK's retry (where there is one) is then answered.
    const first = await hung;
    const deadline = factory.retries ? 1_500 : 2_500;
    t.ok(first.ms >= deadline - 50 && first.ms < 10_000, `the first settled after ${first.ms.toFixed(0)} ms`);
    if (!factory.retries) t.match(first.error, { name: 'TimeoutError' });
  });
}

t.test(
  'DynamoDB: 60 calls at once on a black hole all fail at their deadline, those waiting for one of the 50 sockets too',
  async (t) => {
    // Prepare
    const endpoint = await blackHole(t);
    const client = dynamoDbClient({ ...base, endpoint, requestTimeoutMs: REQUEST_TIMEOUT_MS });
    t.teardown(() => client.destroy());

    // Act
    const results = await Promise.all(Array.from({ length: 60 }, () => timed(client.send(new ListTablesCommand({})))));

    // Assess
    t.ok(
      results.every((r) => (r.error as Error | null)?.name === 'TimeoutError'),
      'every call is a TimeoutError',
    );
    const slowest = Math.max(...results.map((r) => r.ms));
    t.ok(slowest < 10_000, `the slowest failed after ${slowest.toFixed(0)} ms`);
  },
);

t.test('defaults: without deadlines given, every call still has one', async (t) => {
  const server = await fakeAws(t, false);
  for (const factory of FACTORIES) {
    const client = factory.build({ ...base, endpoint: server.url });
    t.teardown(() => client.destroy());
    // The handler resolves its configuration on the first request.
    await client.send(factory.call());
    const config = (client.config.requestHandler as NodeHttpHandler).httpHandlerConfigs();
    t.match(config, { connectionTimeout: 3_000, throwOnRequestTimeout: true }, factory.name);
    t.ok((config.requestTimeout ?? 0) >= 1_000, `${factory.name}: request timeout ${config.requestTimeout} ms`);
  }
});

t.test('DynamoDB deadline: 80% of the renew interval (4/15 of the failover time), at least 100 ms', async (t) => {
  t.equal(dynamoDbRequestTimeoutMs(10_000), 2_666);
  t.equal(dynamoDbRequestTimeoutMs(1_000), 266);
  t.equal(dynamoDbRequestTimeoutMs(300), 100);
});
