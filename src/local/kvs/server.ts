// The local Kinesis Video Streams server: one node:http listener that the real AWS SDK v3 clients
// can use as their endpoint, with methods to create streams and feed them without the API.

import { randomUUID } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type ApiCallCount, ApiLimits } from './api-limits.js';
import { archivedMediaRoutes } from './archived-media.js';
import { controlPlaneRoutes } from './control-plane.js';
import { KvsApiError, KvsInBandError } from './errors.js';
import { FileSource } from './file-source.js';
import { FragmentLog } from './fragment-log.js';
import { getMediaRoutes } from './get-media.js';
import { type JsonObject, readJsonBody, sendError, sendJson } from './http-io.js';
import { putMediaRoutes } from './put-media-route.js';
import type { ApiContext, Clock, Route } from './route.js';
import { type KvsStream, type StreamOptions, StreamRegistry } from './stream-registry.js';

export interface KvsServerOptions {
  /** Default 0: any free port. */
  port?: number;
  /** Default 127.0.0.1: the server has no authentication, so it stays off the network unless asked. */
  host?: string;
  clock?: Clock;
  /**
   * How long every stream's log keeps fragments, whatever its DataRetentionInHours. By default a stream keeps its
   * DataRetentionInHours; with 0 it archives nothing and GetMedia reads KVS's host buffer: 5 minutes, 200 MB.
   */
  retentionMs?: number;
  /**
   * Cap on the media each stream's log holds (oldest dropped first); the log's default is 512 MiB. Set it for many
   * streams.
   */
  maxLogMemoryBytes?: number;
  /** Concurrent GetMedia responses per stream beyond which KVS answers ConnectionLimitExceededException. Default 3. */
  maxGetMediaConnections?: number;
  /**
   * Answer control-plane calls beyond KVS's documented request quotas (CONTROL_PLANE_QUOTAS) with
   * ClientLimitExceededException, as KVS does. Default false: calls are only counted (`apiCalls()`).
   */
  enforceApiLimits?: boolean;
}

export interface ReplayFileOptions {
  /** Media seconds per wall-clock second, or 'max' (as fast as the event loop allows). Default 1. */
  rate?: number | 'max';
  /** Starts over at the end of the file, with timestamps moving on. Default false. */
  loop?: boolean;
  signal?: AbortSignal;
  /** Producer timestamp of the first fragment, epoch ms; default the clock at the start. */
  startProducerTimestamp?: number;
}

const systemClock: Clock = { now: () => Date.now() };

/**
 * What a stream with DataRetentionInHours 0 still holds for GetMedia: KVS's host buffer, which drops fragments after
 * 5 minutes or beyond 200 MB (CreateStream reference).
 */
const HOST_BUFFER = { retentionMs: 5 * 60 * 1000, maxBytes: 200 * 1024 * 1024 } as const;

export class KvsServer {
  readonly url: string;
  readonly registry: StreamRegistry;
  readonly #server: Server;
  readonly #routes: Map<string, Route>;
  readonly #clock: Clock;
  readonly #maxGetMediaConnections: number;
  readonly #limits: ApiLimits;
  /** Ends file replays when the server closes. */
  readonly #closing = new AbortController();
  readonly #replays = new Set<Promise<unknown>>();

  private constructor(
    server: Server,
    url: string,
    registry: StreamRegistry,
    clock: Clock,
    maxGetMediaConnections: number,
    limits: ApiLimits,
  ) {
    this.#server = server;
    this.url = url;
    this.registry = registry;
    this.#clock = clock;
    this.#maxGetMediaConnections = maxGetMediaConnections;
    this.#limits = limits;
    // Every replay listens to it: a stack replaying dozens of streams is expected, not a leak.
    setMaxListeners(0, this.#closing.signal);
    this.#routes = new Map(
      [...controlPlaneRoutes, ...getMediaRoutes, ...archivedMediaRoutes, ...putMediaRoutes].map((route) => [
        route.path,
        route,
      ]),
    );
  }

