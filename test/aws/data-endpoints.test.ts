// GetDataEndpoint answers cached per stream, against the local KVS server through the real SDK: one call per stream
// per 45 minutes, asked again after a failure that may mean the endpoint is wrong, kept after a KVS error answer.

import t, { type Test } from 'tap';
import { DATA_ENDPOINT_TTL_MS, DataEndpoints } from '../../src/aws/data-endpoints.js';
import { controlClient, startServer } from '../local/kvs/api-helpers.js';

async function setup(t: Test) {
  const server = await startServer(t);
  const control = controlClient(t, server);
  server.createStream('cam-1');
  server.createStream('cam-2');
  let now = 0;
  const clock = { advance: (ms: number) => (now += ms) };
  const endpoints = new DataEndpoints({ control, apiName: 'GET_MEDIA', now: () => now });
  const calls = () => server.apiCalls().GetDataEndpoint?.admitted ?? 0;
  return { server, endpoints, clock, calls };
}

t.test('one GetDataEndpoint per stream while the answer is younger than 45 minutes', async (t) => {
  // Prepare
  const { server, endpoints, clock, calls } = await setup(t);

  // Act
  const first = await endpoints.resolve('cam-1');
  await endpoints.resolve('cam-1');
  await endpoints.resolve('cam-2');
  clock.advance(DATA_ENDPOINT_TTL_MS - 1);
  await endpoints.resolve('cam-1');
  const beforeExpiry = calls();
  clock.advance(1);
  await endpoints.resolve('cam-1');

  // Assess
  t.equal(first, server.url);
  t.equal(beforeExpiry, 2, 'one per stream');
  t.equal(calls(), 3, 'asked again at 45 minutes');
});

t.test('a failure with no answer or a 5xx forgets the endpoint; a KVS error answer keeps it', async (t) => {
  // Prepare
  const { endpoints, calls } = await setup(t);
  await endpoints.resolve('cam-1');

  // Act
  endpoints.forgetAfter('cam-1', Object.assign(new Error('Not found'), { $metadata: { httpStatusCode: 404 } }));
  await endpoints.resolve('cam-1');
  const afterKvsError = calls();
  endpoints.forgetAfter('cam-1', Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }));
  await endpoints.resolve('cam-1');
  const afterNetworkError = calls();
  endpoints.forgetAfter('cam-1', Object.assign(new Error('Internal'), { $metadata: { httpStatusCode: 500 } }));
  await endpoints.resolve('cam-1');

  // Assess
  t.equal(afterKvsError, 1);
  t.equal(afterNetworkError, 2);
  t.equal(calls(), 3);
});

t.test('a stream that does not exist is not cached: its error reaches the caller each time', async (t) => {
  // Prepare
  const { endpoints, calls } = await setup(t);

  // Act & Assess
  await t.rejects(endpoints.resolve('missing'), { name: 'ResourceNotFoundException' });
  await t.rejects(endpoints.resolve('missing'), { name: 'ResourceNotFoundException' });
  t.equal(calls(), 2);
});
