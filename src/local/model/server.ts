// A local model server on one port that speaks both SageMaker runtime's InvokeEndpoint (what the AWS
// SDK calls) and the SageMaker container contract (`GET /ping`, `POST /invocations`), with faults on demand.

import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { runContainer, type ContainerReply, type ContainerRequest } from './container.js';
import { ModelServerError } from './errors.js';
import { FaultPlan, parseFaults, type FaultConfig, type FaultKind } from './faults.js';
import { readBody } from './http-body.js';
import { seededRandom } from '../random.js';
import { modelError, sageMakerError, signedRegion, type EndpointContext, type SageMakerErrorReply } from './sagemaker-errors.js';
import { emptyStats, snapshotStats, type ModelServerStats } from './stats.js';
import type { Backend } from './types.js';
import type { DetectorOptions } from './backends/detector.js';

/** InvokeEndpoint's payload limit: 6 MB. */
export const MAX_PAYLOAD_BYTES = 6 * 1024 * 1024;

export interface ModelServerOptions {
  /** Default 0: any free port (read it back from `url`). */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /**
   * A built-in backend by name, a Backend object (the caller keeps ownership), or a factory whose
   * Backend the server owns: loaded while the server may already listen, closed with the server.
   */
  backend: 'detector' | 'fixed' | Backend | (() => Promise<Backend>);
  /** Delay of each `fixed` answer, ms. */
  fixedLatencyMs?: number;
  /** Size each `fixed` answer is padded to, bytes. */
  fixedAnswerBytes?: number;
  detector?: DetectorOptions;
  /** Rates, or a spec such as `500=0.2,hang=0.05,latency=0.1:2000`. */
  faults?: FaultConfig | string;
  /** Seeds the fault draws; default a random seed. */
  seed?: number;
  /** Endpoint names that exist; default any name. Others get SageMaker's "not found" ValidationError. */
  endpointName?: string | readonly string[];
  /** For SageMaker's messages and ARNs; default 123456789012. */
  accountId?: string;
  /** Sent back in x-Amzn-Invoked-Production-Variant; default AllTraffic. */
  variantName?: string;
  /**
   * Default true: `create` resolves once the model is loaded. With false the server listens at once,
   * `/ping` answers 503 and invocations ModelNotReadyException until it is.
   */
  waitForModel?: boolean;
}

const INVOKE_PATH = /^\/endpoints\/([^/]+)\/invocations$/;

export class ModelServer implements AsyncDisposable {
  readonly #server: Server;
  readonly #faults: FaultPlan;
  readonly #endpoints: ReadonlySet<string> | null;
  readonly #accountId: string;
  readonly #variantName: string;
  #backend: Backend | null = null;
  #ownsBackend = false;
  #loadError: Error | null = null;
  #loading: Promise<void> = Promise.resolve();
  #stats = emptyStats();
  readonly #inFlight = new Set<AbortController>();
  #closed: Promise<void> | null = null;

  private constructor(server: Server, faults: FaultPlan, options: ModelServerOptions) {
    this.#server = server;
    this.#faults = faults;
    const names = options.endpointName;
    this.#endpoints = names === undefined ? null : new Set(typeof names === 'string' ? [names] : names);
    this.#accountId = options.accountId ?? '123456789012';
    this.#variantName = options.variantName ?? 'AllTraffic';
  }

  static async create(options: ModelServerOptions): Promise<ModelServer> {
    const faults = new FaultPlan(toFaultConfig(options.faults ?? {}), seededRandom(options.seed ?? Math.floor(Math.random() * 2 ** 32)));
    const server = createServer();
    const model = new ModelServer(server, faults, options);
    server.on('request', (request, response) => void model.#handle(request, response));
    model.#loading = model.#load(options);
    if (options.waitForModel ?? true) {
      await model.#loading;
      if (model.#loadError) throw model.#loadError;
    }
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    }).catch(async (error: unknown) => {
      await model.#releaseBackend();
      throw new ModelServerError('BAD_SERVER_OPTIONS', `cannot listen on ${options.host ?? '127.0.0.1'}:${options.port ?? 0}: ${(error as Error).message}`, { cause: error });
    });
    return model;
  }

  /** `http://host:port`, to give the SDK as `endpoint` or to fetch /ping and /invocations from. */
  get url(): string {
    const { address, port } = this.#server.address() as AddressInfo;
    return `http://${address.includes(':') ? `[${address}]` : address}:${port}`;
  }

  get backend(): Backend | null {
    return this.#backend;
  }

