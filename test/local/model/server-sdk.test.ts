// The model server as the real @aws-sdk/client-sagemaker-runtime sees it: answers, every injected
// fault, and SageMaker's own refusals, each as the SDK surfaces it.

import {
  InvokeEndpointCommand,
  ModelError,
  SageMakerRuntimeClient,
  type SageMakerRuntimeClientConfig,
} from '@aws-sdk/client-sagemaker-runtime';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import t, { type Test } from 'tap';
import {
  type Backend,
  fixedPrediction,
  MAX_PAYLOAD_BYTES,
  ModelServer,
  type ModelServerOptions,
  objectDetectionJson,
} from '../../../src/local/model/index.js';
import { failure } from '../../helpers/rejection.js';

const JPEG = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3, 4]);

async function serverFor(t: Test, options: Partial<ModelServerOptions> = {}): Promise<ModelServer> {
  const server = await ModelServer.create({ backend: 'fixed', seed: 1, ...options });
  t.teardown(() => server.close());
  return server;
}

/** A real SDK client aimed at the server; one attempt unless told, so that faults arrive raw. */
function clientFor(
  t: Test,
  server: ModelServer,
  config: Partial<SageMakerRuntimeClientConfig> = {},
): SageMakerRuntimeClient {
  const client = new SageMakerRuntimeClient({
    region: 'us-east-1',
    endpoint: server.url,
    credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
    maxAttempts: 1,
    ...config,
  });
  t.teardown(() => client.destroy());
  return client;
}

const invoke = (
  client: SageMakerRuntimeClient,
  body: Uint8Array = JPEG,
  extra: Partial<InvokeEndpointCommand['input']> = {},
) =>
  client.send(
    new InvokeEndpointCommand({ EndpointName: 'kit-endpoint', ContentType: 'image/jpeg', Body: body, ...extra }),
  );

