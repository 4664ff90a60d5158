// The local KVS control plane through the real @aws-sdk/client-kinesis-video client: streams, tags,
// pagination, data endpoints and the errors KVS answers.

import { type AddressInfo, connect, createServer } from 'node:net';
import {
  CreateStreamCommand,
  DeleteStreamCommand,
  DescribeStreamCommand,
  GetDataEndpointCommand,
  KinesisVideoClient,
  ListStreamsCommand,
  ListTagsForStreamCommand,
  paginateListStreams,
  TagStreamCommand,
  UntagStreamCommand,
  VersionMismatchException,
} from '@aws-sdk/client-kinesis-video';
import { GetMediaCommand, KinesisVideoMediaClient } from '@aws-sdk/client-kinesis-video-media';
import t from 'tap';
import { controlClient, ManualClock, readBody, startServer, syntheticFragment, T0 } from './api-helpers.js';

t.test('CreateStream then DescribeStream by name and by ARN report the same stream', async (t) => {
  // Prepare
  const server = await startServer(t, { clock: new ManualClock() });
  const kvs = controlClient(t, server);

  // Act
  const created = await kvs.send(
    new CreateStreamCommand({
      StreamName: 'door-1',
      MediaType: 'video/h264',
      DataRetentionInHours: 24,
      Tags: { Location: 'Front' },
    }),
  );
  const byName = await kvs.send(new DescribeStreamCommand({ StreamName: 'door-1' }));
  const byArn = await kvs.send(new DescribeStreamCommand({ StreamARN: created.StreamARN }));

  // Assess
  t.equal(created.StreamARN, `arn:aws:kinesisvideo:us-east-1:000000000000:stream/door-1/${T0}`);
  t.match(byName.StreamInfo, {
    StreamName: 'door-1',
    StreamARN: created.StreamARN,
    MediaType: 'video/h264',
    KmsKeyId: 'arn:aws:kms:us-east-1:000000000000:alias/aws/kinesisvideo',
    Status: 'ACTIVE',
    DataRetentionInHours: 24,
  });
  t.type(byName.StreamInfo?.Version, 'string');
  t.ok(byName.StreamInfo?.CreationTime instanceof Date, 'CreationTime parses as a Date');
  t.equal(byName.StreamInfo?.CreationTime?.getTime(), T0);
  t.same(byArn.StreamInfo, byName.StreamInfo);
});

t.test(
  'CreateStream of a taken name is ResourceInUseException; an invalid name is InvalidArgumentException',
  async (t) => {
    // Prepare
    const server = await startServer(t);
    const kvs = controlClient(t, server);
    await kvs.send(new CreateStreamCommand({ StreamName: 'dup' }));

    // Act + Assess
    await t.rejects(kvs.send(new CreateStreamCommand({ StreamName: 'dup' })), {
      name: 'ResourceInUseException',
      $metadata: { httpStatusCode: 400 },
    });
    await t.rejects(kvs.send(new CreateStreamCommand({ StreamName: 'no spaces' })), {
      name: 'InvalidArgumentException',
    });
    await t.rejects(kvs.send(new CreateStreamCommand({ StreamName: 'negative', DataRetentionInHours: -1 })), {
      name: 'InvalidArgumentException',
    });
  },
);

t.test(
  'DescribeStream of an unknown stream is ResourceNotFoundException with its message and request id',
  async (t) => {
    // Prepare
    const server = await startServer(t);
    const kvs = controlClient(t, server);

    // Act
    const error = await kvs.send(new DescribeStreamCommand({ StreamName: 'ghost' })).catch((e: unknown) => e);

    // Assess
    t.match(error, {
      name: 'ResourceNotFoundException',
      message: /ghost/,
      $fault: 'client',
      $metadata: { httpStatusCode: 404 },
    });
    t.match((error as { $metadata: { requestId?: string } }).$metadata.requestId, /^[0-9a-f-]{36}$/);
  },
);

