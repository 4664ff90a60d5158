// The SageMaker container contract on the same port: GET /ping and POST /invocations with plain fetch.

import t, { type Test } from 'tap';
import { type Backend, fixedPrediction, ModelServer, type ModelServerOptions } from '../../../src/local/model/index.js';

const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 7, 7, 7]);

async function serverFor(t: Test, options: Partial<ModelServerOptions> = {}): Promise<ModelServer> {
  const server = await ModelServer.create({ backend: 'fixed', seed: 1, ...options });
  t.teardown(() => server.close());
  return server;
}

const post = (server: ModelServer, body: BodyInit, headers: Record<string, string> = { 'Content-Type': 'image/png' }) =>
  fetch(`${server.url}/invocations`, { method: 'POST', body, headers });

t.test('GET /ping answers 200 once the model is loaded', async (t) => {
  // Prepare
  const server = await serverFor(t);

  // Act
  const ping = await fetch(`${server.url}/ping`);

  // Assess
  t.equal(ping.status, 200);
  t.equal(server.stats.pings, 1);
  t.match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/);
});

t.test('while a backend factory is still loading, /ping is 503 and invocations are refused', async (t) => {
  // Prepare: a model that finishes loading only when the test says so.
  let finishLoading!: () => void;
  const loading = new Promise<void>((resolve) => (finishLoading = resolve));
  let closed = false;
  const slow = async (): Promise<Backend> => {
    await loading;
    return {
      name: 'slow',
      contentTypes: ['image/png'],
      responseContentType: 'text/plain',
      invoke: async () => ({ body: 'ok', contentType: 'text/plain' }),
      close: async () => {
        closed = true;
      },
    };
  };
  const server = await ModelServer.create({ backend: slow, waitForModel: false });

  // Act
  const pingBefore = await fetch(`${server.url}/ping`);
  const invokeBefore = await post(server, PNG);
  const sdkPathBefore = await fetch(`${server.url}/endpoints/e/invocations`, {
    method: 'POST',
    body: PNG,
    headers: { 'Content-Type': 'image/png' },
  });
  finishLoading();
  await server.whenReady();
  const pingAfter = await fetch(`${server.url}/ping`);
  const invokeAfter = await post(server, PNG);
  await server.close();

  // Assess
  t.equal(pingBefore.status, 503);
  t.equal(invokeBefore.status, 503);
  t.equal(sdkPathBefore.status, 429);
  t.equal(sdkPathBefore.headers.get('x-amzn-errortype'), 'ModelNotReadyException');
  t.equal(pingAfter.status, 200);
  t.equal(invokeAfter.status, 200);
  t.equal(await invokeAfter.text(), 'ok');
  t.ok(closed, 'the server closed the backend its factory made');
});

t.test('POST /invocations answers the model output with its content type, no SageMaker headers', async (t) => {
  // Prepare
  const server = await serverFor(t);

  // Act
  const response = await post(server, PNG, {
    'Content-Type': 'image/png',
    'X-Amzn-SageMaker-Custom-Attributes': 'a=1',
  });

  // Assess
  t.equal(response.status, 200);
  t.equal(response.headers.get('content-type'), 'application/json');
  t.equal(response.headers.get('x-amzn-sagemaker-custom-attributes'), 'a=1');
  t.equal(response.headers.get('x-amzn-invoked-production-variant'), null);
  t.same(await response.json(), { prediction: fixedPrediction(PNG) });
});

t.test('the container answers 415 for an unsupported type and 406 for an Accept it cannot meet', async (t) => {
  // Prepare
  const server = await serverFor(t);

  // Act
  const tiff = await post(server, PNG, { 'Content-Type': 'image/tiff' });
  const none = await fetch(`${server.url}/invocations`, { method: 'POST', body: PNG });
  const csv = await post(server, PNG, { 'Content-Type': 'image/png', Accept: 'text/csv' });
  const wildcard = await post(server, PNG, {
    'Content-Type': 'IMAGE/PNG; q=1',
    Accept: 'text/csv, application/*;q=0.5',
  });

  // Assess
  t.equal(tiff.status, 415);
  t.match(await tiff.json(), { code: 415, type: 'UnsupportedMediaType', message: /image\/tiff/ });
  t.equal(none.status, 415);
  t.equal(csv.status, 406);
  t.equal(wildcard.status, 200, 'media types compared without case or parameters; application/* admits JSON');
  t.match(server.stats, { invocations: 4, modelErrors: 3, answered: 1 });
});

t.test(
  'on /invocations a status fault is that status, malformed is as on the SDK path, and hang never answers (the 60 s ' +
    "cut is SageMaker's)",
  async (t) => {
    // Prepare
    const server = await serverFor(t);

    // Act
    const statuses: number[] = [];
    for (const fault of ['500', '503', '424', '429', 'throttle'] as const) {
      server.setFaults({ [fault]: 1 });
      statuses.push((await post(server, PNG)).status);
    }
    server.setFaults('malformed=1');
    const malformed = await post(server, PNG);
    const malformedText = await malformed.text();
    // A short invocation timeout, which this path must not apply.
    const quick = await serverFor(t, { faults: 'hang=1', invocationTimeoutMs: 50 });
    const started = performance.now();
    const hung = await fetch(`${quick.url}/invocations`, {
      method: 'POST',
      body: PNG,
      headers: { 'Content-Type': 'image/png' },
      signal: AbortSignal.timeout(200),
    }).catch((error: Error) => error);
    const waited = performance.now() - started;

    // Assess
    t.same(statuses, [500, 503, 424, 429, 429]);
    t.equal(malformed.status, 200);
    t.throws(() => JSON.parse(malformedText), SyntaxError, `not JSON: ${malformedText}`);
    t.match(hung, { name: 'TimeoutError' }, 'no answer until the client gave up');
    t.ok(waited >= 195, `waited ${waited.toFixed(0)} ms`);
    t.match(server.stats.faults, { '500': 1, '503': 1, '424': 1, '429': 1, throttle: 1, malformed: 1 });
    t.match(quick.stats, { faults: { hang: 1 }, timedOut: 0 });
  },
);
