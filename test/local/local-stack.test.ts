// The whole local stack, from code and from `kvs-infer local`: every piece answers the real SDK
// clients, and the printed variables are the ones the SDK reads.

import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { ListStreamsCommand as ListDataStreamsCommand } from '@aws-sdk/client-kinesis';
import { GetDataEndpointCommand, ListStreamsCommand, ListTagsForStreamCommand } from '@aws-sdk/client-kinesis-video';
import { GetMediaCommand, KinesisVideoMediaClient } from '@aws-sdk/client-kinesis-video-media';
import { InvokeEndpointCommand } from '@aws-sdk/client-sagemaker-runtime';
import t from 'tap';
import { dynamoDbClient, kinesisClient, kinesisVideoClient, sageMakerRuntimeClient } from '../../src/aws/clients.js';
import { generateFixture } from '../../src/local/fixtures/index.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION, LocalStack } from '../../src/local/index.js';
import { readMkv } from '../../src/media/index.js';

const CLI = new URL('../../src/cli/main.ts', import.meta.url).pathname;

t.test(
  'LocalStack: streams replayed with their tags, the model, DynamoDB and the data streams all answer',
  async (t) => {
    // Prepare
    const dir = t.testdir();
    const clip = await generateFixture({
      path: join(dir, 'cam.mkv'),
      width: 320,
      height: 240,
      fps: 10,
      gopSeconds: 1,
      durationSeconds: 3,
    });
    const stack = await LocalStack.start({
      streams: [{ name: 'front-door', file: clip.path, tags: { Location: 'Front' } }],
      rate: 'max',
      model: 'fixed',
      dataStreams: ['results'],
    });
    t.teardown(() => stack.close());
    const local = (endpoint: string) => ({ endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
    const kv = kinesisVideoClient(local(stack.env.AWS_ENDPOINT_URL_KINESIS_VIDEO!));

    // Act
    const listed = await kv.send(new ListStreamsCommand({}));
    const tags = await kv.send(new ListTagsForStreamCommand({ StreamName: 'front-door' }));
    const { DataEndpoint } = await kv.send(
      new GetDataEndpointCommand({ StreamName: 'front-door', APIName: 'GET_MEDIA' }),
    );
    const media = new KinesisVideoMediaClient(local(DataEndpoint!));
    const response = await media.send(
      new GetMediaCommand({ StreamName: 'front-door', StartSelector: { StartSelectorType: 'EARLIEST' } }),
    );
    let frames = 0;
    const fragments: string[] = [];
    for await (const event of readMkv(response.Payload as AsyncIterable<Uint8Array>)) {
      if (event.type === 'frame') frames++;
      if (event.type === 'tracks' && fragments.length === 2) break;
      if (event.type === 'fragment') fragments.push(event.fragment.fragmentNumber!);
    }
    const answer = await sageMakerRuntimeClient(local(stack.env.AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME!)).send(
      new InvokeEndpointCommand({ EndpointName: 'any', ContentType: 'image/jpeg', Body: Buffer.from([0xff, 0xd8]) }),
    );
    const tables = await dynamoDbClient(local(stack.env.AWS_ENDPOINT_URL_DYNAMODB!)).send(new ListTablesCommand({}));
    const dataStreams = await kinesisClient(local(stack.env.AWS_ENDPOINT_URL_KINESIS!)).send(
      new ListDataStreamsCommand({}),
    );

    // Assess
    t.same(
      listed.StreamInfoList?.map((s) => s.StreamName),
      ['front-door'],
    );
    t.same(tags.Tags, { Location: 'Front' });
    t.equal(fragments.length, 2, 'two whole fragments read');
    t.equal(frames, 20, 'ten frames in each one-second fragment');
    t.match(JSON.parse(Buffer.from(answer.Body!).toString()), { prediction: Array });
    t.same(tables.TableNames, []);
    t.same(dataStreams.StreamNames, ['results']);
  },
);

t.test('kvs-infer local prints variables the SDK reads, and stops cleanly on SIGTERM', async (t) => {
  // Prepare
  const dir = t.testdir();
  const clip = await generateFixture({
    path: join(dir, 'cam.mkv'),
    width: 320,
    height: 240,
    fps: 10,
    gopSeconds: 1,
    durationSeconds: 2,
  });
  const child = spawn(
    process.execPath,
    [
      ...process.execArgv,
      CLI,
      'local',
      '--stream',
      `lobby=${clip.path}`,
      '--tag',
      'lobby:Location=Parking',
      '--loop',
      '--model',
      'fixed',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  t.teardown(() => child.kill('SIGKILL'));
  let stdout = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d));
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d));
  while (!stderr.includes('local stack ready')) await once(child.stderr, 'data');
  const env = Object.fromEntries([...stdout.matchAll(/^export (\w+)=(.*)$/gm)].map((m) => [m[1]!, m[2]!]));

  // Act: a separate Node process with only those variables set finds the stream by its tag.
  const script = `
    import { KinesisVideoClient, ListStreamsCommand, ListTagsForStreamCommand } from '@aws-sdk/client-kinesis-video';
    const client = new KinesisVideoClient({});
    const { StreamInfoList } = await client.send(new ListStreamsCommand({}));
    const { Tags } = await client.send(new ListTagsForStreamCommand({ StreamName: StreamInfoList[0].StreamName }));
    console.log(JSON.stringify({ name: StreamInfoList[0].StreamName, tags: Tags }));`;
  const { stdout: found } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], {
    cwd: new URL('../..', import.meta.url).pathname,
    env: { PATH: process.env.PATH, ...env },
  });
  child.kill('SIGTERM');
  const [code] = await once(child, 'exit');

  // Assess
  t.same(Object.keys(env).sort(), [
    'AWS_ACCESS_KEY_ID',
    'AWS_DEFAULT_REGION',
    'AWS_ENDPOINT_URL_DYNAMODB',
    'AWS_ENDPOINT_URL_KINESIS',
    'AWS_ENDPOINT_URL_KINESIS_VIDEO',
    'AWS_ENDPOINT_URL_KINESIS_VIDEO_ARCHIVED_MEDIA',
    'AWS_ENDPOINT_URL_KINESIS_VIDEO_MEDIA',
    'AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME',
    'AWS_REGION',
    'AWS_SECRET_ACCESS_KEY',
  ]);
  t.ok(
    Object.entries(env)
      .filter(([k]) => k.startsWith('AWS_ENDPOINT_URL_'))
      .every(([, url]) => url.startsWith('http://127.0.0.1:')),
    'loopback only',
  );
  t.same(JSON.parse(found), { name: 'lobby', tags: { Location: 'Parking' } });
  t.equal(code, 0, 'exit 0 after SIGTERM');
});

t.test('kvs-infer local refuses bad options naming them', async (t) => {
  const run = (...args: string[]) =>
    promisify(execFile)(process.execPath, [...process.execArgv, CLI, 'local', ...args]).then(
      () => null,
      (e: { code: number; stderr: string }) => e,
    );
  t.match(await run('--stream', 'nofile'), { code: 1, stderr: /--stream must be NAME=FILE, got "nofile"/ });
  t.match(await run('--stream', `a=${CLI}`, '--tag', 'b:K=V'), {
    code: 1,
    stderr: /names stream "b", which no --stream gives/,
  });
  t.match(await run('--rate', 'fast'), { code: 1, stderr: /--rate must be a positive number or max/ });
  t.match(await run('--faults', '500=2'), { code: 1, stderr: /500/ });
  t.match(await run('--stream', 'a=/nonexistent.mkv'), { code: 2, stderr: /\/nonexistent\.mkv/ });
});