t.test('ListStreams pages with MaxResults and NextToken, and filters with BEGINS_WITH', async (t) => {
  // Prepare: 7 streams, 5 of them "cam-"
  const server = await startServer(t);
  const kvs = controlClient(t, server);
  for (const name of ['cam-3', 'cam-1', 'other-a', 'cam-5', 'cam-2', 'other-b', 'cam-4']) server.createStream(name);

  // Act
  const first = await kvs.send(
    new ListStreamsCommand({
      MaxResults: 2,
      StreamNameCondition: { ComparisonOperator: 'BEGINS_WITH', ComparisonValue: 'cam-' },
    }),
  );
  const pages: string[][] = [];
  for await (const page of paginateListStreams(
    { client: kvs, pageSize: 3 },
    { StreamNameCondition: { ComparisonOperator: 'BEGINS_WITH', ComparisonValue: 'cam-' } },
  )) {
    pages.push((page.StreamInfoList ?? []).map((s) => s.StreamName!));
  }
  const everything = await kvs.send(new ListStreamsCommand({}));

  // Assess
  t.same(
    first.StreamInfoList?.map((s) => s.StreamName),
    ['cam-1', 'cam-2'],
  );
  t.type(first.NextToken, 'string');
  t.same(pages, [
    ['cam-1', 'cam-2', 'cam-3'],
    ['cam-4', 'cam-5'],
  ]);
  t.same(
    everything.StreamInfoList?.map((s) => s.StreamName),
    ['cam-1', 'cam-2', 'cam-3', 'cam-4', 'cam-5', 'other-a', 'other-b'],
  );
  t.equal(everything.NextToken, undefined);
  t.match(everything.StreamInfoList?.[0], { Status: 'ACTIVE', StreamARN: /stream\/cam-1\// });
});

t.test('ListStreams refuses a bad token, a bad MaxResults and an unknown operator', async (t) => {
  // Prepare
  const server = await startServer(t);
  const kvs = controlClient(t, server);

  // Act + Assess
  await t.rejects(kvs.send(new ListStreamsCommand({ NextToken: 'not-a-token' })), { name: 'InvalidArgumentException' });
  await t.rejects(kvs.send(new ListStreamsCommand({ MaxResults: 0 })), { name: 'InvalidArgumentException' });
  await t.rejects(
    kvs.send(
      new ListStreamsCommand({
        StreamNameCondition: { ComparisonOperator: 'ENDS_WITH' as 'BEGINS_WITH', ComparisonValue: 'x' },
      }),
    ),
    { name: 'InvalidArgumentException' },
  );
});

t.test('TagStream, UntagStream and ListTagsForStream keep a stream tags, by name or ARN', async (t) => {
  // Prepare
  const server = await startServer(t);
  const kvs = controlClient(t, server);
  const { StreamARN } = await kvs.send(
    new CreateStreamCommand({ StreamName: 'tagged', Tags: { Location: 'Front', Floor: '1' } }),
  );

  // Act
  await kvs.send(new TagStreamCommand({ StreamName: 'tagged', Tags: { Location: 'Parking', Camera: 'c7' } }));
  const afterTag = await kvs.send(new ListTagsForStreamCommand({ StreamARN }));
  await kvs.send(new UntagStreamCommand({ StreamARN, TagKeyList: ['Floor', 'NotThere'] }));
  const afterUntag = await kvs.send(new ListTagsForStreamCommand({ StreamName: 'tagged' }));

  // Assess
  t.same(afterTag.Tags, { Location: 'Parking', Floor: '1', Camera: 'c7' });
  t.same(afterUntag.Tags, { Location: 'Parking', Camera: 'c7' });
  t.equal(afterUntag.NextToken, undefined);
});

t.test('more than 50 tags on a stream is TagsPerResourceExceededLimitException, and nothing is applied', async (t) => {
  // Prepare
  const server = await startServer(t);
  const kvs = controlClient(t, server);
  const fortyNine = Object.fromEntries(Array.from({ length: 49 }, (_, i) => [`k${i}`, 'v']));
  await kvs.send(new CreateStreamCommand({ StreamName: 'full', Tags: fortyNine }));

  // Act
  const error = await kvs
    .send(new TagStreamCommand({ StreamName: 'full', Tags: { a: '1', b: '2' } }))
    .catch((e: unknown) => e);
  const tags = await kvs.send(new ListTagsForStreamCommand({ StreamName: 'full' }));

  // Assess
  t.match(error, { name: 'TagsPerResourceExceededLimitException' });
  t.equal(Object.keys(tags.Tags ?? {}).length, 49);
  await t.rejects(kvs.send(new TagStreamCommand({ StreamName: 'ghost', Tags: { a: '1' } })), {
    name: 'ResourceNotFoundException',
  });
});

t.test(
  'CreateStream checks MediaType, DeviceName, KmsKeyId and tags against the API model, naming the member refused',
  async (t) => {
    // Prepare
    const server = await startServer(t);
    const kvs = controlClient(t, server);
    const create = (input: Omit<ConstructorParameters<typeof CreateStreamCommand>[0], 'StreamName'>, name = 'cam') =>
      kvs.send(new CreateStreamCommand({ StreamName: name, ...input }));
    const invalid = (member: string, constraint: RegExp) => ({
      name: 'InvalidArgumentException',
      $metadata: { httpStatusCode: 400 },
      message: new RegExp(
        `^1 validation error detected: Value '.*' at '${member}' failed to satisfy constraint: ${constraint.source}`,
      ),
    });

    // Act + Assess: refused
    await t.rejects(
      create({ MediaType: 'h264' }),
      invalid('mediaType', /Member must satisfy regular expression pattern: \^\[\\w/),
    );
    await t.rejects(
      create({ MediaType: 'video/h264;audio/aac' }),
      invalid('mediaType', /Member must satisfy regular expression pattern/),
    );
    await t.rejects(
      create({ MediaType: `video/${'x'.repeat(123)}` }),
      invalid('mediaType', /Member must have length less than or equal to 128/),
    );
    await t.rejects(
      create({ DeviceName: 'front door' }),
      invalid('deviceName', /Member must satisfy regular expression pattern/),
    );
    await t.rejects(
      create({ KmsKeyId: 'k'.repeat(2049) }),
      invalid('kmsKeyId', /Member must have length less than or equal to 2048/),
    );
    const mapKeys = 'Map keys must satisfy constraint: \\[Member must';
    await t.rejects(
      create({ Tags: { 'cost#centre': 'a' } }),
      invalid('tags', new RegExp(`${mapKeys} satisfy regular expression pattern`)),
    );
    await t.rejects(
      create({ Tags: { ['k'.repeat(129)]: 'a' } }),
      invalid('tags', new RegExp(`${mapKeys} have length less than or equal to 128`)),
    );
    await t.rejects(
      create({ Tags: { Owner: 'ops;dev' } }),
      invalid('tags.Owner', /Member must satisfy regular expression pattern/),
    );
    await t.rejects(
      create({ Tags: { Owner: 'o'.repeat(257) } }),
      invalid('tags.Owner', /Member must have length less than or equal to 256/),
    );
    await t.rejects(create({ Tags: {} }), invalid('tags', /Member must have length greater than or equal to 1/));
    const fiftyOne = Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`k${i}`, 'v']));
    await t.rejects(create({ Tags: fiftyOne }), invalid('tags', /Member must have length less than or equal to 50/));
    t.equal(server.registry.size, 0, 'no stream was created');

    // ... and accepted: a list of media types; letters of any script, spaces, and the punctuation the pattern allows;
    // lengths counted in characters (128 astral letters are 256 UTF-16 units).
    const tags = { 'Ort Zürich': 'Bahnhof: Gleis 3 / Süd', ['𝒳'.repeat(128)]: '=+-@.:_' };
    await create({ MediaType: 'video/h264,audio/aac', DeviceName: 'cam-1_a.b', Tags: tags });
    const { Tags } = await kvs.send(new ListTagsForStreamCommand({ StreamName: 'cam' }));
    t.same(Tags, tags);
  },
);

