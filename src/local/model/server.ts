// A local model server on one port that speaks both SageMaker runtime's InvokeEndpoint (what the AWS
// SDK calls) and the SageMaker container contract (`GET /ping`, `POST /invocations`), with faults on demand.
// The model is a backend in this process or your own container, reached by URL as SageMaker reaches it.

import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { seededRandom } from '../random.js';
import type { DetectorOptions } from './backends/detector.js';
import { type ContainerReply, type ContainerRequest, runContainer } from './container.js';
import { ModelServerError } from './errors.js';
import { type FaultConfig, type FaultKind, FaultPlan, parseFaults } from './faults.js';
import { readBody } from './http-body.js';
import { checkInvoke, type EndpointSetup, MAX_PAYLOAD_BYTES } from './invoke-checks.js';
import { RemoteContainer } from './remote-container.js';
import {
  type EndpointContext,
  invocationTimedOut,
  modelError,
  type SageMakerErrorReply,
  sageMakerError,
  signedRegion,
} from './sagemaker-errors.js';
import { emptyStats, type ModelServerStats, snapshotStats } from './stats.js';
import type { Backend } from './types.js';

/** How long SageMaker waits for a container's answer before its ModelError: 60 s. */
export const INVOCATION_TIMEOUT_MS = 60_000;

export interface ModelServerOptions {
  /** Default 0: any free port (read it back from `url`). */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /**
   * A built-in backend by name; the URL of your own model container (`http://127.0.0.1:8080`), its `/ping`
   * checked at start and each invocation forwarded to its `/invocations`; a Backend object (the caller keeps
   * ownership); or a factory whose Backend the server owns: loaded while the server may already listen, closed with it.
   */
  backend: 'detector' | 'fixed' | URL | Backend | (() => Promise<Backend>);
  /**
   * Default INVOCATION_TIMEOUT_MS (60 s, as on AWS): on InvokeEndpoint, a container still silent after this
   * is answered SageMaker's ModelError (a `hang` fault too). Tests set it short.
   */
  invocationTimeoutMs?: number;
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

/** One invocation of whichever container the server fronts. */
type Invoke = (request: ContainerRequest) => Promise<ContainerReply>;

/** How the container's part of an invocation ended. */
type CallOutcome =
  | { kind: 'reply'; reply: ContainerReply }
  | { kind: 'timedOut'; message: string }
  | { kind: 'unreachable'; message: string }
  | { kind: 'aborted' };

const TIMED_OUT = Symbol('invocation timeout');

export class ModelServer implements AsyncDisposable {
  readonly #server: Server;
  readonly #faults: FaultPlan;
  readonly #setup: EndpointSetup;
  readonly #accountId: string;
  readonly #invocationTimeoutMs: number;
  #backend: Backend | null = null;
  #ownsBackend = false;
  #remote: RemoteContainer | null = null;
  /** Set once the model is loaded or the container answered its ping. */
  #invoke: Invoke | null = null;
  #loadError: Error | null = null;
  #loading: Promise<void> = Promise.resolve();
  #stats = emptyStats();
  readonly #inFlight = new Set<AbortController>();
  #closed: Promise<void> | null = null;

  private constructor(server: Server, faults: FaultPlan, options: ModelServerOptions) {
    this.#server = server;
    this.#faults = faults;
    const names = options.endpointName;
    this.#setup = {
      endpoints: names === undefined ? null : new Set(typeof names === 'string' ? [names] : names),
      variantName: options.variantName ?? 'AllTraffic',
    };
    this.#accountId = options.accountId ?? '123456789012';
    this.#invocationTimeoutMs = options.invocationTimeoutMs ?? INVOCATION_TIMEOUT_MS;
  }

  static async create(options: ModelServerOptions): Promise<ModelServer> {
    const timeout = options.invocationTimeoutMs;
    if (timeout !== undefined && !(Number.isInteger(timeout) && timeout > 0)) {
      throw new ModelServerError(
        'BAD_SERVER_OPTIONS',
        `invocationTimeoutMs must be a positive integer of ms, got ${timeout}`,
      );
    }
    const faults = new FaultPlan(
      toFaultConfig(options.faults ?? {}),
      seededRandom(options.seed ?? Math.floor(Math.random() * 2 ** 32)),
    );
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
      throw new ModelServerError(
        'BAD_SERVER_OPTIONS',
        `cannot listen on ${options.host ?? '127.0.0.1'}:${options.port ?? 0}: ${(error as Error).message}`,
        { cause: error },
      );
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
      for (const controller of this.#inFlight)
        controller.abort(new ModelServerError('SERVER_CLOSED', 'the model server is closing'));
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
      if (options.backend instanceof URL) {
        const remote = await RemoteContainer.connect(options.backend, {
          invocationTimeoutMs: this.#invocationTimeoutMs,
        });
        this.#remote = remote;
        this.#invoke = (request) => remote.invoke(request);
        return;
      }
      const backend = await this.#loadBackend(options.backend, options);
      this.#backend = backend;
      this.#invoke = (request) => runContainer(backend, request);
    } catch (error) {
      this.#loadError =
        error instanceof ModelServerError
          ? error
          : new ModelServerError(
              'BACKEND_LOAD_FAILED',
              `loading the ${String(options.backend)} backend: ${(error as Error).message}`,
              { cause: error },
            );
    }
  }

