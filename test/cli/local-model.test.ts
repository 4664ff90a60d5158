// `kvs-infer local --model URL`: the local stack in front of your own model container, as a user runs it
// against the image they deploy; the variables it prints, AWS_DEFAULT_REGION included.

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { InvokeEndpointCommand, SageMakerRuntimeClient } from '@aws-sdk/client-sagemaker-runtime';
import t from 'tap';
import { modelSpec } from '../../src/cli/options.js';
import { smallClip } from '../../src/local/fixtures/index.js';
import { runCli } from '../helpers/cli.js';
import { deadUrl, TestContainer } from '../helpers/model-container.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

t.test(
  'kvs-infer local --model URL serves InvokeEndpoint for any endpoint from your container, and prints ' +
    'AWS_DEFAULT_REGION',
  async (t) => {
    // Prepare
    const container = await TestContainer.start({
      answer: (call) => ({
        contentType: 'application/json',
        body: `{"from": "my-model", "bytes": ${call.body.length}}`,
      }),
    });
    t.teardown(() => container.close());
    const args = ['local', '--stream', `lobby=${await smallClip()}`, '--model', container.url];
    const child = spawn(process.execPath, [...process.execArgv, MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    t.teardown(() => child.kill('SIGKILL'));
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    while (!stderr.includes('local stack ready')) {
      if (child.exitCode !== null) throw new Error(`kvs-infer local exited ${child.exitCode}: ${stderr}`);
      await once(child.stderr, 'data');
    }
    const env = Object.fromEntries([...stdout.matchAll(/^export (\w+)=(.*)$/gm)].map((m) => [m[1]!, m[2]!]));
    const credentials = { accessKeyId: env.AWS_ACCESS_KEY_ID!, secretAccessKey: env.AWS_SECRET_ACCESS_KEY! };
    const client = new SageMakerRuntimeClient({
      region: env.AWS_DEFAULT_REGION,
      endpoint: env.AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME,
      credentials,
      maxAttempts: 1,
    });
    t.teardown(() => client.destroy());

    // Act
    const body = Buffer.from([0xff, 0xd8, 1]);
    const answer = await client.send(
      new InvokeEndpointCommand({ EndpointName: 'my-deployed-model', ContentType: 'image/jpeg', Body: body }),
    );
    child.kill('SIGTERM');
    const [code] = await once(child, 'exit');

    // Assess
    t.equal(env.AWS_DEFAULT_REGION, 'us-east-1', 'for boto3 and the AWS CLI');
    t.equal(env.AWS_DEFAULT_REGION, env.AWS_REGION);
    t.match(stderr, new RegExp(`model http://127\\.0\\.0\\.1:\\d+ \\(your container at ${container.url}\\)`));
    t.same(JSON.parse(Buffer.from(answer.Body!).toString()), { from: 'my-model', bytes: 3 });
    t.equal(container.pings, 1, 'pinged at start');
    t.equal(container.calls.length, 1);
    t.equal(code, 0, 'exit 0 after SIGTERM');
  },
);

t.test(
  'kvs-infer local --model URL fails at start, naming the URL, when the container does not answer its ping',
  async (t) => {
    // Prepare
    const url = await deadUrl();

    // Act
    const result = await runCli(['local', '--stream', `lobby=${await smallClip()}`, '--model', url]);

    // Assess
    t.equal(result.code, 2, 'exit 2: input the command cannot use');
    t.notMatch(result.stderr, /usage:/i, 'one line, no usage');
    t.match(
      result.stderr,
      new RegExp(
        `CONTAINER_PING_FAILED: model container ${url} failed its health check: GET ${url}/ping: no answer: ` +
          `.*ECONNREFUSED`,
      ),
    );
    t.notMatch(result.stdout, /export/, 'no variables for a stack that did not start');
  },
);

t.test('--model takes detector, fixed or an http:// URL, and says so otherwise', async (t) => {
  // Act
  const result = await runCli(['local', '--model', 'ftp://127.0.0.1:8080']);

  // Assess
  const message = (model: string) =>
    `--model must be detector, fixed, or the http:// URL of a model container (e.g. http://127.0.0.1:8080), got ` +
    `"${model}"`;
  t.equal(result.code, 1);
  t.match(result.stderr, message('ftp://127.0.0.1:8080'));
  for (const model of ['gpu', '127.0.0.1:8080', 'localhost:8080'])
    t.throws(() => modelSpec(model), { code: 'USAGE', message: message(model) }, model);
  t.equal(modelSpec('fixed'), 'fixed');
  t.equal(String(modelSpec('http://127.0.0.1:8080')), 'http://127.0.0.1:8080/');
});