t.test(
  'TagStream and UntagStream check tags against the API model before looking up the stream; nothing is applied',
  async (t) => {
    // Prepare
    const server = await startServer(t);
    const kvs = controlClient(t, server);
    await kvs.send(new CreateStreamCommand({ StreamName: 'cam', Tags: { Location: 'Front' } }));

    // Act
    const badKey = await kvs
      .send(new TagStreamCommand({ StreamName: 'cam', Tags: { Camera: 'c7', 'bad!': 'x' } }))
      .catch((e: unknown) => e);
    const ghost = await kvs
      .send(new TagStreamCommand({ StreamName: 'ghost', Tags: { 'bad!': 'x' } }))
      .catch((e: unknown) => e);
    const noKeys = await kvs
      .send(new UntagStreamCommand({ StreamName: 'cam', TagKeyList: [] }))
      .catch((e: unknown) => e);
    const untagBad = new UntagStreamCommand({ StreamName: 'cam', TagKeyList: ['Location', 'bad!'] });
    const badListedKey = await kvs.send(untagBad).catch((e: unknown) => e);
    const { Tags } = await kvs.send(new ListTagsForStreamCommand({ StreamName: 'cam' }));

    // Assess
    t.match(badKey, {
      name: 'InvalidArgumentException',
      message: /Value 'bad!' at 'tags' failed to satisfy constraint: Map keys must satisfy/,
    });
    t.match(ghost, { name: 'InvalidArgumentException', message: /at 'tags'/ });
    t.match(noKeys, {
      name: 'InvalidArgumentException',
      message: /Value '\[\]' at 'tagKeyList' failed to satisfy constraint: Member must have length greater/,
    });
    t.match(badListedKey, {
      name: 'InvalidArgumentException',
      message: /Value 'bad!' at 'tagKeyList.member' failed to satisfy constraint/,
    });
    t.same(Tags, { Location: 'Front' }, 'neither the good tag of a refused request was added, nor a key removed');
  },
);