  /** Resolves when the model is loaded (rejects if it failed to); at once with `waitForModel`. */
  async whenReady(): Promise<void> {
    await this.#loading;
    if (this.#loadError) throw this.#loadError;
  }

  get stats(): ModelServerStats {
    return snapshotStats(this.#stats);
  }

  resetStats(): void {
    const inFlight = this.#stats.inFlight;
    this.#stats = emptyStats();
    this.#stats.inFlight = inFlight;
  }

  get faults(): FaultConfig {
    return this.#faults.config;
  }

  /** Replaces the fault rates for the invocations that arrive from now on. */
  setFaults(faults: FaultConfig | string): void {
    this.#faults.config = toFaultConfig(faults);
  }

  /** Stops listening, abandons hung and running requests (their connections are cut), releases a model it loaded. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
      for (const controller of this.#inFlight) controller.abort(new ModelServerError('SERVER_CLOSED', 'the model server is closing'));
      this.#server.closeAllConnections();
      await closed;
      await this.#loading;
      await this.#releaseBackend();
    })();
    return this.#closed;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #load(options: ModelServerOptions): Promise<void> {
    try {
      if (typeof options.backend === 'object') {
        this.#backend = options.backend;
        return;
      }
      this.#ownsBackend = true;
      if (typeof options.backend === 'function') {
        this.#backend = await options.backend();
      } else if (options.backend === 'fixed') {
        const { FixedBackend } = await import('./backends/fixed.js');
        this.#backend = await FixedBackend.create({ latencyMs: options.fixedLatencyMs ?? 0, answerBytes: options.fixedAnswerBytes });
      } else if (options.backend === 'detector') {
        // Loaded on demand so that a fixed-backend server never pulls in TensorFlow.js.
        const { DetectorBackend } = await import('./backends/detector.js');
        this.#backend = await DetectorBackend.create(options.detector);
      } else {
        throw new ModelServerError('BAD_SERVER_OPTIONS', `unknown backend "${String(options.backend)}": use detector, fixed, or a Backend object`);
      }
    } catch (error) {
      this.#loadError =
        error instanceof ModelServerError ? error : new ModelServerError('BACKEND_LOAD_FAILED', `loading the ${String(options.backend)} backend: ${(error as Error).message}`, { cause: error });
    }
  }

  async #releaseBackend(): Promise<void> {
    if (this.#ownsBackend && this.#backend) await this.#backend.close?.();
    this.#backend = null;
  }

  async #handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    this.#stats.requests++;
    const requestId = randomUUID();
    response.setHeader('x-amzn-RequestId', requestId);
    const path = (request.url ?? '/').split('?')[0]!;
    try {
      if (path === '/ping' && (request.method === 'GET' || request.method === 'HEAD')) {
        this.#stats.pings++;
        request.resume();
        response.writeHead(this.#backend ? 200 : 503).end();
        return;
      }
      const invoke = request.method === 'POST' ? INVOKE_PATH.exec(path) : null;
      if (invoke || (request.method === 'POST' && path === '/invocations')) {
        const endpointName = invoke ? safeDecode(invoke[1]!) : null;
        await this.#invocation(request, response, endpointName, requestId);
        return;
      }
      request.resume();
      sendError(response, sageMakerError('UnknownOperationException', `no operation at ${request.method} ${path}`));
    } catch (error) {
      if (!response.headersSent && !response.destroyed) sendError(response, sageMakerError('InternalFailure', (error as Error).message));
      else response.destroy();
    }
  }

  /** `endpointName` null: the container path. */
  async #invocation(request: IncomingMessage, response: ServerResponse, endpointName: string | null, requestId: string): Promise<void> {
    const controller = new AbortController();
    this.#inFlight.add(controller);
    this.#stats.invocations++;
    this.#stats.inFlight++;
    response.once('close', () => {
      if (!response.writableFinished) controller.abort(new Error('the client went away'));
      this.#inFlight.delete(controller);
      this.#stats.inFlight--;
    });
    const { signal } = controller;

    const { body, bytes } = await readBody(request, endpointName === null ? Number.MAX_SAFE_INTEGER : MAX_PAYLOAD_BYTES);
    const where: EndpointContext = {
      endpointName: endpointName ?? '',
      accountId: this.#accountId,
      region: signedRegion(request.headers.authorization) ?? 'us-east-1',
    };

    if (endpointName !== null) {
      const refusal = this.#validate(where, body, bytes, requestId);
      if (refusal) {
        this.#stats.rejected++;
        sendError(response, refusal);
        return;
      }
    }
    const backend = this.#backend;
    if (!backend) {
      this.#stats.rejected++;
      if (endpointName === null) sendJson(response, 503, { message: 'the model is not loaded yet' });
      else sendError(response, sageMakerError('ModelNotReadyException', `Model for endpoint ${endpointName} is not ready yet. Retry the request.`));
      return;
    }

    const fault = this.#faults.next();
    if (fault) this.#stats.faults[fault]++;
    if (fault && fault !== 'latency' && fault !== 'hang' && fault !== 'malformed') {
      if (endpointName === null) sendJson(response, CONTAINER_FAULT_STATUS[fault], { message: `injected fault ${fault}` });
      else sendError(response, runtimeFault(fault, where));
      return;
    }
    if (fault === 'hang') {
      // Never answers: the request ends when the client gives up or the server closes.
      if (!signal.aborted) await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
      return;
    }
    if (fault === 'latency') {
      try {
        await sleep(this.#faults.latencyMs, undefined, { signal });
      } catch {
        return;
      }
    }

    const containerRequest: ContainerRequest = {
      body: body!,
      contentType: request.headers['content-type'],
      accept: request.headers.accept,
      customAttributes: header(request, 'x-amzn-sagemaker-custom-attributes'),
      signal,
    };
    const started = performance.now();
    const reply = await runContainer(backend, containerRequest);
    const elapsed = performance.now() - started;
    const stats = this.#stats.backend;
    stats.calls++;
    stats.totalMs += elapsed;
    stats.maxMs = Math.max(stats.maxMs, elapsed);
    if (signal.aborted || response.destroyed) return;

    if (fault === 'malformed') {
      // Half of whatever the container said, as a 200: a prefix of a JSON document never parses.
      const whole = Buffer.from(reply.body);
      this.#sendReply(response, { status: 200, contentType: reply.contentType, body: whole.subarray(0, Math.floor(whole.length / 2)) }, endpointName !== null);
      return;
    }
    if (reply.status !== 200) {
      this.#stats.modelErrors++;
      if (endpointName === null) this.#sendReply(response, reply, false);
      else sendError(response, modelError(where, reply.status, String(reply.body)));
      return;
    }
    this.#stats.answered++;
    this.#sendReply(response, reply, endpointName !== null);
  }

  /** SageMaker's own checks, before anything reaches the model. */
  #validate(where: EndpointContext, body: Buffer | null, bytes: number, requestId: string): SageMakerErrorReply | null {
    if (this.#endpoints && !this.#endpoints.has(where.endpointName)) {
      return sageMakerError('ValidationError', `Endpoint ${where.endpointName} of account ${where.accountId} not found.`);
    }
    if (body === null) return sageMakerError('ValidationError', `Request ${requestId} has oversize body.`);
    if (bytes === 0) return sageMakerError('ValidationError', "1 validation error detected: Value at 'body' failed to satisfy constraint: Member must not be null");
    return null;
  }

  #sendReply(response: ServerResponse, reply: ContainerReply, viaRuntime: boolean): void {
    const headers: Record<string, string> = { 'Content-Type': reply.contentType };
    if (viaRuntime) headers['x-Amzn-Invoked-Production-Variant'] = this.#variantName;
    if (reply.customAttributes !== undefined) headers['X-Amzn-SageMaker-Custom-Attributes'] = reply.customAttributes;
    response.writeHead(reply.status, headers).end(reply.body);
  }
}

