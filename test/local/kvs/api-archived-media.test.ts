// ListFragments and GetMediaForFragmentList through the real
// @aws-sdk/client-kinesis-video-archived-media client.

import { CreateStreamCommand } from '@aws-sdk/client-kinesis-video';
import {
  GetMediaForFragmentListCommand,
  type KinesisVideoArchivedMediaClient,
  ListFragmentsCommand,
  paginateListFragments,
} from '@aws-sdk/client-kinesis-video-archived-media';
import { GetMediaCommand } from '@aws-sdk/client-kinesis-video-media';
import t, { type Test } from 'tap';
import type { StoredFragment } from '../../../src/local/kvs/types.js';
import {
  archivedClient,
  controlClient,
  ManualClock,
  mediaClient,
  readBody,
  startServer,
  syntheticFragment,
  T0,
} from './api-helpers.js';

type Body = AsyncIterable<Uint8Array> & { destroy(): void };

/** Stream `cam` with 6 fragments received 1 s apart from T0, produced 1 s apart from T0 - 60 s. */
async function setup(t: Test): Promise<{ archived: KinesisVideoArchivedMediaClient; stored: StoredFragment[] }> {
  const clock = new ManualClock();
  const server = await startServer(t, { clock });
  const control = controlClient(t, server);
  server.createStream('cam', { retentionHours: 24 });
  const log = server.streamLog('cam');
  const stored: StoredFragment[] = [];
  for (let i = 0; i < 6; i++) {
    stored.push(log.append(syntheticFragment(i, T0 - 60_000 + i * 1000, 2 + i)));
    clock.advance(1000);
  }
  return { archived: await archivedClient(t, control, 'cam'), stored };
}

t.test(
  'ListFragments by SERVER_TIMESTAMP and PRODUCER_TIMESTAMP ranges reports each fragment as KVS does',
  async (t) => {
    // Prepare
    const { archived, stored } = await setup(t);

    // Act
    const byServer = await archived.send(
      new ListFragmentsCommand({
        StreamName: 'cam',
        FragmentSelector: {
          FragmentSelectorType: 'SERVER_TIMESTAMP',
          TimestampRange: { StartTimestamp: new Date(T0 + 1000), EndTimestamp: new Date(T0 + 3000) },
        },
      }),
    );
    const byProducer = await archived.send(
      new ListFragmentsCommand({
        StreamName: 'cam',
        FragmentSelector: {
          FragmentSelectorType: 'PRODUCER_TIMESTAMP',
          TimestampRange: { StartTimestamp: new Date(T0 - 60_000 + 4000), EndTimestamp: new Date(T0) },
        },
      }),
    );
    const all = await archived.send(new ListFragmentsCommand({ StreamName: 'cam' }));

    // Assess
    t.same(
      byServer.Fragments?.map((f) => f.FragmentNumber),
      stored.slice(1, 4).map((f) => f.fragmentNumber),
    );
    t.same(
      byProducer.Fragments?.map((f) => f.FragmentNumber),
      stored.slice(4).map((f) => f.fragmentNumber),
    );
    t.equal(all.Fragments?.length, 6);
    t.equal(all.NextToken, undefined);
    const third = byServer.Fragments?.[1];
    t.same(third, {
      FragmentNumber: stored[2]!.fragmentNumber,
      FragmentSizeInBytes: stored[2]!.sizeBytes,
      ProducerTimestamp: new Date(T0 - 60_000 + 2000),
      ServerTimestamp: new Date(T0 + 2000),
      FragmentLengthInMilliseconds: 4 * 40,
    });
  },
);

t.test('ListFragments pages with MaxResults and NextToken', async (t) => {
  // Prepare
  const { archived, stored } = await setup(t);

  // Act
  const pages: string[][] = [];
  for await (const page of paginateListFragments({ client: archived, pageSize: 4 }, { StreamName: 'cam' })) {
    pages.push((page.Fragments ?? []).map((f) => f.FragmentNumber!));
  }

  // Assess
  t.same(pages, [stored.slice(0, 4).map((f) => f.fragmentNumber), stored.slice(4).map((f) => f.fragmentNumber)]);
  await t.rejects(archived.send(new ListFragmentsCommand({ StreamName: 'cam', NextToken: '%%%' })), {
    name: 'InvalidArgumentException',
  });
});

