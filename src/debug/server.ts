// The worker's debug HTTP server: health and readiness probes, Prometheus metrics, the worker's state
// as JSON and as server-sent events, the fleet from the lease table, and the lease inspector page, whose assets it
// serves itself (no CDN).

import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname } from 'node:path';
import type { FleetWatch } from './fleet.js';
import type { DebugSource } from './types.js';
import { ViewChanges } from './view-changes.js';

export interface DebugServerOptions {
  source: DebugSource;
  /** Prometheus text exposition of the worker's metrics, and its content type. */
  metrics: () => { body: string; contentType: string };
  /** The lease machine's diagram, drawn from its definition. */
  machineSvg: () => string;
  /** The fleet as the lease table shows it (`/debug/fleet`); without it that path is 404. */
  fleet?: Pick<FleetWatch, 'view'>;
  /** Default 0: any free port. */
  port?: number;
  /** Default 127.0.0.1: the page shows stream names and errors, so it is not served beyond the host unless asked. */
  host?: string;
}

const ASSETS = new URL('./assets/', import.meta.url);
const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};
const PAGE_FILES = new Set(['index.html', 'app.js', 'style.css']);
/**
 * Changes closer together than this reach the page as one event: a few views a second, however many leases move,
 * are what a person can follow, and keep both the worker's and the browser's cost of them small.
 */
const EVENT_COALESCE_MS = 250;
/** A comment line now and then keeps proxies from closing an idle event stream. */
const HEARTBEAT_MS = 15_000;
/**
 * What an event stream may hold unsent (beyond what the socket has taken) before its client is dropped. A client
 * that stops reading (a paused tab, a stuck proxy) would otherwise grow the worker's memory without limit, about
 * 1 MB a second with 100 leases. 1 MiB is a second or so of that on top of the socket's own buffers, which a client
 * that reads at all drains long before; one that does not costs the worker at most this much, and reconnects to a
 * whole view.
 */
export const EVENT_STREAM_MAX_UNSENT_BYTES = 1024 * 1024;

export class DebugServer {
  readonly url: string;
  readonly #server: Server;
  readonly #streams = new Set<ServerResponse>();

  private constructor(server: Server, url: string) {
    this.#server = server;
    this.url = url;
  }

  /** Bytes each open event stream holds unsent: what a client that is not reading costs the worker. */
  get unsentEventBytes(): number[] {
    return [...this.#streams].map((res) => res.writableLength);
  }

  static async start(options: DebugServerOptions): Promise<DebugServer> {
    const host = options.host ?? '127.0.0.1';
    let debug: DebugServer | undefined;
    const server = createServer((req, res) => {
      debug!.#handle(req, res, options).catch((error: Error) => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
        res.end(`debug server: ${error.message}\n`);
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, host, () => resolve());
    });
    const { port } = server.address() as AddressInfo;
    debug = new DebugServer(server, `http://${host.includes(':') ? `[${host}]` : host}:${port}`);
    return debug;
  }

  async close(): Promise<void> {
    for (const res of this.#streams) res.end();
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  async #handle(req: IncomingMessage, res: ServerResponse, options: DebugServerOptions): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://debug').pathname;
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'text/plain; charset=utf-8', 'only GET\n');
    switch (path) {
      case '/healthz': {
        const { stuck } = options.source.view();
        return sendJson(
          res,
          stuck === null ? 200 : 503,
          stuck === null ? { status: 'alive' } : { status: 'stuck', reason: stuck },
        );
      }
      case '/readyz': {
        const { notReady } = options.source.view();
        return sendJson(
          res,
          notReady === null ? 200 : 503,
          notReady === null ? { status: 'ready' } : { status: 'not ready', reason: notReady },
        );
      }
      case '/metrics': {
        const { body, contentType } = options.metrics();
        return send(res, 200, contentType, body);
      }
      case '/debug/state':
        return sendJson(res, 200, options.source.view());
      case '/debug/events':
        return this.#events(res, options.source);
      case '/debug/fleet':
        if (options.fleet === undefined) return sendJson(res, 404, { error: 'no fleet view: no lease table given' });
        return sendJson(res, 200, await options.fleet.view());
      case '/debug/machine.svg':
        return send(res, 200, 'image/svg+xml; charset=utf-8', options.machineSvg());
      case '/debug':
      case '/debug/':
        return this.#asset(res, 'index.html');
      default:
        if (path.startsWith('/debug/') && PAGE_FILES.has(path.slice('/debug/'.length)))
          return this.#asset(res, path.slice('/debug/'.length));
        return sendJson(res, 404, { error: `no such page: ${path}` });
    }
  }

  async #asset(res: ServerResponse, name: string): Promise<void> {
    const body = await readFile(new URL(name, ASSETS));
    send(res, 200, CONTENT_TYPES[extname(name)] ?? 'application/octet-stream', body);
  }

  /**
   * Server-sent events: the whole view at once, then after every change (coalesced) an event `changes` with what
   * changed (ViewChanges).
   */
  #events(res: ServerResponse, source: DebugSource): void {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
    });
    const changes = new ViewChanges();
    let timer: ReturnType<typeof setTimeout> | null = null;
    const unsubscribe = source.subscribe(() => {
      timer ??= setTimeout(() => {
        timer = null;
        push();
      }, EVENT_COALESCE_MS);
    });
    const heartbeat = setInterval(() => write(': heartbeat\n\n'), HEARTBEAT_MS).unref();
    let stopped = false;
    const stop = () => {
      if (stopped) return;
      stopped = true;
      unsubscribe();
      if (timer !== null) clearTimeout(timer);
      clearInterval(heartbeat);
      this.#streams.delete(res);
    };
    // A client too far behind is dropped here, so it is stopped at once rather than when its socket's close arrives.
    const write = (chunk: string) => {
      if (!writeOrDrop(res, chunk)) stop();
    };
    const push = () => {
      const { event, data } = changes.next(source.view());
      write(`${event === 'message' ? '' : `event: ${event}\n`}data: ${data}\n\n`);
    };
    this.#streams.add(res);
    res.on('close', stop);
    push();
  }
}

/**
 * Writes `chunk` to an event stream unless what waits unsent for its client would then exceed
 * EVENT_STREAM_MAX_UNSENT_BYTES: then the client is dropped (the response destroyed) and false returned. A chunk
 * alone larger than that (the whole view of a large worker) still goes to a client with nothing waiting.
 */
function writeOrDrop(res: ServerResponse, chunk: string): boolean {
  if (res.destroyed) return false;
  const waiting = res.writableLength;
  if (waiting > 0 && waiting + Buffer.byteLength(chunk) > EVENT_STREAM_MAX_UNSENT_BYTES) {
    res.destroy();
    return false;
  }
  res.write(chunk);
  return true;
}

function send(res: ServerResponse, status: number, contentType: string, body: string | Uint8Array): void {
  res.writeHead(status, { 'content-type': contentType, 'cache-control': 'no-store' });
  res.end(body);
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  send(res, status, 'application/json; charset=utf-8', `${JSON.stringify(value)}\n`);
}