/** How each injected status fault reaches an SDK caller. */
function runtimeFault(fault: Exclude<FaultKind, 'latency' | 'hang' | 'malformed'>, where: EndpointContext): SageMakerErrorReply {
  switch (fault) {
    case '500':
      return sageMakerError('InternalFailure', 'An internal error occurred. Try your request again.');
    case '503':
      return sageMakerError('ServiceUnavailable', 'The service is unavailable. Try your request again.');
    case '424':
      return modelError(where, 500, JSON.stringify({ code: 500, type: 'InternalServerException', message: 'the model failed (injected)' }));
    case '429':
      return sageMakerError('ModelNotReadyException', `Model for endpoint ${where.endpointName} is not ready yet. Retry the request.`);
    case 'throttle':
      return sageMakerError('ThrottlingException', 'Rate exceeded');
  }
}

/** On /invocations a status fault is the container answering that status (throttling as 429). */
const CONTAINER_FAULT_STATUS: Record<Exclude<FaultKind, 'latency' | 'hang' | 'malformed'>, number> = {
  '500': 500,
  '503': 503,
  '424': 424,
  '429': 429,
  throttle: 429,
};

function sendError(response: ServerResponse, error: SageMakerErrorReply): void {
  response.setHeader('x-amzn-ErrorType', error.name);
  sendJson(response, error.status, error.body);
}

function sendJson(response: ServerResponse, status: number, body: object): void {
  if (response.destroyed) return;
  response.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
}

function header(request: IncomingMessage, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

function toFaultConfig(faults: FaultConfig | string): FaultConfig {
  return typeof faults === 'string' ? parseFaults(faults) : faults;
}
