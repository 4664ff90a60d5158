// The fault proxy in front of a tiny upstream (a TCP echo server that also answers HTTP): each mode
// does what it says to connections opened before and after it is set, and a window restores `pass`.

import { once } from 'node:events';
import { Agent, request } from 'node:http';
import { type AddressInfo, createConnection, createServer, type Server, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import t, { type Test } from 'tap';
import { blackhole, cut, FaultProxy, httpError, latency, pass, reset } from './fault-proxy.js';

/** Echoes every byte back, except that a chunk holding an HTTP request head gets a small 200 answer (keep-alive). */
class Upstream {
  readonly server: Server;
  received = 0;
  requests = 0;
  readonly sockets = new Set<Socket>();

  private constructor(server: Server) {
    this.server = server;
  }

  static async start(): Promise<Upstream> {
    const server = createServer();
    const upstream = new Upstream(server);
    server.on('connection', (socket) => {
      upstream.sockets.add(socket);
      socket.on('close', () => upstream.sockets.delete(socket));
      socket.on('error', () => undefined);
      socket.on('data', (chunk: Buffer) => {
        upstream.received += chunk.length;
        if (chunk.includes('HTTP/1.1\r\n')) {
          upstream.requests++;
          socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: keep-alive\r\n\r\nok');
        } else {
          socket.write(chunk);
        }
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return upstream;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Sends `bytes` to every connected client, unasked. */
  push(bytes: Buffer): void {
    for (const socket of this.sockets) socket.write(bytes);
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

/** A client connection through the proxy, recording what it receives and how it ended. */
class Client {
  readonly socket: Socket;
  data = Buffer.alloc(0);
  error: string | null = null;
  closed = false;

  constructor(proxy: FaultProxy) {
    const { port } = new URL(proxy.url);
    this.socket = createConnection({ host: '127.0.0.1', port: Number(port) });
    this.socket.on('data', (chunk: Buffer) => (this.data = Buffer.concat([this.data, chunk])));
    this.socket.on('error', (error: NodeJS.ErrnoException) => (this.error = error.code ?? error.message));
    this.socket.on('close', () => (this.closed = true));
  }

  async connected(): Promise<this> {
    if (this.socket.connecting) await once(this.socket, 'connect');
    return this;
  }

  get text(): string {
    return this.data.toString();
  }
}

async function until(what: string, check: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(10);
  }
}

interface Answer {
  status: number;
  body: string;
  /** x-amzn-ErrorType */
  header: string | undefined;
  connection: string | undefined;
  /** The local port of the socket used: tells connections apart. */
  port: number;
}

async function get(proxy: FaultProxy, agent: Agent): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(`${proxy.url}/x`, { agent }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => {
        const header = res.headers['x-amzn-errortype'] as string | undefined;
        resolve({
          status: res.statusCode!,
          body,
          header,
          connection: res.headers.connection,
          port: req.socket!.localPort!,
        });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

async function setup(t: Test): Promise<{ upstream: Upstream; proxy: FaultProxy }> {
  const upstream = await Upstream.start();
  const proxy = await FaultProxy.start(upstream.url);
  t.teardown(async () => {
    await proxy.close();
    await upstream.close();
  });
  return { upstream, proxy };
}

t.test('pass forwards both ways, byte for byte', async (t) => {
  // Prepare
  const { upstream, proxy } = await setup(t);
  const client = await new Client(proxy).connected();
  const payload = Buffer.alloc(300_000, 7);

  // Act
  client.socket.write(payload);
  await until('the echo', () => client.data.length === payload.length);

  // Assess
  t.ok(client.data.equals(payload), 'the echo equals what was sent');
  t.equal(upstream.received, payload.length, 'the upstream received every byte');
  t.equal(proxy.stats.bytesUp, payload.length, 'bytes up counted');
  t.equal(proxy.stats.bytesDown, payload.length, 'bytes down counted');
});

t.test('latency delays each direction and keeps the order of chunks', async (t) => {
  // Prepare
  const { proxy } = await setup(t);
  const client = await new Client(proxy).connected();
  proxy.set(latency(300));

  // Act
  const sent = Date.now();
  for (const text of ['a', 'b', 'c']) {
    client.socket.write(text);
    await sleep(20);
  }
  await until('the echo', () => client.text === 'abc');
  const roundTrip = Date.now() - sent;
  proxy.set(pass());
  const fastSent = Date.now();
  client.socket.write('d');
  await until('the echo after pass', () => client.text === 'abcd');

  // Assess
  t.ok(roundTrip >= 600, `a round trip took ${roundTrip} ms: 300 ms each way`);
  t.ok(roundTrip < 2000, `and not much more (${roundTrip} ms)`);
  t.equal(client.text, 'abcd', 'chunks arrive in the order sent');
  t.ok(Date.now() - fastSent < 300, 'back in pass, no delay');
});

t.test('blackhole: accepts, forwards nothing either way, and connections open during it stay dead', async (t) => {
  // Prepare
  const { upstream, proxy } = await setup(t);
  const before = await new Client(proxy).connected();
  before.socket.write('x');
  await until('the first echo', () => before.text === 'x');
  const received = upstream.received;

  // Act
  proxy.set(blackhole());
  const during = await new Client(proxy).connected();
  before.socket.write('y');
  during.socket.write('z');
  upstream.push(Buffer.from('pushed'));
  await sleep(500);
  const receivedDuring = upstream.received - received;
  const upstreamSockets = upstream.sockets.size;
  proxy.set(pass());
  const after = await new Client(proxy).connected();
  after.socket.write('w');
  before.socket.write('v');
  await until('the echo on a new connection', () => after.text === 'w');
  await sleep(300);

  // Assess
  t.equal(receivedDuring, 0, 'the upstream received nothing during the black hole');
  t.equal(upstreamSockets, 1, 'a connection made during the black hole never reached the upstream');
  t.equal(
    before.text,
    'x',
    'the connection open before got nothing back, neither the echo nor the pushed bytes, during or after',
  );
  t.equal(during.text, '', 'the connection made during got nothing');
  t.notOk(before.closed || during.closed, 'both stay open, as a partition leaves them');
  t.equal(after.text, 'w', 'a connection made after the black hole works');
});

t.test('reset: open connections are reset, new ones at once; pass restores service', async (t) => {
  // Prepare
  const { proxy } = await setup(t);
  const before = await new Client(proxy).connected();
  before.socket.write('x');
  await until('the first echo', () => before.text === 'x');

  // Act
  proxy.set(reset());
  await until('the open connection closed', () => before.closed);
  const during = new Client(proxy);
  await until('the new connection closed', () => during.closed);
  proxy.set(pass());
  const after = await new Client(proxy).connected();
  after.socket.write('w');
  await until('the echo after', () => after.text === 'w');

  // Assess
  t.equal(before.error, 'ECONNRESET', 'the open connection saw a reset');
  t.equal(during.error, 'ECONNRESET', 'a new connection is reset at once');
  t.equal(during.text, '', 'and got nothing');
  t.ok(proxy.stats.resets >= 2, `${proxy.stats.resets} resets counted`);
});

t.test('cut: a connection gets half of the next chunk from the upstream, then a reset', async (t) => {
  // Prepare
  const { upstream, proxy } = await setup(t);
  const client = await new Client(proxy).connected();
  client.socket.write('x');
  await until('the first echo', () => client.text === 'x');

  // Act
  proxy.set(cut());
  upstream.push(Buffer.alloc(1000, 1));
  await until('the connection closed', () => client.closed);

  // Assess
  t.equal(client.data.length, 1 + 500, 'half of the 1000-byte chunk arrived');
  t.equal(client.error, 'ECONNRESET', 'then a reset');
});

t.test(
  'error: an HTTP answer with Connection: close to each new request; keep-alive connections reset when set',
  async (t) => {
    // Prepare
    const { upstream, proxy } = await setup(t);
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    t.teardown(() => agent.destroy());
    const first = await get(proxy, agent);
    const pooled = [...Object.values(agent.freeSockets)].flat()[0]!;
    const pooledClosed = new Promise((resolve) => pooled.once('close', resolve));

    // Act
    proxy.set(
      httpError(503, '{"message":"slow down"}', {
        'x-amzn-ErrorType': 'ServiceUnavailableException',
        'content-type': 'application/json',
      }),
    );
    await pooledClosed;
    const requestsBefore = upstream.requests;
    const failed = await get(proxy, agent);
    const failedAgain = await get(proxy, agent);
    const requestsDuring = upstream.requests - requestsBefore;
    proxy.set(pass());
    const healed = await get(proxy, agent);

    // Assess
    t.same([first.status, first.body], [200, 'ok'], 'in pass the upstream answers');
    t.same(
      [failed.status, failed.body, failed.header],
      [503, '{"message":"slow down"}', 'ServiceUnavailableException'],
      'the canned answer, headers and body',
    );
    t.equal(failed.connection, 'close', 'with Connection: close');
    t.not(failed.port, failedAgain.port, 'so each request came on a new connection');
    t.equal(requestsDuring, 0, 'no request reached the upstream meanwhile');
    t.equal(proxy.stats.answered, 2, 'two answers counted');
    t.same([healed.status, healed.body], [200, 'ok'], 'back in pass, the upstream answers again');
  },
);

t.test('window: the mode for that long, then pass', async (t) => {
  // Prepare
  const { proxy } = await setup(t);

  // Act
  const window = proxy.window(reset(), 300);
  const inside = proxy.mode.kind;
  const { start, end } = await window;

  // Assess
  t.equal(inside, 'reset', 'the mode holds during the window');
  t.equal(proxy.mode.kind, 'pass', 'and is pass after it');
  t.ok(end - start >= 300 && end - start < 1000, `the window lasted ${end - start} ms`);
});

t.test("rewriteDown: each connection's bytes from the upstream rewritten in place by its own rewriter", async (t) => {
  // Prepare
  const { upstream, proxy } = await setup(t);
  const before = await new Client(proxy).connected();
  let made = 0;

  // Act
  proxy.rewriteDown(() => {
    const mine = ++made;
    return (chunk) => chunk.fill(48 + mine, 0, 1);
  });
  const after = await new Client(proxy).connected();
  await until('the upstream sees both', () => upstream.sockets.size === 2);
  upstream.push(Buffer.from('xyz'));
  await until('both received', () => before.text.length === 3 && after.text.length === 3);
  proxy.rewriteDown(null);
  before.socket.write('abc');
  await until('the echo', () => before.text.length === 6);

  // Assess
  t.equal(made, 2, 'one rewriter per connection, open or new');
  t.same(
    [before.text.slice(0, 3), after.text].sort(),
    ['1yz', '2yz'],
    'each rewrote the first byte with its own number',
  );
  t.equal(before.text.slice(3), 'abc', 'without a rewriter, bytes pass untouched');
});
