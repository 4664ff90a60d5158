// Your own model container behind the model server, as the real @aws-sdk/client-sagemaker-runtime sees it:
// invocations forwarded to its /invocations and answered as SageMaker answers them, its /ping checked at
// start, and every way it can fail (an error status, too slow, gone, cut off) turned into SageMaker's ModelError.

import { InvokeEndpointCommand, ModelError, SageMakerRuntimeClient } from '@aws-sdk/client-sagemaker-runtime';
import t, { type Test } from 'tap';
import { ModelServer, type ModelServerOptions } from '../../../src/local/model/index.js';
import { deadUrl, TestContainer, type TestContainerOptions } from '../../helpers/model-container.js';
import { failure } from '../../helpers/rejection.js';

const JPEG = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3, 4]);

async function containerFor(t: Test, options: TestContainerOptions = {}): Promise<TestContainer> {
  const container = await TestContainer.start(options);
  t.teardown(() => container.close());
  return container;
}

async function serverFor(
  t: Test,
  container: TestContainer,
  options: Partial<ModelServerOptions> = {},
): Promise<ModelServer> {
  const server = await ModelServer.create({ backend: new URL(container.url), seed: 1, ...options });
  t.teardown(() => server.close());
  return server;
}

function clientFor(t: Test, server: ModelServer): SageMakerRuntimeClient {
  const credentials = { accessKeyId: 'x', secretAccessKey: 'x' };
  const client = new SageMakerRuntimeClient({ region: 'us-east-1', endpoint: server.url, credentials, maxAttempts: 1 });
  t.teardown(() => client.destroy());
  return client;
}

const invoke = (client: SageMakerRuntimeClient, extra: Partial<InvokeEndpointCommand['input']> = {}) =>
  client.send(new InvokeEndpointCommand({ EndpointName: 'my-model', ContentType: 'image/jpeg', Body: JPEG, ...extra }));

t.test(
  'an invocation reaches the container with its body and headers; its answer reaches the SDK as SageMaker returns it',
  async (t) => {
    // Prepare
    const container = await containerFor(t, {
      answer: (call) => ({
        status: 200,
        contentType: 'text/csv',
        body: `bytes,${call.body.length}\n`,
        headers: { 'X-Amzn-SageMaker-Custom-Attributes': 'model=v2' },
      }),
    });
    const server = await serverFor(t, container);
    const client = clientFor(t, server);

    // Act
    const answer = await invoke(client, {
      EndpointName: 'any-name-at-all',
      Accept: 'text/csv',
      CustomAttributes: 'trace=abc',
    });

    // Assess
    t.equal(container.pings, 1, 'pinged once, at start');
    t.equal(container.calls.length, 1);
    const [call] = container.calls;
    t.same(call!.body, JPEG, 'the body as sent');
    t.equal(call!.headers['content-type'], 'image/jpeg');
    t.equal(call!.headers.accept, 'text/csv');
    t.equal(call!.headers['x-amzn-sagemaker-custom-attributes'], 'trace=abc');
    t.equal(answer.$metadata.httpStatusCode, 200);
    t.equal(Buffer.from(answer.Body!).toString(), 'bytes,8\n', 'the container body, untouched');
    t.equal(answer.ContentType, 'text/csv', "the container's content type");
    t.equal(answer.CustomAttributes, 'model=v2', "the container's custom attributes");
    t.equal(answer.InvokedProductionVariant, 'AllTraffic');
    t.match(server.stats, { invocations: 1, answered: 1, modelErrors: 0 });
  },
);

t.test('any 2xx of the container is a 200 to the SDK; one without a content type is octet-stream', async (t) => {
  // Prepare
  const container = await containerFor(t, { answer: () => ({ status: 201, body: Buffer.from([1, 2, 3]) }) });
  const client = clientFor(t, await serverFor(t, container));

  // Act
  const answer = await invoke(client);

  // Assess
  t.equal(answer.$metadata.httpStatusCode, 200);
  t.equal(answer.ContentType, 'application/octet-stream');
  t.same([...answer.Body!], [1, 2, 3]);
});

t.test("a non-2xx of the container is SageMaker's ModelError with its status and message", async (t) => {
  // Prepare
  const statuses = [415, 500];
  const container = await containerFor(t, {
    answer: () => ({ status: statuses.shift(), contentType: 'text/plain', body: 'cannot read this image' }),
  });
  const server = await serverFor(t, container, { accountId: '111122223333' });
  const client = clientFor(t, server);

  // Act
  const client415 = await failure(invoke(client));
  const server500 = await failure(invoke(client));

  // Assess
  t.ok(client415 instanceof ModelError, 'the SDK built its ModelError class');
  t.match(client415, {
    name: 'ModelError',
    OriginalStatusCode: 415,
    OriginalMessage: 'cannot read this image',
    $metadata: { httpStatusCode: 424 },
  });
  t.match(
    client415.message,
    new RegExp(
      /^Received client error \(415\) from primary with message "cannot read this image"\. See /.source +
        /https:\/\/us-east-1\.console\./.source,
    ),
  );
  t.match(client415.message, / in account 111122223333 for more information\.$/);
  t.equal(client415.LogStreamArn, 'arn:aws:logs:us-east-1:111122223333:log-group:/aws/sagemaker/Endpoints/my-model');
  t.match(server500, {
    name: 'ModelError',
    OriginalStatusCode: 500,
    message: /^Received server error \(500\) from primary/,
  });
  t.match(server.stats, { invocations: 2, answered: 0, modelErrors: 2 });
});

