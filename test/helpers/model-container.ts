// A tiny model container as SageMaker runs one: `GET /ping` and `POST /invocations` on node:http, its
// answers scripted by the test, every invocation it received kept for the test to look at.

import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ContainerCall {
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/**
 * What the container does with an invocation: answer it, never answer (`silent`), or cut the connection mid-answer
 * (`cut`).
 */
export type ContainerAnswer =
  | { status?: number; contentType?: string; body?: string | Buffer; headers?: Record<string, string> }
  | 'silent'
  | 'cut';

export interface TestContainerOptions {
  /** Status of `GET /ping`, or `silent` for no answer; default 200. */
  pingStatus?: number | 'silent';
  /** Default: 200, `application/json`, `{"bytes": N, "contentType": ..., "accept": ...}`, custom attributes echoed. */
  answer?: (call: ContainerCall) => ContainerAnswer;
}

function echo(call: ContainerCall): ContainerAnswer {
  const attributes = call.headers['x-amzn-sagemaker-custom-attributes'];
  return {
    contentType: 'application/json',
    body: JSON.stringify({
      bytes: call.body.length,
      contentType: call.headers['content-type'] ?? null,
      accept: call.headers.accept ?? null,
    }),
    headers: typeof attributes === 'string' ? { 'X-Amzn-SageMaker-Custom-Attributes': attributes } : {},
  };
}

export class TestContainer {
  readonly calls: ContainerCall[] = [];
  pings = 0;
  /** Invocations whose connection went away before the container answered. */
  abandoned = 0;
  readonly #server: Server;
  /** Kept from the start: the URL outlives the server (to see a closed container refuse). */
  #url = '';

  private constructor(server: Server) {
    this.#server = server;
  }

  static async start(options: TestContainerOptions = {}): Promise<TestContainer> {
    const server = createServer();
    const container = new TestContainer(server);
    const answer = options.answer ?? echo;
    server.on('request', (request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        if (request.method === 'GET' && request.url === '/ping') {
          container.pings++;
          if (options.pingStatus !== 'silent') response.writeHead(options.pingStatus ?? 200).end();
          return;
        }
        if (request.method !== 'POST' || request.url !== '/invocations') {
          response.writeHead(404).end();
          return;
        }
        const call = { headers: request.headers, body: Buffer.concat(chunks) };
        container.calls.push(call);
        const reply = answer(call);
        if (reply === 'silent') {
          response.once('close', () => container.abandoned++);
          return;
        }
        if (reply === 'cut') {
          // Headers and half a body, then the connection drops.
          response
            .writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': '100' })
            .write('{"prediction": [');
          setImmediate(() => response.destroy());
          return;
        }
        const headers = {
          ...(reply.contentType === undefined ? {} : { 'Content-Type': reply.contentType }),
          ...reply.headers,
        };
        response.writeHead(reply.status ?? 200, headers).end(reply.body ?? '');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    container.#url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return container;
  }

  get url(): string {
    return this.#url;
  }

  /** Stops listening and drops open connections: later calls are refused, as a container that died. */
  close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#server.closeAllConnections();
    return closed;
  }
}

/** A URL on 127.0.0.1 where nothing listens (a port just freed). */
export async function deadUrl(): Promise<string> {
  const container = await TestContainer.start();
  await container.close();
  return container.url;
}
