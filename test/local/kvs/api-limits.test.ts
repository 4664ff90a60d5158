// The local KVS server's control-plane quotas, through the real SDK: KVS's documented per-stream and per-account
// rates, ClientLimitExceededException beyond them, and the per-operation call counts a simulation reports.

import {
  ClientLimitExceededException,
  GetDataEndpointCommand,
  type KinesisVideoClient,
  ListStreamsCommand,
} from '@aws-sdk/client-kinesis-video';
import t, { type Test } from 'tap';
import { ApiLimits } from '../../../src/local/kvs/api-limits.js';
import type { KvsServer, KvsServerOptions } from '../../../src/local/kvs/index.js';
import { controlClient, startServer } from './api-helpers.js';

async function setup(t: Test, options: KvsServerOptions): Promise<{ server: KvsServer; client: KinesisVideoClient }> {
  const server = await startServer(t, options);
  return { server, client: controlClient(t, server) };
}

const endpointOf = (client: KinesisVideoClient, name: string) =>
  client.send(new GetDataEndpointCommand({ StreamName: name, APIName: 'GET_MEDIA' }));

t.test("GetDataEndpoint beyond 5 per second on one stream is refused; another stream's calls are not", async (t) => {
  // Prepare
  const { server, client } = await setup(t, { enforceApiLimits: true });
  server.createStream('cam-1');
  server.createStream('cam-2');

  // Act
  const first = await Promise.allSettled(Array.from({ length: 6 }, () => endpointOf(client, 'cam-1')));
  const other = await endpointOf(client, 'cam-2');

  // Assess
  const refused = first.filter((r) => r.status === 'rejected');
  t.equal(refused.length, 1);
  const reason = (refused[0] as PromiseRejectedResult).reason;
  t.ok(reason instanceof ClientLimitExceededException, 'the SDK maps it to its exception class');
  t.equal(reason.message, 'GetDataEndpoint is limited to 5 per second for stream cam-1');
  t.equal(reason.$metadata.httpStatusCode, 400);
  t.ok(other.DataEndpoint);
  t.same(server.apiCalls().GetDataEndpoint, { admitted: 6, throttled: 1 });
});

t.test('without enforceApiLimits the calls are counted and never refused', async (t) => {
  // Prepare
  const { server, client } = await setup(t, {});
  server.createStream('cam-1');

  // Act
  await Promise.all(Array.from({ length: 20 }, () => endpointOf(client, 'cam-1')));
  await client.send(new ListStreamsCommand({}));

  // Assess
  t.same(server.apiCalls(), {
    GetDataEndpoint: { admitted: 20, throttled: 0 },
    ListStreams: { admitted: 1, throttled: 0 },
  });
});

t.test('the account quota refills at its rate: 50 ListStreams a second', async (t) => {
  // Prepare
  let now = 0;
  const limits = new ApiLimits({ enforce: true, now: () => now });
  const call = () => {
    try {
      limits.admit('ListStreams', undefined);
      return true;
    } catch {
      return false;
    }
  };

  // Act
  const burst = Array.from({ length: 51 }, call);
  now += 100;
  const afterTenth = Array.from({ length: 6 }, call);

  // Assess
  t.equal(burst.filter(Boolean).length, 50);
  t.same(afterTenth, [true, true, true, true, true, false], '5 tokens in 100 ms');
  t.same(limits.counts().ListStreams, { admitted: 55, throttled: 2 });
});