  /** The in-process backend the options name; the server owns it unless it was handed over as an object. */
  async #loadBackend(
    backend: Exclude<ModelServerOptions['backend'], URL>,
    options: ModelServerOptions,
  ): Promise<Backend> {
    if (typeof backend === 'object') return backend;
    this.#ownsBackend = true;
    if (typeof backend === 'function') return backend();
    if (backend === 'fixed') {
      const { FixedBackend } = await import('./backends/fixed.js');
      return FixedBackend.create({ latencyMs: options.fixedLatencyMs ?? 0, answerBytes: options.fixedAnswerBytes });
    }
    if (backend === 'detector') {
      // Loaded on demand so that a fixed-backend server never pulls in TensorFlow.js.
      const { DetectorBackend } = await import('./backends/detector.js');
      return DetectorBackend.create(options.detector);
    }
    throw new ModelServerError(
      'BAD_SERVER_OPTIONS',
      `unknown backend "${String(backend)}": use detector, fixed, a container URL, or a Backend object`,
    );
  }

  async #releaseBackend(): Promise<void> {
    this.#invoke = null;
    this.#remote?.close();
    this.#remote = null;
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
        response.writeHead(this.#invoke ? 200 : 503).end();
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
      if (!response.headersSent && !response.destroyed)
        sendError(response, sageMakerError('InternalFailure', (error as Error).message));
      else response.destroy();
    }
  }

  /** `endpointName` null: the container path. */
  async #invocation(
    request: IncomingMessage,
    response: ServerResponse,
    endpointName: string | null,
    requestId: string,
  ): Promise<void> {
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

    const { body, bytes } = await readBody(
      request,
      endpointName === null ? Number.MAX_SAFE_INTEGER : MAX_PAYLOAD_BYTES,
    );
    const where: EndpointContext = {
      endpointName: endpointName ?? '',
      accountId: this.#accountId,
      region: signedRegion(request.headers.authorization) ?? 'us-east-1',
    };
    const viaRuntime = endpointName !== null;
    const customAttributes = header(request, 'x-amzn-sagemaker-custom-attributes');

    if (viaRuntime) {
      const targetVariant = header(request, 'x-amzn-sagemaker-target-variant');
      const refusal = checkInvoke({ where, customAttributes, targetVariant, body, bytes, requestId }, this.#setup);
      if (refusal) {
        this.#stats.rejected++;
        sendError(response, refusal);
        return;
      }
    }
    const invoke = this.#invoke;
    if (!invoke) {
      this.#stats.rejected++;
      if (!viaRuntime) sendJson(response, 503, { message: 'the model is not loaded yet' });
      else
        sendError(
          response,
          sageMakerError(
            'ModelNotReadyException',
            `Model for endpoint ${endpointName} is not ready yet. Retry the request.`,
          ),
        );
      return;
    }

    const fault = this.#faults.next();
    if (fault) this.#stats.faults[fault]++;
    if (fault && isStatusFault(fault)) {
      if (!viaRuntime) sendJson(response, CONTAINER_FAULT_STATUS[fault], { message: `injected fault ${fault}` });
      else sendError(response, runtimeFault(fault, where));
      return;
    }
    // The container itself has no deadline: on its own path a hang is never answered either.
    if (fault === 'blackhole' || (fault === 'hang' && !viaRuntime)) {
      if (!signal.aborted) await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
      return;
    }

    const contentType = request.headers['content-type'];
    const containerRequest: ContainerRequest = {
      body: body!,
      contentType,
      accept: request.headers.accept,
      customAttributes,
      signal,
    };
    const outcome = await this.#callContainer(
      invoke,
      containerRequest,
      fault,
      viaRuntime ? this.#invocationTimeoutMs : null,
    );
    if (outcome.kind === 'aborted' || signal.aborted || response.destroyed) return;
    if (outcome.kind === 'timedOut') {
      this.#stats.timedOut++;
      if (viaRuntime) sendError(response, invocationTimedOut(where));
      else sendJson(response, 504, { message: outcome.message });
      return;
    }
    if (outcome.kind === 'unreachable') {
      this.#stats.modelErrors++;
      if (viaRuntime) sendError(response, modelError(where, 0, outcome.message));
      else sendJson(response, 502, { message: outcome.message });
      return;
    }

    const { reply } = outcome;
    if (fault === 'malformed') {
      // Half of whatever the container said, as a 200: a prefix of a JSON document never parses.
      const whole = Buffer.from(reply.body);
      this.#sendReply(
        response,
        { status: 200, contentType: reply.contentType, body: whole.subarray(0, Math.floor(whole.length / 2)) },
        viaRuntime,
      );
      return;
    }
    if (reply.status < 200 || reply.status > 299) {
      this.#stats.modelErrors++;
      if (!viaRuntime) this.#sendReply(response, reply, false);
      else sendError(response, modelError(where, reply.status, text(reply.body)));
      return;
    }
    this.#stats.answered++;
    // SageMaker answers any 2xx of the container with its own 200.
    this.#sendReply(response, viaRuntime ? { ...reply, status: 200 } : reply, viaRuntime);
  }

  /**
   * The container's part of an invocation: a drawn latency spike or hang, then the container. With a timeout
   * (SageMaker's path) it is cut there, as SageMaker cuts it, whether or not the backend heeds its signal.
   */
  async #callContainer(
    invoke: Invoke,
    request: ContainerRequest,
    fault: FaultKind | null,
    timeoutMs: number | null,
  ): Promise<CallOutcome> {
    if (request.signal.aborted) return { kind: 'aborted' };
    const step = new AbortController();
    const stop = () => step.abort(request.signal.reason);
    request.signal.addEventListener('abort', stop, { once: true });
    const timer = timeoutMs === null ? undefined : setTimeout(() => step.abort(TIMED_OUT), timeoutMs);
    const aborted = new Promise<never>((_, reject) =>
      step.signal.addEventListener('abort', () => reject(step.signal.reason), { once: true }),
    );
    aborted.catch(() => undefined);
    const work = (async () => {
      if (fault === 'hang') await aborted;
      if (fault === 'latency') await sleep(this.#faults.latencyMs, undefined, { signal: step.signal });
      const started = performance.now();
      const reply = await invoke({ ...request, signal: step.signal });
      const elapsed = performance.now() - started;
      const stats = this.#stats.backend;
      stats.calls++;
      stats.totalMs += elapsed;
      stats.maxMs = Math.max(stats.maxMs, elapsed);
      return reply;
    })();
    // Settled either way once the race is decided; its late failure is nobody's business.
    work.catch(() => undefined);
    try {
      return { kind: 'reply', reply: await Promise.race([work, aborted]) };
    } catch (error) {
      if (step.signal.reason === TIMED_OUT) return { kind: 'timedOut', message: `no answer within ${timeoutMs} ms` };
      if (step.signal.aborted) return { kind: 'aborted' };
      if (error instanceof ModelServerError && error.code === 'CONTAINER_TIMEOUT')
        return { kind: 'timedOut', message: error.message };
      if (error instanceof ModelServerError && error.code === 'CONTAINER_UNREACHABLE')
        return { kind: 'unreachable', message: error.message };
      throw error;
    } finally {
      clearTimeout(timer);
      request.signal.removeEventListener('abort', stop);
    }
  }

  #sendReply(response: ServerResponse, reply: ContainerReply, viaRuntime: boolean): void {
    const headers: Record<string, string> = { 'Content-Type': reply.contentType };
    if (viaRuntime) headers['x-Amzn-Invoked-Production-Variant'] = this.#setup.variantName;
    if (reply.customAttributes !== undefined) headers['X-Amzn-SageMaker-Custom-Attributes'] = reply.customAttributes;
    response.writeHead(reply.status, headers).end(reply.body);
  }
}