t.test(
  'fixed backend: the SDK gets the hash-derived prediction, content type, variant and custom attributes',
  async (t) => {
    // Prepare
    const server = await serverFor(t);
    const client = clientFor(t, server);
    const other = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 9, 9]);

    // Act
    const first = await invoke(client, JPEG, { Accept: 'application/json', CustomAttributes: 'trace=abc' });
    const second = await invoke(client, other);

    // Assess
    t.equal(first.$metadata.httpStatusCode, 200);
    t.equal(first.ContentType, 'application/json');
    t.equal(first.InvokedProductionVariant, 'AllTraffic');
    t.equal(first.CustomAttributes, 'trace=abc', 'custom attributes forwarded to the model and back');
    t.match(first.$metadata.requestId, /^[0-9a-f-]{36}$/, 'request id from x-amzn-RequestId');
    const answer = JSON.parse(Buffer.from(first.Body!).toString());
    t.same(answer, { prediction: fixedPrediction(JPEG) });
    const [classId, score, xmin, ymin, xmax, ymax] = answer.prediction[0];
    t.ok(Number.isInteger(classId) && classId >= 0 && classId < 80, 'a COCO class index');
    t.match(
      Buffer.from(first.Body!).toString(),
      /^\{"prediction": \[\[\d+\.0, 0\.\d+, /,
      'the class id a float, as the built-in algorithm writes it',
    );
    t.ok(
      score >= 0.5 && score <= 1 && xmin < xmax && ymin < ymax && xmax <= 1 && ymax <= 1,
      'a plausible normalised box',
    );
    t.notSame(JSON.parse(Buffer.from(second.Body!).toString()), answer, 'another body, another answer');
    t.equal(second.CustomAttributes, undefined);
    t.match(server.stats, { requests: 2, invocations: 2, answered: 2, rejected: 0, modelErrors: 0, inFlight: 0 });
  },
);

t.test('fixed latency delays each answer by at least the configured time', async (t) => {
  // Prepare
  const server = await serverFor(t, { fixedLatencyMs: 150 });
  const client = clientFor(t, server);

  // Act
  const started = performance.now();
  await invoke(client);
  const elapsed = performance.now() - started;

  // Assess
  t.ok(elapsed >= 145, `answered after ${elapsed.toFixed(0)} ms`);
  t.ok(server.stats.backend.maxMs >= 145, 'backend time counted');
});

t.test('fixed answer bytes pads each answer to that size, the prediction unchanged', async (t) => {
  // Prepare
  const server = await serverFor(t, { fixedAnswerBytes: 65_536 });
  const client = clientFor(t, server);

  // Act
  const answer = await invoke(client);

  // Assess
  t.equal(answer.Body!.byteLength, 65_536);
  const parsed = JSON.parse(Buffer.from(answer.Body!).toString());
  t.same(parsed.prediction, fixedPrediction(JPEG));
  t.match(parsed.padding, /^x+$/);
});

t.test('each status fault reaches the SDK as SageMaker would send it', async (t) => {
  const cases = [
    { fault: '500', name: 'InternalFailure', status: 500, fault$: 'server' },
    { fault: '503', name: 'ServiceUnavailable', status: 503, fault$: 'server' },
    { fault: '424', name: 'ModelError', status: 424, fault$: 'client' },
    { fault: '429', name: 'ModelNotReadyException', status: 429, fault$: 'client' },
    { fault: 'throttle', name: 'ThrottlingException', status: 400, fault$: 'client' },
  ] as const;
  for (const { fault, name, status, fault$ } of cases) {
    t.test(`${fault} -> ${name} (${status})`, async (t) => {
      // Prepare
      const server = await serverFor(t, { faults: { [fault]: 1 } });
      const client = clientFor(t, server);

      // Act
      const error = await failure(invoke(client));

      // Assess
      t.equal(error.name, name);
      t.equal(error.$metadata?.httpStatusCode, status);
      t.equal(error.$fault, fault$);
      t.ok(error.message.length > 0, `message: ${error.message}`);
      t.equal(server.stats.faults[fault], 1);
      t.equal(server.stats.answered, 0);
    });
  }
});

t.test('a 424 fault is a ModelError with the original status, message and log stream', async (t) => {
  // Prepare
  const server = await serverFor(t, { faults: '424=1', accountId: '111122223333' });
  const client = clientFor(t, server, { region: 'eu-west-1' });

  // Act
  const error = await failure(invoke(client));

  // Assess
  t.ok(error instanceof ModelError, 'the SDK built its ModelError class');
  t.equal(error.OriginalStatusCode, 500);
  t.match(JSON.parse(error.OriginalMessage ?? ''), { code: 500, type: 'InternalServerException' });
  t.equal(error.LogStreamArn, 'arn:aws:logs:eu-west-1:111122223333:log-group:/aws/sagemaker/Endpoints/kit-endpoint');
  t.match(
    error.message,
    new RegExp(
      /^Received server error \(500\) from primary with message ".*"\. See /.source +
        /https:\/\/eu-west-1\.console\.aws\.amazon\.com\/.* in account 111122223333 for more information\.$/.source,
    ),
  );
});

t.test('with retries on, the SDK retries a 503 and then gets the answer', async (t) => {
  // Prepare: under seed 7 the first two draws fall below 0.5 and the third above.
  const server = await serverFor(t, { faults: { '503': 0.5 }, seed: 7 });
  const client = clientFor(t, server, { maxAttempts: 3 });

  // Act
  const answer = await invoke(client);

  // Assess
  t.equal(answer.$metadata.httpStatusCode, 200);
  t.ok(answer.$metadata.attempts! > 1, `took ${answer.$metadata.attempts} attempts`);
  t.equal(server.stats.faults['503'], answer.$metadata.attempts! - 1);
});

t.test('a latency spike delays the answer by the configured extra time', async (t) => {
  // Prepare
  const server = await serverFor(t, { faults: 'latency=1:200' });
  const client = clientFor(t, server);

  // Act
  const started = performance.now();
  const answer = await invoke(client);
  const elapsed = performance.now() - started;

  // Assess
  t.equal(answer.$metadata.httpStatusCode, 200);
  t.ok(elapsed >= 195, `answered after ${elapsed.toFixed(0)} ms`);
  t.match(server.stats, { answered: 1, faults: { latency: 1 } });
});

t.test('a malformed answer is a 200 whose body is not JSON', async (t) => {
  // Prepare
  const server = await serverFor(t, { faults: { malformed: 1 } });
  const client = clientFor(t, server);

  // Act
  const answer = await invoke(client);

  // Assess
  t.equal(answer.$metadata.httpStatusCode, 200);
  t.equal(answer.ContentType, 'application/json');
  const text = Buffer.from(answer.Body!).toString();
  t.ok(objectDetectionJson(fixedPrediction(JPEG)).startsWith(text), 'a prefix of the real answer');
  t.throws(() => JSON.parse(text), SyntaxError);
  t.match(server.stats, { answered: 0, faults: { malformed: 1 } });
});

t.test(
  'a black-holed request ends in the SDK TimeoutError of requestTimeout (with throwOnRequestTimeout)',
  async (t) => {
    // Prepare
    const server = await serverFor(t, { faults: { blackhole: 1 }, invocationTimeoutMs: 50 });
    const client = clientFor(t, server, {
      requestHandler: new NodeHttpHandler({ requestTimeout: 300, throwOnRequestTimeout: true }),
    });

    // Act
    const started = performance.now();
    const error = await failure(invoke(client));
    const elapsed = performance.now() - started;

    // Assess
    t.equal(error.name, 'TimeoutError');
    t.ok(elapsed >= 295 && elapsed < 2000, `gave up after ${elapsed.toFixed(0)} ms`);
    t.equal(server.stats.faults.blackhole, 1);
    t.equal(server.stats.timedOut, 0, 'a blackhole outlives the invocation timeout');
    // The server notices the client left and stops counting the request as in flight.
    for (let i = 0; i < 50 && server.stats.inFlight > 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    t.equal(server.stats.inFlight, 0);
  },
);

t.test('requestTimeout alone only warns in this SDK: a black-holed request outlives it', async (t) => {
  // Prepare
  const server = await serverFor(t, { faults: { blackhole: 1 } });
  const warnings: string[] = [];
  const logger = { debug() {}, info() {}, warn: (message: string) => warnings.push(message), error() {} };
  const client = clientFor(t, server, { requestHandler: new NodeHttpHandler({ requestTimeout: 100, logger }) });
  const abort = new AbortController();

  // Act
  const call = failure(
    client.send(new InvokeEndpointCommand({ EndpointName: 'e', ContentType: 'image/jpeg', Body: JPEG }), {
      abortSignal: abort.signal,
    }),
  );
  await new Promise((resolve) => setTimeout(resolve, 400));
  abort.abort();
  const error = await call;

  // Assess
  t.equal(error.name, 'AbortError', 'still waiting 300 ms past the timeout, until aborted');
  t.match(warnings.join('\n'), /exceeded the configured 100 ms requestTimeout/);
});

t.test('closing the server ends a hung request', async (t) => {
  // Prepare
  const server = await ModelServer.create({ backend: 'fixed', faults: { hang: 1 } });
  const client = clientFor(t, server);
  const call = failure(invoke(client));
  while (server.stats.inFlight === 0) await new Promise((resolve) => setTimeout(resolve, 5));

  // Act
  await server.close();
  const error = await call;

  // Assess
  t.ok(error instanceof Error, `the SDK failed with ${error.name}: ${error.message}`);
  t.notOk('$metadata' in error && error.$metadata?.httpStatusCode, 'no HTTP answer was ever sent');
});

t.test('SageMaker refusals: unsupported type, empty body, oversize body, unknown endpoint', async (t) => {
  // Prepare
  const server = await serverFor(t, { endpointName: ['kit-endpoint'], accountId: '123456789012' });
  const client = clientFor(t, server);

  // Act
  const tiff = await failure(invoke(client, JPEG, { ContentType: 'image/tiff' }));
  const accept = await failure(invoke(client, JPEG, { Accept: 'text/csv' }));
  const empty = await failure(invoke(client, new Uint8Array(0)));
  const oversize = await failure(invoke(client, new Uint8Array(MAX_PAYLOAD_BYTES + 1)));
  const limit = await invoke(client, new Uint8Array(MAX_PAYLOAD_BYTES));
  const unknown = await failure(invoke(client, JPEG, { EndpointName: 'nope' }));

  // Assess
  t.match(
    tiff,
    { name: 'ModelError', OriginalStatusCode: 415, $metadata: { httpStatusCode: 424 } },
    'the container refuses the type; SageMaker wraps it',
  );
  t.match(JSON.parse(tiff.OriginalMessage ?? ''), { code: 415, message: /image\/tiff is not supported/ });
  t.match(tiff.message, /^Received client error \(415\) from primary/);
  t.match(accept, { name: 'ModelError', OriginalStatusCode: 406 });
  t.match(empty, { name: 'ValidationError', $metadata: { httpStatusCode: 400 }, message: /body/ });
  t.match(oversize, { name: 'ValidationError', $metadata: { httpStatusCode: 400 }, message: /has oversize body/ });
  t.equal(limit.$metadata.httpStatusCode, 200, 'exactly 6 MB is allowed');
  t.match(unknown, {
    name: 'ValidationError',
    $metadata: { httpStatusCode: 400 },
    message: 'Endpoint nope of account 123456789012 not found.',
  });
  t.match(server.stats, { invocations: 6, answered: 1, rejected: 3, modelErrors: 2 });
});

t.test(
  "any endpoint name SageMaker allows is served by default; others are refused with the API model's constraint",
  async (t) => {
    // Prepare
    const server = await serverFor(t);
    const client = clientFor(t, server);
    const longest = `a${'-b'.repeat(31)}`;

    // Act
    const served = await Promise.all(
      ['e', 'kit-endpoint', 'A--9', longest].map((name) => invoke(client, JPEG, { EndpointName: name })),
    );
    const spaced = await failure(invoke(client, JPEG, { EndpointName: 'some name/with slash' }));
    const dashed = await failure(invoke(client, JPEG, { EndpointName: 'endpoint-' }));
    const long = await failure(invoke(client, JPEG, { EndpointName: `${longest}c` }));

    // Assess
    t.equal(longest.length, 63);
    t.same(
      served.map((answer) => answer.$metadata.httpStatusCode),
      [200, 200, 200, 200],
    );
    const pattern = 'Member must satisfy regular expression pattern: ^[a-zA-Z0-9](-*[a-zA-Z0-9])*';
    t.match(spaced, { name: 'ValidationError', $metadata: { httpStatusCode: 400 } });
    t.equal(
      spaced.message,
      `1 validation error detected: Value 'some name/with slash' at 'endpointName' failed to satisfy constraint: ` +
        `${pattern}`,
    );
    t.equal(
      dashed.message,
      `1 validation error detected: Value 'endpoint-' at 'endpointName' failed to satisfy constraint: ${pattern}`,
    );
    const lengthOver = (max: number) =>
      `failed to satisfy constraint: Member must have length less than or equal to ${max}`;
    t.equal(long.message, `1 validation error detected: Value '${longest}c' at 'endpointName' ${lengthOver(63)}`);
    t.match(server.stats, { answered: 4, rejected: 3 });
  },
);

t.test(
  'CustomAttributes up to 1024 characters reach the model; longer ones are a ValidationError, with every other ' +
    'violation',
  async (t) => {
    // Prepare
    const server = await serverFor(t);
    const client = clientFor(t, server);
    const limit = 'x'.repeat(1024);

    // Act
    const atLimit = await invoke(client, JPEG, { CustomAttributes: limit });
    const over = await failure(invoke(client, JPEG, { CustomAttributes: `${limit}y` }));
    const both = await failure(invoke(client, JPEG, { EndpointName: 'bad_name', CustomAttributes: `${limit}y` }));

    // Assess
    t.equal(atLimit.CustomAttributes, limit, 'passed to the model and back');
    t.match(over, { name: 'ValidationError', $metadata: { httpStatusCode: 400 } });
    const lengthOver = 'failed to satisfy constraint: Member must have length less than or equal to 1024';
    t.equal(over.message, `1 validation error detected: Value '${limit}y' at 'customAttributes' ${lengthOver}`);
    t.match(
      both.message,
      new RegExp(
        /^2 validation errors detected: Value 'bad_name' at 'endpointName' failed .*; Value 'x+y' at /.source +
          /'customAttributes' failed /.source,
      ),
    );
    t.ok(both.message.endsWith(lengthOver), 'every violation in one message');
    t.equal(server.stats.backend.calls, 1, 'only the valid request reached the model');
  },
);

t.test(
  "TargetVariant: the endpoint's variant is served; another is a ValidationError, as is a name outside the pattern",
  async (t) => {
    // Prepare
    const server = await serverFor(t, { variantName: 'Blue' });
    const client = clientFor(t, server);

    // Act
    const blue = await invoke(client, JPEG, { TargetVariant: 'Blue' });
    const green = await failure(invoke(client, JPEG, { TargetVariant: 'Green' }));
    const bad = await failure(invoke(client, JPEG, { TargetVariant: 'no_such' }));

    // Assess
    t.equal(blue.InvokedProductionVariant, 'Blue');
    t.match(green, {
      name: 'ValidationError',
      $metadata: { httpStatusCode: 400 },
      message: /Green .*endpoint kit-endpoint/,
    });
    t.match(
      bad.message,
      new RegExp(
        /^1 validation error detected: Value 'no_such' at 'targetVariant' failed to satisfy constraint: /.source +
          /Member must satisfy regular expression/.source,
      ),
    );
    t.match(server.stats, { answered: 1, rejected: 2 });
  },
);

t.test("a hang becomes SageMaker's ModelError at the invocation timeout, as AWS answers at 60 s", async (t) => {
  // Prepare
  const server = await serverFor(t, { faults: { hang: 1 }, invocationTimeoutMs: 300, accountId: '111122223333' });
  const client = clientFor(t, server);

  // Act
  const started = performance.now();
  const error = await failure(invoke(client));
  const elapsed = performance.now() - started;

  // Assess
  t.ok(error instanceof ModelError, 'the SDK built its ModelError class');
  t.match(error, { OriginalStatusCode: 0, $metadata: { httpStatusCode: 424 }, $fault: 'client' });
  t.equal(
    error.OriginalMessage,
    'Your invocation timed out while waiting for a response from container primary. ' +
      'Review the latency metrics for each container in Amazon CloudWatch, resolve the issue, and try again.',
  );
  t.match(
    error.message,
    new RegExp(
      /^Received server error \(0\) from primary with message "Your invocation timed out .*"\. See /.source +
        /https:\/\/.* in account 111122223333 /.source,
    ),
  );
  t.ok(elapsed >= 290 && elapsed < 5000, `answered after ${elapsed.toFixed(0)} ms`);
  t.match(server.stats, { faults: { hang: 1 }, timedOut: 1, answered: 0, inFlight: 0 });
});

t.test('the invocation timeout cuts a latency spike and a model that ignores its abort signal alike', async (t) => {
  // Prepare
  const slowModel: Backend = {
    name: 'slow',
    contentTypes: ['image/jpeg'],
    responseContentType: 'application/json',
    invoke: () =>
      new Promise((resolve) => setTimeout(() => resolve({ body: '{}', contentType: 'application/json' }), 3000)),
  };
  const spiky = await serverFor(t, { faults: 'latency=1:3000', invocationTimeoutMs: 200 });
  const slow = await serverFor(t, { backend: slowModel, invocationTimeoutMs: 200 });
  const quick = await serverFor(t, { invocationTimeoutMs: 200 });

  // Act
  const started = performance.now();
  const [spike, stuck] = await Promise.all([failure(invoke(clientFor(t, spiky))), failure(invoke(clientFor(t, slow)))]);
  const elapsed = performance.now() - started;
  const answered = await invoke(clientFor(t, quick));

  // Assess
  t.match(spike, { name: 'ModelError', OriginalStatusCode: 0, OriginalMessage: /^Your invocation timed out/ });
  t.match(stuck, { name: 'ModelError', OriginalStatusCode: 0, OriginalMessage: /^Your invocation timed out/ });
  t.ok(elapsed < 2500, `both answered after ${elapsed.toFixed(0)} ms, not after the model's 3 s`);
  t.equal(answered.$metadata.httpStatusCode, 200, 'a model within the timeout answers as ever');
  const zero = ModelServer.create({ backend: 'fixed', invocationTimeoutMs: 0 });
  await t.rejects(zero, { code: 'BAD_SERVER_OPTIONS', message: /invocationTimeoutMs must be a positive integer/ });
});

t.test('the same seed replays the same faults; setFaults changes them for later requests', async (t) => {
  // Prepare
  const run = async (seed: number) => {
    const server = await serverFor(t, { seed, faults: '500=0.3,503=0.3' });
    const client = clientFor(t, server);
    const outcomes: string[] = [];
    for (let i = 0; i < 12; i++)
      outcomes.push(
        await invoke(client).then(
          () => 'ok',
          (error: Error) => error.name,
        ),
      );
    return { server, client, outcomes };
  };

  // Act
  const a = await run(42);
  const b = await run(42);
  a.server.setFaults({});
  const after = await invoke(a.client);

  // Assess
  t.same(a.outcomes, b.outcomes, a.outcomes.join(' '));
  t.ok(
    a.outcomes.includes('ok') && a.outcomes.includes('InternalFailure') && a.outcomes.includes('ServiceUnavailable'),
    'a mix at these rates',
  );
  t.equal(a.server.stats.faults['500'] + a.server.stats.faults['503'] + a.server.stats.answered, 13);
  t.equal(after.$metadata.httpStatusCode, 200);
  t.same(a.server.faults, {});
});