  static async create(options: KvsServerOptions = {}): Promise<KvsServer> {
    const clock = options.clock ?? systemClock;
    const registry = new StreamRegistry({
      clock,
      createLog: ({ retentionHours }) =>
        new FragmentLog({
          clock: () => clock.now(),
          retentionMs:
            options.retentionMs ?? (retentionHours > 0 ? retentionHours * 3_600_000 : HOST_BUFFER.retentionMs),
          maxBytes: retentionHours > 0 ? undefined : HOST_BUFFER.maxBytes,
          maxMemoryBytes: options.maxLogMemoryBytes,
        }),
    });
    // GetMedia and PutMedia bodies last as long as the stream does: no request timeout.
    const server = createServer({ requestTimeout: 0, keepAliveTimeout: 65_000 });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    const address = server.address() as AddressInfo;
    // Clients cannot be pointed at "any address": answer (and hand out as data endpoint) the loopback one.
    const ip = address.address === '0.0.0.0' ? '127.0.0.1' : address.address === '::' ? '::1' : address.address;
    const host = address.family === 'IPv6' ? `[${ip}]` : ip;
    const kvs = new KvsServer(
      server,
      `http://${host}:${address.port}`,
      registry,
      clock,
      options.maxGetMediaConnections ?? 3,
      new ApiLimits({ enforce: options.enforceApiLimits ?? false }),
    );
    server.on('request', (req: IncomingMessage, res: ServerResponse) => void kvs.#handle(req, res));
    return kvs;
  }

  /** Creates a stream as CreateStream does (ResourceInUseException when the name is taken). */
  createStream(name: string, options?: StreamOptions): KvsStream {
    return this.registry.create(name, options);
  }

  /** The log of a stream, to append fragments to or inspect; ResourceNotFoundException when there is none. */
  streamLog(name: string): FragmentLog {
    return this.registry.resolve(name, undefined).log;
  }

  /** Deletes a stream as DeleteStream does: its live GetMedia readers end. */
  deleteStream(name: string): void {
    this.registry.delete(this.registry.resolve(name, undefined));
  }

  /**
   * Injects an in-band GetMedia error, for tests: stops every live GetMedia response of a stream as KVS does on a
   * KMS or internal fault. After the fragment being sent comes a document with the error tags (`errorId`, e.g.
   * 3002 write error, 4500-4506 KMS, 5000 internal; `description` defaults to the GetMedia reference's, and is
   * required for an id it does not list), then the end of the body. Returns how many responses were stopped.
   */
  stopGetMedia(name: string, errorId: number, description?: string): number {
    const stream = this.registry.resolve(name, undefined);
    const error = new KvsInBandError(errorId, description);
    for (const reader of stream.readers) reader.abort(error);
    return stream.readers.size;
  }

  /**
   * Replays a video file (a path, or a FileSource opened once and shared by many streams) into a
   * stream's log, creating the stream when it does not exist. Settles when the replay ends: at the
   * end of the file (never when looping), on abort, when the stream is deleted or the server closes.
   */
  async replayFile(name: string, file: string | FileSource, options: ReplayFileOptions = {}): Promise<void> {
    const stream = this.registry.get(name) ?? this.registry.create(name);
    const source = typeof file === 'string' ? await FileSource.open(file) : file;
    const signal = options.signal ? AbortSignal.any([options.signal, this.#closing.signal]) : this.#closing.signal;
    const clock = this.#clock;
    const replay = source.replay(stream.log, { ...options, signal, clock: () => clock.now() });
    this.#replays.add(replay);
    try {
      await replay;
    } finally {
      this.#replays.delete(replay);
    }
  }

  /** Control-plane and media calls per operation since the server started, admitted or refused for a quota. */
  apiCalls(): Record<string, ApiCallCount> {
    return this.#limits.counts();
  }

  /** Ends every reader and replay, then every connection. */
  async close(): Promise<void> {
    this.#closing.abort();
    this.registry.close();
    await Promise.allSettled(this.#replays);
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#server.closeAllConnections();
    await closed;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const requestId = randomUUID();
    try {
      const query = req.url?.indexOf('?') ?? -1;
      const path = query >= 0 ? req.url!.slice(0, query) : (req.url ?? '/');
      const route = req.method === 'POST' ? this.#routes.get(path) : undefined;
      if (route === undefined) {
        throw new KvsApiError('UnknownOperationException', `No operation is bound to ${req.method} ${path}`);
      }
      const ctx: ApiContext = {
        registry: this.registry,
        clock: this.#clock,
        url: requestUrl(req) ?? this.url,
        requestId,
        maxGetMediaConnections: this.#maxGetMediaConnections,
      };
      switch (route.kind) {
        case 'json':
          sendJson(res, requestId, await route.handle(this.#admit(path, await readJsonBody(req)), ctx));
          break;
        case 'media':
          await route.handle(this.#admit(path, await readJsonBody(req)), ctx, res);
          break;
        case 'raw':
          await route.handle(req, res, ctx);
          break;
      }
    } catch (error) {
      // Whatever the client still sends is dropped, so the connection stays usable for its next request.
      if (!req.readableEnded) req.resume();
      sendError(res, requestId, error);
    }
  }

  /** Counts the call and applies its quota; `/listTagsForStream` is operation ListTagsForStream. */
  #admit(path: string, input: JsonObject): JsonObject {
    const operation = path.charAt(1).toUpperCase() + path.slice(2);
    const stream = input.StreamARN ?? input.StreamName;
    this.#limits.admit(operation, typeof stream === 'string' ? stream : undefined);
    return input;
  }
}

/** A host, or an IPv6 literal in brackets, and an optional port: nothing a URL could be bent with. */
const HOST_HEADER = /^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

/**
 * The base URL a request came in on, from its Host header: what GetDataEndpoint answers, so that a client that
 * reaches the server through a proxy (a test's fault proxy) sends GetMedia through it too. Null without a usable one.
 */
function requestUrl(req: IncomingMessage): string | null {
  const host = req.headers.host;
  return host !== undefined && HOST_HEADER.test(host) ? `http://${host}` : null;
}