t.test(
  'a container slower than the invocation timeout gets the ModelError SageMaker sends at 60 s, and its connection is ' +
    'cut',
  async (t) => {
    // Prepare
    const container = await containerFor(t, { answer: () => 'silent' });
    const server = await serverFor(t, container, { invocationTimeoutMs: 300 });
    const client = clientFor(t, server);

    // Act
    const started = performance.now();
    const error = await failure(invoke(client));
    const elapsed = performance.now() - started;

    // Assess
    t.match(error, { name: 'ModelError', OriginalStatusCode: 0, $metadata: { httpStatusCode: 424 } });
    t.match(
      error.message,
      new RegExp(
        /^Received server error \(0\) from primary with message "Your invocation timed out while waiting /.source +
          /for a response from container/.source,
      ),
    );
    t.ok(elapsed >= 290 && elapsed < 5000, `answered after ${elapsed.toFixed(0)} ms`);
    t.equal(server.stats.timedOut, 1);
    for (let i = 0; i < 200 && container.abandoned === 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    t.equal(container.abandoned, 1, 'the forwarded call was abandoned, not left open');
  },
);

t.test('a container that went away, or cut its answer off, is a ModelError naming its URL', async (t) => {
  // Prepare
  let cut = true;
  const container = await TestContainer.start({ answer: () => (cut ? 'cut' : {}) });
  const server = await serverFor(t, container);
  const client = clientFor(t, server);

  // Act
  const brokeOff = await failure(invoke(client));
  cut = false;
  await container.close();
  const refused = await failure(invoke(client));

  // Assess
  t.match(brokeOff, {
    name: 'ModelError',
    OriginalStatusCode: 0,
    OriginalMessage: `POST ${container.url}/invocations: the answer broke off`,
  });
  t.match(refused, {
    name: 'ModelError',
    OriginalStatusCode: 0,
    OriginalMessage: new RegExp(`^POST ${container.url}/invocations: no answer: .*ECONNREFUSED`),
  });
  t.match(refused.message, /^Received server error \(0\) from primary/);
  t.match(server.stats, { invocations: 2, modelErrors: 2 });
});

t.test(
  'the ping at start: a refused, failing or silent /ping fails create with the URL and what happened',
  async (t) => {
    // Prepare
    const refusedUrl = await deadUrl();
    const unhealthy = await containerFor(t, { pingStatus: 503 });
    const silent = await containerFor(t, { pingStatus: 'silent' });

    // Act
    const create = (url: string) =>
      ModelServer.create({ backend: new URL(url) }).then(
        (server) => server.close(),
        (error: Error) => error,
      );
    const refused = await create(refusedUrl);
    const failing = await create(unhealthy.url);
    const started = performance.now();
    const silence = await create(silent.url);
    const waited = performance.now() - started;
    const https = await create('https://127.0.0.1:8443');

    // Assess
    const failed = (url: string, what: string) => ({
      code: 'CONTAINER_PING_FAILED',
      message: new RegExp(`^model container ${url} failed its health check: GET ${url}/ping${what}`),
    });
    t.match(refused, failed(refusedUrl, ': no answer: .*ECONNREFUSED.*docker run'));
    t.match(failing, failed(unhealthy.url, ' answered 503;'));
    t.match(silence, {
      code: 'CONTAINER_PING_FAILED',
      message: new RegExp(`GET ${silent.url}/ping: no whole answer within 2000 ms`),
    });
    t.ok(waited >= 1990 && waited < 10_000, `gave up after ${waited.toFixed(0)} ms`);
    t.match(https, { code: 'BAD_SERVER_OPTIONS', message: /over http:\/\//i });
  },
);

t.test('faults are drawn in front of the container: an injected 500 never reaches it', async (t) => {
  // Prepare
  const container = await containerFor(t);
  const server = await serverFor(t, container, { faults: '500=1' });
  const client = clientFor(t, server);

  // Act
  const error = await failure(invoke(client));

  // Assess
  t.equal(error.name, 'InternalFailure');
  t.equal(container.calls.length, 0);
});

t.test(
  "on the server's own /invocations the container's answer passes as it is; a gone container is a 502",
  async (t) => {
    // Prepare
    const container = await TestContainer.start({
      answer: () => ({ status: 415, contentType: 'text/plain', body: 'no' }),
    });
    const server = await serverFor(t, container);
    const post = () =>
      fetch(`${server.url}/invocations`, { method: 'POST', body: JPEG, headers: { 'Content-Type': 'image/jpeg' } });

    // Act
    const refused = await post();
    const refusedText = await refused.text();
    await container.close();
    const gone = await post();

    // Assess
    t.equal(refused.status, 415);
    t.equal(refusedText, 'no');
    t.equal(gone.status, 502);
    t.match(await gone.json(), { message: new RegExp(`POST ${container.url}/invocations: no answer`) });
  },
);

t.test('closing the server abandons a forwarded call under way', async (t) => {
  // Prepare
  const container = await containerFor(t, { answer: () => 'silent' });
  const server = await ModelServer.create({ backend: new URL(container.url) });
  const client = clientFor(t, server);
  const call = failure(invoke(client));
  while (container.calls.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));

  // Act
  await server.close();
  const error = await call;

  // Assess
  t.ok(error instanceof Error, `the SDK failed with ${error.name}`);
  for (let i = 0; i < 200 && container.abandoned === 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));
  t.equal(container.abandoned, 1, 'the container saw the forwarded call go');
});