/** The faults that are an error status at once; the others delay, withhold or spoil the answer. */
type StatusFault = Exclude<FaultKind, 'latency' | 'hang' | 'malformed' | 'blackhole'>;

const isStatusFault = (fault: FaultKind): fault is StatusFault => fault in CONTAINER_FAULT_STATUS;

/** How each injected status fault reaches an SDK caller. */
function runtimeFault(fault: StatusFault, where: EndpointContext): SageMakerErrorReply {
  switch (fault) {
    case '500':
      return sageMakerError('InternalFailure', 'An internal error occurred. Try your request again.');
    case '503':
      return sageMakerError('ServiceUnavailable', 'The service is unavailable. Try your request again.');
    case '424':
      return modelError(
        where,
        500,
        JSON.stringify({ code: 500, type: 'InternalServerException', message: 'the model failed (injected)' }),
      );
    case '429':
      return sageMakerError(
        'ModelNotReadyException',
        `Model for endpoint ${where.endpointName} is not ready yet. Retry the request.`,
      );
    case 'throttle':
      return sageMakerError('ThrottlingException', 'Rate exceeded');
  }
}

/** On /invocations a status fault is the container answering that status (throttling as 429). */
const CONTAINER_FAULT_STATUS: Record<StatusFault, number> = {
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

/** A container's error answer as SageMaker quotes it in OriginalMessage. */
const text = (body: Uint8Array | string): string =>
  typeof body === 'string' ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8');

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