t.test("streams the server creates itself (the local stack's) are checked the same way", async (t) => {
  // Prepare
  const server = await startServer(t);

  // Act + Assess
  t.throws(() => server.createStream('cam', { tags: { 'cost#centre': 'a' } }), {
    code: 'InvalidArgumentException',
    message: /at 'tags'/,
  });
  t.throws(() => server.createStream('cam', { mediaType: 'h264' }), {
    code: 'InvalidArgumentException',
    message: /at 'mediaType'/,
  });
  t.throws(() => server.createStream('a stream'), {
    code: 'InvalidArgumentException',
    message: /Value 'a stream' at 'streamName'/,
  });
  t.equal(server.registry.size, 0);
});

t.test('DeleteStream checks CurrentVersion, then removes the stream', async (t) => {
  // Prepare
  const server = await startServer(t);
  const kvs = controlClient(t, server);
  const { StreamARN } = await kvs.send(new CreateStreamCommand({ StreamName: 'doomed' }));
  const { StreamInfo } = await kvs.send(new DescribeStreamCommand({ StreamARN }));

  // Act
  const mismatch = await kvs
    .send(new DeleteStreamCommand({ StreamARN, CurrentVersion: 'stale' }))
    .catch((e: unknown) => e);
  await kvs.send(new DeleteStreamCommand({ StreamARN, CurrentVersion: StreamInfo?.Version }));

  // Assess
  t.ok(mismatch instanceof VersionMismatchException, 'a stale version is a VersionMismatchException');
  await t.rejects(kvs.send(new DescribeStreamCommand({ StreamARN })), { name: 'ResourceNotFoundException' });
  await t.rejects(kvs.send(new DeleteStreamCommand({ StreamARN })), { name: 'ResourceNotFoundException' });
  t.same((await kvs.send(new ListStreamsCommand({}))).StreamInfoList, []);
  // The name is free again, with a new ARN.
  const again = await kvs.send(new CreateStreamCommand({ StreamName: 'doomed' }));
  t.match(again.StreamARN, /stream\/doomed\//);
});

t.test('GetDataEndpoint answers the server URL for every data API, and checks stream and API name', async (t) => {
  // Prepare
  const server = await startServer(t);
  const kvs = controlClient(t, server);
  server.createStream('cam');

  // Act
  const apis = ['GET_MEDIA', 'PUT_MEDIA', 'LIST_FRAGMENTS', 'GET_MEDIA_FOR_FRAGMENT_LIST'] as const;
  const endpoints = await Promise.all(
    apis.map((APIName) => kvs.send(new GetDataEndpointCommand({ StreamName: 'cam', APIName }))),
  );

  // Assess
  t.same(
    endpoints.map((e) => e.DataEndpoint),
    apis.map(() => server.url),
  );
  await t.rejects(kvs.send(new GetDataEndpointCommand({ StreamName: 'ghost', APIName: 'GET_MEDIA' })), {
    name: 'ResourceNotFoundException',
  });
  await t.rejects(kvs.send(new GetDataEndpointCommand({ StreamName: 'cam', APIName: 'NOPE' as 'GET_MEDIA' })), {
    name: 'InvalidArgumentException',
  });
});

t.test(
  'GetDataEndpoint answers the URL the request came in on: GetMedia through a TCP proxy stays on it',
  async (t) => {
    // Prepare: a TCP proxy in front of the server, counting the connections it carries.
    const server = await startServer(t);
    server.createStream('cam');
    server.streamLog('cam').append(syntheticFragment(0, T0));
    let carried = 0;
    const proxy = createServer((client) => {
      carried++;
      const upstream = connect(Number(new URL(server.url).port), '127.0.0.1');
      client.pipe(upstream).pipe(client);
      client.on('error', () => upstream.destroy());
      upstream.on('error', () => client.destroy());
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    t.teardown(() => new Promise((resolve) => proxy.close(resolve)));
    const proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    const viaProxy = new KinesisVideoClient({
      region: 'us-east-1',
      endpoint: proxyUrl,
      credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
    });
    t.teardown(() => viaProxy.destroy());

    // Act
    const { DataEndpoint } = await viaProxy.send(
      new GetDataEndpointCommand({ StreamName: 'cam', APIName: 'GET_MEDIA' }),
    );
    const controlConnections = carried;
    const media = new KinesisVideoMediaClient({
      region: 'us-east-1',
      endpoint: DataEndpoint,
      credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
    });
    t.teardown(() => media.destroy());
    const output = await media.send(
      new GetMediaCommand({ StreamName: 'cam', StartSelector: { StartSelectorType: 'EARLIEST' } }),
    );
    const read = await readBody(
      output.Payload as AsyncIterable<Uint8Array> & { destroy(): void },
      (r) => r.frames.length === 3,
    );

    // Assess
    t.equal(DataEndpoint, proxyUrl);
    t.equal(read.payloads.length, 3, 'the media came through');
    t.equal(carried, controlConnections + 1, 'GetMedia took a connection of its own through the proxy');
  },
);

t.test('raw HTTP: malformed JSON, unknown paths and wrong methods answer AWS-shaped errors', async (t) => {
  // Prepare
  const server = await startServer(t);

  // Act
  const malformed = await fetch(`${server.url}/describeStream`, {
    method: 'POST',
    body: '{"StreamName": ',
    headers: { 'content-type': 'application/json' },
  });
  const unknownPath = await fetch(`${server.url}/describeEverything`, { method: 'POST', body: '{}' });
  const wrongMethod = await fetch(`${server.url}/describeStream`);
  const notAnObject = await fetch(`${server.url}/listStreams`, { method: 'POST', body: '[1, 2]' });

  // Assess
  for (const [response, status, type] of [
    [malformed, 400, 'InvalidArgumentException'],
    [unknownPath, 404, 'UnknownOperationException'],
    [wrongMethod, 404, 'UnknownOperationException'],
    [notAnObject, 400, 'InvalidArgumentException'],
  ] as const) {
    t.equal(response.status, status);
    t.equal(response.headers.get('x-amzn-errortype'), type);
    t.match(response.headers.get('x-amzn-requestid'), /^[0-9a-f-]{36}$/);
    const body = (await response.json()) as { message: unknown };
    t.type(body.message, 'string');
  }
});
