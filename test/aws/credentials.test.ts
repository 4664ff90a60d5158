// Fetching credentials has a deadline: with a container credentials endpoint that accepts and never answers (the
// SDK's default chain would wait for it for ever, whatever the call's own deadline), a call fails at the deadline
// naming the credentials, later calls back off, and they succeed once the endpoint answers again. Credentials still
// valid are served while a refresh hangs. Real SDK clients, over HTTP to servers on 127.0.0.1.

import { ListTablesCommand } from '@aws-sdk/client-dynamodb';
import t, { type Test } from 'tap';
import { dynamoDbClient } from '../../src/aws/clients.js';
import { boundedCredentials } from '../../src/aws/credentials.js';
import { httpServer, timed, urlOf } from '../helpers/network.js';

// The default chain, with nothing before the container endpoint: no keys in the environment, no profile files, no
// EC2 instance metadata.
for (const name of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_PROFILE'])
  delete process.env[name];
process.env.AWS_SHARED_CREDENTIALS_FILE = '/nonexistent/credentials';
process.env.AWS_CONFIG_FILE = '/nonexistent/config';
process.env.AWS_EC2_METADATA_DISABLED = 'true';
process.env.AWS_REGION = 'us-east-1';

interface CredentialsEndpoint {
  /** 'hang': accept and never answer; 'answer': credentials expiring `expiresInMs` from now. */
  mode: 'hang' | 'answer';
  expiresInMs: number;
  requests: number;
}

/** A container credentials endpoint (AWS_CONTAINER_CREDENTIALS_FULL_URI), and the process pointed at it. */
async function credentialsEndpoint(t: Test): Promise<CredentialsEndpoint> {
  const state: CredentialsEndpoint = { mode: 'hang', expiresInMs: 3_600_000, requests: 0 };
  const server = await httpServer(t, (_req, res) => {
    state.requests++;
    if (state.mode === 'hang') return;
    res.writeHead(200, { 'content-type': 'application/json' }).end(
      JSON.stringify({
        AccessKeyId: `AKID${state.requests}`,
        SecretAccessKey: 'secret',
        Token: 'token',
        Expiration: new Date(Date.now() + state.expiresInMs).toISOString(),
      }),
    );
  });
  process.env.AWS_CONTAINER_CREDENTIALS_FULL_URI = `${urlOf(server)}/creds`;
  return state;
}

/** An AWS endpoint answering `{}` to every call, counting the access key ids it was signed with. */
async function fakeDynamoDb(t: Test): Promise<{ url: string; keys: string[] }> {
  const keys: string[] = [];
  const server = await httpServer(t, (req, res) => {
    keys.push(/Credential=([^/]+)\//.exec(req.headers.authorization ?? '')?.[1] ?? '');
    req.resume().on('end', () => res.writeHead(200, { 'content-type': 'application/x-amz-json-1.0' }).end('{}'));
  });
  return { url: urlOf(server), keys };
}

const TIMEOUT_MS = 300;
const BACKOFF = { baseMs: 200, maxMs: 200, jitter: 0 };

t.test('a hung credentials endpoint fails the call at the deadline, then backs off, then recovers', async (t) => {
  // Prepare
  const endpoint = await credentialsEndpoint(t);
  const aws = await fakeDynamoDb(t);
  const client = dynamoDbClient({
    endpoint: aws.url,
    credentials: boundedCredentials({ timeoutMs: TIMEOUT_MS, backoff: BACKOFF }),
  });
  t.teardown(() => client.destroy());

  // Act
  const hung = await timed(client.send(new ListTablesCommand({})));
  const backingOff = await timed(client.send(new ListTablesCommand({})));
  const requestsWhileBackingOff = endpoint.requests;
  endpoint.mode = 'answer';
  await new Promise((resolve) => setTimeout(resolve, BACKOFF.maxMs));
  const healed = await timed(client.send(new ListTablesCommand({})));

  // Assess
  t.match(hung.error, { code: 'CREDENTIALS_TIMEOUT', message: /did not answer within 300 ms/ });
  t.ok(hung.ms >= TIMEOUT_MS - 20 && hung.ms < TIMEOUT_MS + 1_000, `failed after ${hung.ms.toFixed(0)} ms`);
  t.match(backingOff.error, {
    code: 'CREDENTIALS_BACKOFF',
    message: /did not answer within 300 ms.*; next try in \d+ ms$/,
  });
  t.ok(backingOff.ms < 100, `a call while backing off fails at once (${backingOff.ms.toFixed(0)} ms)`);
  t.equal(requestsWhileBackingOff, 1, 'and asks the endpoint nothing');
  t.equal(healed.error, null, 'once the endpoint answers, calls succeed');
  t.same(aws.keys, ['AKID2'], 'signed with the credentials it answered');
});

t.test('credentials still valid are served while their refresh hangs', async (t) => {
  // Prepare: credentials the SDK refreshes before each call (within 5 minutes of expiring), valid for 2 more.
  const endpoint = await credentialsEndpoint(t);
  endpoint.mode = 'answer';
  endpoint.expiresInMs = 120_000;
  const aws = await fakeDynamoDb(t);
  const client = dynamoDbClient({
    endpoint: aws.url,
    credentials: boundedCredentials({ timeoutMs: TIMEOUT_MS, backoff: BACKOFF }),
  });
  t.teardown(() => client.destroy());
  await client.send(new ListTablesCommand({}));
  endpoint.mode = 'hang';

  // Act
  const calls = [];
  for (let i = 0; i < 5; i++) {
    calls.push(await timed(client.send(new ListTablesCommand({}))));
    await new Promise((resolve) => setTimeout(resolve, 150));
  }

  // Assess
  t.same(
    calls.map((c) => c.error),
    [null, null, null, null, null],
    'every call succeeds',
  );
  t.ok(
    calls.every((c) => c.ms < 100),
    `none waits for the refresh (${calls.map((c) => c.ms.toFixed(0)).join(', ')} ms)`,
  );
  t.ok(endpoint.requests >= 2, `while the refresh was tried (${endpoint.requests} requests)`);
});

t.test("a client built without credentials fetches them under the process's deadline", async (t) => {
  // Prepare
  const endpoint = await credentialsEndpoint(t);
  const aws = await fakeDynamoDb(t);
  const client = dynamoDbClient({ endpoint: aws.url });
  t.teardown(() => client.destroy());

  // Act
  const hung = await timed(client.send(new ListTablesCommand({})));

  // Assess
  t.match(hung.error, { code: 'CREDENTIALS_TIMEOUT', message: /did not answer within 5000 ms/ });
  t.ok(hung.ms < 7_000, `failed after ${hung.ms.toFixed(0)} ms`);
  t.ok(endpoint.requests >= 1, `the endpoint was asked (${endpoint.requests} requests)`);
  t.same(aws.keys, [], 'nothing was sent unsigned');
});