t.test('ListFragments refuses a reversed range and an unknown stream', async (t) => {
  // Prepare
  const { archived } = await setup(t);

  // Act + Assess
  await t.rejects(
    archived.send(
      new ListFragmentsCommand({
        StreamName: 'cam',
        FragmentSelector: {
          FragmentSelectorType: 'SERVER_TIMESTAMP',
          TimestampRange: { StartTimestamp: new Date(T0 + 5000), EndTimestamp: new Date(T0) },
        },
      }),
    ),
    { name: 'InvalidArgumentException' },
  );
  await t.rejects(archived.send(new ListFragmentsCommand({ StreamName: 'ghost' })), {
    name: 'ResourceNotFoundException',
    $metadata: { httpStatusCode: 404 },
  });
});

t.test('GetMediaForFragmentList sends the fragments asked for, in the order asked, then ends', async (t) => {
  // Prepare
  const { archived, stored } = await setup(t);
  const wanted = [stored[3]!, stored[0]!, stored[5]!];

  // Act
  const output = await archived.send(
    new GetMediaForFragmentListCommand({ StreamName: 'cam', Fragments: wanted.map((f) => f.fragmentNumber) }),
  );
  const read = await readBody(output.Payload as unknown as Body);

  // Assess: no `done` condition, so the body ended by itself.
  t.equal(output.ContentType, 'video/webm');
  t.same(
    read.fragmentNumbers,
    wanted.map((f) => f.fragmentNumber),
  );
  t.same(read.frames.length, 5 + 2 + 7);
  t.same(read.payloads.slice(0, 5), ['f3-0', 'f3-1', 'f3-2', 'f3-3', 'f3-4']);
  t.same(
    read.fragments.map((f) => [f.serverTimestamp, f.producerTimestamp, f.millisBehindNow, f.continuationToken]),
    wanted.map((f) => [f.serverTimestamp, f.producerTimestamp, null, null]),
    'archived fragments carry the leading KVS tags only',
  );
});

t.test('GetMediaForFragmentList of an unknown fragment is ResourceNotFoundException, with no media sent', async (t) => {
  // Prepare
  const { archived, stored } = await setup(t);

  // Act + Assess
  await t.rejects(
    archived.send(
      new GetMediaForFragmentListCommand({ StreamName: 'cam', Fragments: [stored[0]!.fragmentNumber, '12345'] }),
    ),
    { name: 'ResourceNotFoundException', message: /12345/ },
  );
  await t.rejects(archived.send(new GetMediaForFragmentListCommand({ StreamName: 'cam', Fragments: [] })), {
    name: 'InvalidArgumentException',
  });
  await t.rejects(archived.send(new GetMediaForFragmentListCommand({ StreamName: 'ghost', Fragments: ['1'] })), {
    name: 'ResourceNotFoundException',
  });
});

t.test(
  'a stream with DataRetentionInHours 0 archives nothing: ListFragments and GetMediaForFragmentList find nothing, ' +
    'GetMedia reads it',
  async (t) => {
    // Prepare: created through the SDK with retention 0 (KVS's default), fed three fragments.
    const clock = new ManualClock();
    const server = await startServer(t, { clock });
    const control = controlClient(t, server);
    await control.send(new CreateStreamCommand({ StreamName: 'live', DataRetentionInHours: 0 }));
    const log = server.streamLog('live');
    const stored = [0, 1, 2].map((i) => {
      const fragment = log.append(syntheticFragment(i, T0 + i * 1000));
      clock.advance(1000);
      return fragment;
    });
    const archived = await archivedClient(t, control, 'live');
    const media = await mediaClient(t, control, 'live');

    // Act
    const all = await archived.send(new ListFragmentsCommand({ StreamName: 'live' }));
    const range = { StartTimestamp: new Date(T0 - 1000), EndTimestamp: new Date(T0 + 5000) };
    const selector = { FragmentSelectorType: 'SERVER_TIMESTAMP', TimestampRange: range } as const;
    const inRange = await archived.send(new ListFragmentsCommand({ StreamName: 'live', FragmentSelector: selector }));
    const fetch = new GetMediaForFragmentListCommand({ StreamName: 'live', Fragments: [stored[0]!.fragmentNumber] });
    const fetched = await archived.send(fetch).catch((e: unknown) => e);
    const output = await media.send(
      new GetMediaCommand({ StreamName: 'live', StartSelector: { StartSelectorType: 'EARLIEST' } }),
    );
    const live = await readBody(output.Payload as unknown as Body, (r) => r.frames.length === 9);

    // Assess
    t.same(all.Fragments, []);
    t.same(inRange.Fragments, []);
    t.match(fetched, {
      name: 'ResourceNotFoundException',
      message: /Fragment \d+ of stream live was not found: .*DataRetentionInHours 0/,
    });
    t.same(
      live.fragmentNumbers,
      stored.map((f) => f.fragmentNumber),
      'GetMedia reads the host buffer all the same',
    );
  },
);
