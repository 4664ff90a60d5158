// Your own model container behind the local server, reached over HTTP as SageMaker reaches it: `GET /ping`
// once at start, then `POST /invocations` per request with Content-Type, Accept and
// X-Amzn-SageMaker-Custom-Attributes passed on, and the container's status, content type and body brought back.

import { Agent, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import type { ContainerReply, ContainerRequest } from './container.js';
import { ModelServerError } from './errors.js';

export interface RemoteContainerOptions {
  /** Deadline of each invocation, ms: past it the call is cut (CONTAINER_TIMEOUT). */
  invocationTimeoutMs: number;
  /**
   * Deadline of the ping at start, ms; default 2000: a container that has loaded its model answers its ping at once.
   */
  pingTimeoutMs?: number;
}

interface Call {
  method: 'GET' | 'POST';
  headers: Record<string, string>;
  body?: Buffer;
  timeoutMs: number;
  signal?: AbortSignal;
}

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

const CUSTOM_ATTRIBUTES = 'x-amzn-sagemaker-custom-attributes';

export class RemoteContainer {
  /** The container's base URL, `http://host:port`. */
  readonly url: string;
  readonly #invocations: URL;
  readonly #timeoutMs: number;
  // A connection per call (cheap on loopback): a kept-alive one the container closes while idle can fail the next
  // call. Its own agent, so that close() ends the calls under way.
  readonly #agent = new Agent({ keepAlive: false });

  private constructor(base: URL, options: RemoteContainerOptions) {
    this.url = base.origin;
    this.#invocations = new URL('/invocations', base);
    this.#timeoutMs = options.invocationTimeoutMs;
  }

  /** Checks `GET /ping` answers 2xx; otherwise fails with CONTAINER_PING_FAILED naming the URL and what happened. */
  static async connect(url: URL, options: RemoteContainerOptions): Promise<RemoteContainer> {
    if (url.protocol !== 'http:')
      throw new ModelServerError('BAD_SERVER_OPTIONS', `a model container is reached over http://, got ${url.href}`);
    const container = new RemoteContainer(url, options);
    const ping = new URL('/ping', url);
    const hint = 'start it first (e.g. docker run -p 8080:8080 IMAGE serve) and wait until its /ping answers 200';
    try {
      const answer = await exchange(container.#agent, ping, {
        method: 'GET',
        headers: {},
        timeoutMs: options.pingTimeoutMs ?? 2000,
      });
      if (answer.status < 200 || answer.status > 299) throw new Error(`GET ${ping.href} answered ${answer.status}`);
    } catch (error) {
      container.close();
      const message = `model container ${container.url} failed its health check: ${(error as Error).message}; ${hint}`;
      throw new ModelServerError('CONTAINER_PING_FAILED', message, { cause: error });
    }
    return container;
  }

  /**
   * The container's answer, whatever its status. Throws CONTAINER_UNREACHABLE when no answer came (refused,
   * reset, cut off), CONTAINER_TIMEOUT past the invocation deadline, and the signal's reason when it aborts.
   */
  async invoke(request: ContainerRequest): Promise<ContainerReply> {
    const headers: Record<string, string> = {};
    if (request.contentType !== undefined) headers['Content-Type'] = request.contentType;
    if (request.accept !== undefined) headers.Accept = request.accept;
    if (request.customAttributes !== undefined)
      headers['X-Amzn-SageMaker-Custom-Attributes'] = request.customAttributes;
    const call: Call = {
      method: 'POST',
      headers,
      body: request.body,
      timeoutMs: this.#timeoutMs,
      signal: request.signal,
    };
    const answer = await exchange(this.#agent, this.#invocations, call);
    const customAttributes = answer.headers[CUSTOM_ATTRIBUTES];
    return {
      status: answer.status,
      // A container that names no type sends bytes; HTTP's default for them.
      contentType: answer.headers['content-type'] ?? 'application/octet-stream',
      body: answer.body,
      ...(typeof customAttributes === 'string' && { customAttributes }),
    };
  }

  close(): void {
    this.#agent.destroy();
  }
}

/** One HTTP exchange under a deadline; the whole answer read. */
function exchange(agent: Agent, url: URL, call: Call): Promise<Answer> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const request = httpRequest(url, { method: call.method, headers: call.headers, agent });
    const finish = (outcome: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      call.signal?.removeEventListener('abort', onAbort);
      outcome();
    };
    const fail = (error: Error) =>
      finish(() => {
        request.destroy();
        reject(error);
      });
    const unreachable = (what: string) => (error?: Error) =>
      fail(
        new ModelServerError(
          'CONTAINER_UNREACHABLE',
          `${call.method} ${url.href}: ${what}${error ? `: ${error.message}` : ''}`,
          { cause: error },
        ),
      );
    const onAbort = () =>
      fail(call.signal!.reason instanceof Error ? call.signal!.reason : new Error(String(call.signal!.reason)));
    const late = () =>
      fail(
        new ModelServerError(
          'CONTAINER_TIMEOUT',
          `${call.method} ${url.href}: no whole answer within ${call.timeoutMs} ms`,
        ),
      );
    const timer = setTimeout(late, call.timeoutMs);
    request.on('error', unreachable('no answer'));
    if (call.signal?.aborted) return onAbort();
    call.signal?.addEventListener('abort', onAbort, { once: true });

    request.on('response', (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('error', unreachable('the answer broke off'));
      response.on('close', () => {
        if (!response.complete) unreachable('the answer broke off')();
      });
      response.on('end', () =>
        finish(() =>
          resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks) }),
        ),
      );
    });
    request.end(call.body);
  });
}
