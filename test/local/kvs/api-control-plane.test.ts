// The local KVS control plane through the real @aws-sdk/client-kinesis-video client: streams, tags,
// pagination, data endpoints and the errors KVS answers.

import {
  CreateStreamCommand,
  DeleteStreamCommand,
  DescribeStreamCommand,
  GetDataEndpointCommand,
  ListStreamsCommand,
  ListTagsForStreamCommand,
  paginateListStreams,
  KinesisVideoClient,
  TagStreamCommand,
  UntagStreamCommand,
  VersionMismatchException,
} from '@aws-sdk/client-kinesis-video';
import { GetMediaCommand, KinesisVideoMediaClient } from '@aws-sdk/client-kinesis-video-media';
import { connect, createServer, type AddressInfo } from 'node:net';
import t from 'tap';
import { controlClient, ManualClock, readBody, startServer, syntheticFragment, T0 } from './api-helpers.js';

t.test('CreateStream then DescribeStream by name and by ARN report the same stream', async (t) => {
  // Prepare
  const server = await startServer(t, { clock: new ManualClock() });
  const kvs = controlClient(t, server);

  // Act
  const created = await kvs.send(
    new CreateStreamCommand({ StreamName: 'door-1', MediaType: 'video/h264', DataRetentionInHours: 24, Tags: { Location: 'Front' } }),
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

t.test('CreateStream of a taken name is ResourceInUseException; an invalid name is InvalidArgumentException', async (t) => {
  // Prepare
  const server = await startServer(t);
  const kvs = controlClient(t, server);
  await kvs.send(new CreateStreamCommand({ StreamName: 'dup' }));

  // Act + Assess
  await t.rejects(kvs.send(new CreateStreamCommand({ StreamName: 'dup' })), { name: 'ResourceInUseException', $metadata: { httpStatusCode: 400 } });
  await t.rejects(kvs.send(new CreateStreamCommand({ StreamName: 'no spaces' })), { name: 'InvalidArgumentException' });
  await t.rejects(kvs.send(new CreateStreamCommand({ StreamName: 'negative', DataRetentionInHours: -1 })), { name: 'InvalidArgumentException' });
});

t.test('DescribeStream of an unknown stream is ResourceNotFoundException with its message and request id', async (t) => {
  // Prepare
  const server = await startServer(t);
  const kvs = controlClient(t, server);

  // Act
  const error = await kvs.send(new DescribeStreamCommand({ StreamName: 'ghost' })).catch((e: unknown) => e);

  // Assess
  t.match(error, { name: 'ResourceNotFoundException', message: /ghost/, $fault: 'client', $metadata: { httpStatusCode: 404 } });
  t.match((error as { $metadata: { requestId?: string } }).$metadata.requestId, /^[0-9a-f-]{36}$/);
});

t.test('ListStreams pages with MaxResults and NextToken, and filters with BEGINS_WITH', async (t) => {
  // Prepare: 7 streams, 5 of them "cam-"
  const server = await startServer(t);
  const kvs = controlClient(t, server);
  for (const name of ['cam-3', 'cam-1', 'other-a', 'cam-5', 'cam-2', 'other-b', 'cam-4']) server.createStream(name);

  // Act
  const first = await kvs.send(new ListStreamsCommand({ MaxResults: 2, StreamNameCondition: { ComparisonOperator: 'BEGINS_WITH', ComparisonValue: 'cam-' } }));
  const pages: string[][] = [];
  for await (const page of paginateListStreams({ client: kvs, pageSize: 3 }, { StreamNameCondition: { ComparisonOperator: 'BEGINS_WITH', ComparisonValue: 'cam-' } })) {
    pages.push((page.StreamInfoList ?? []).map((s) => s.StreamName!));
  }
  const everything = await kvs.send(new ListStreamsCommand({}));

  // Assess
  t.same(first.StreamInfoList?.map((s) => s.StreamName), ['cam-1', 'cam-2']);
  t.type(first.NextToken, 'string');
  t.same(pages, [['cam-1', 'cam-2', 'cam-3'], ['cam-4', 'cam-5']]);
  t.same(everything.StreamInfoList?.map((s) => s.StreamName), ['cam-1', 'cam-2', 'cam-3', 'cam-4', 'cam-5', 'other-a', 'other-b']);
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
    kvs.send(new ListStreamsCommand({ StreamNameCondition: { ComparisonOperator: 'ENDS_WITH' as 'BEGINS_WITH', ComparisonValue: 'x' } })),
    { name: 'InvalidArgumentException' },
  );
});

t.test('TagStream, UntagStream and ListTagsForStream keep a stream tags, by name or ARN', async (t) => {
  // Prepare
  const server = await startServer(t);
  const kvs = controlClient(t, server);
  const { StreamARN } = await kvs.send(new CreateStreamCommand({ StreamName: 'tagged', Tags: { Location: 'Front', Floor: '1' } }));

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
  const error = await kvs.send(new TagStreamCommand({ StreamName: 'full', Tags: { a: '1', b: '2' } })).catch((e: unknown) => e);
  const tags = await kvs.send(new ListTagsForStreamCommand({ StreamName: 'full' }));

  // Assess
  t.match(error, { name: 'TagsPerResourceExceededLimitException' });
  t.equal(Object.keys(tags.Tags ?? {}).length, 49);
  await t.rejects(kvs.send(new TagStreamCommand({ StreamName: 'ghost', Tags: { a: '1' } })), { name: 'ResourceNotFoundException' });
});

t.test('DeleteStream checks CurrentVersion, then removes the stream', async (t) => {
  // Prepare
  const server = await startServer(t);
  const kvs = controlClient(t, server);
  const { StreamARN } = await kvs.send(new CreateStreamCommand({ StreamName: 'doomed' }));
  const { StreamInfo } = await kvs.send(new DescribeStreamCommand({ StreamARN }));

  // Act
  const mismatch = await kvs.send(new DeleteStreamCommand({ StreamARN, CurrentVersion: 'stale' })).catch((e: unknown) => e);
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
  const endpoints = await Promise.all(apis.map((APIName) => kvs.send(new GetDataEndpointCommand({ StreamName: 'cam', APIName }))));

  // Assess
  t.same(
    endpoints.map((e) => e.DataEndpoint),
    apis.map(() => server.url),
  );
  await t.rejects(kvs.send(new GetDataEndpointCommand({ StreamName: 'ghost', APIName: 'GET_MEDIA' })), { name: 'ResourceNotFoundException' });
  await t.rejects(kvs.send(new GetDataEndpointCommand({ StreamName: 'cam', APIName: 'NOPE' as 'GET_MEDIA' })), { name: 'InvalidArgumentException' });
});

t.test('GetDataEndpoint answers the URL the request came in on: GetMedia through a TCP proxy stays on it', async (t) => {
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
  const viaProxy = new KinesisVideoClient({ region: 'us-east-1', endpoint: proxyUrl, credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
  t.teardown(() => viaProxy.destroy());

  // Act
  const { DataEndpoint } = await viaProxy.send(new GetDataEndpointCommand({ StreamName: 'cam', APIName: 'GET_MEDIA' }));
  const controlConnections = carried;
  const media = new KinesisVideoMediaClient({ region: 'us-east-1', endpoint: DataEndpoint, credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
  t.teardown(() => media.destroy());
  const output = await media.send(new GetMediaCommand({ StreamName: 'cam', StartSelector: { StartSelectorType: 'EARLIEST' } }));
  const read = await readBody(output.Payload as AsyncIterable<Uint8Array> & { destroy(): void }, (r) => r.frames.length === 3);

  // Assess
  t.equal(DataEndpoint, proxyUrl);
  t.equal(read.payloads.length, 3, 'the media came through');
  t.equal(carried, controlConnections + 1, 'GetMedia took a connection of its own through the proxy');
});

t.test('raw HTTP: malformed JSON, unknown paths and wrong methods answer AWS-shaped errors', async (t) => {
  // Prepare
  const server = await startServer(t);

  // Act
  const malformed = await fetch(`${server.url}/describeStream`, { method: 'POST', body: '{"StreamName": ', headers: { 'content-type': 'application/json' } });
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
