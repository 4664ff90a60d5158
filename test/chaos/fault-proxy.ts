// A TCP proxy on 127.0.0.1 in front of one upstream, with faults a test switches on and off: added
// latency, a black hole, connection resets, mid-response cuts, canned HTTP error answers, and bytes from
// the upstream rewritten on the way. The chaos suite puts one in front of every AWS endpoint a worker uses,
// so the faults look to the worker's SDK clients as they would on a real network.

import { STATUS_CODES } from 'node:http';
import { type AddressInfo, createConnection, createServer, type Server, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export type FaultMode =
  | { kind: 'pass' }
  /** Every chunk, in each direction, is forwarded this long after it arrived (order kept). */
  | { kind: 'latency'; ms: number }
  /**
   * Connections are accepted and nothing is forwarded in either direction. A connection that was open
   * at any time during a black hole stays dead afterwards (as when a partition outlives a NAT's or load
   * balancer's state): only connections opened after it carry data again, so a client without deadlines hangs.
   */
  | { kind: 'blackhole' }
  /** Open connections are reset; new ones are reset as soon as they are accepted. */
  | { kind: 'reset' }
  /** Each connection forwards half of the next chunk the upstream sends it, then is reset: a response cut mid-body. */
  | { kind: 'cut' }
  /**
   * Open connections are reset (so keep-alive clients reconnect); each new one gets this answer to its request, then
   * Connection: close.
   */
  | { kind: 'error'; status: number; body: string; headers: Record<string, string> };

/**
 * Rewrites bytes the upstream sends, in place, as they pass (one per connection, so it may keep state): tampering
 * with a response's content rather than its delivery. Lengths never change, so framing stays intact.
 */
export type Rewriter = (chunk: Buffer) => void;

export const pass = (): FaultMode => ({ kind: 'pass' });
export const latency = (ms: number): FaultMode => ({ kind: 'latency', ms });
export const blackhole = (): FaultMode => ({ kind: 'blackhole' });
export const reset = (): FaultMode => ({ kind: 'reset' });
export const cut = (): FaultMode => ({ kind: 'cut' });
export const httpError = (status: number, body = '', headers: Record<string, string> = {}): FaultMode => ({
  kind: 'error',
  status,
  body,
  headers,
});

/** `latency(500)`, `error(503)`: for logs and test names. */
export function describeMode(mode: FaultMode): string {
  if (mode.kind === 'latency') return `latency(${mode.ms})`;
  if (mode.kind === 'error') return `error(${mode.status})`;
  return mode.kind;
}

export interface ProxyStats {
  /** Connections accepted, in every mode. */
  accepted: number;
  /** Connections reset by the proxy (reset and error modes, cuts). */
  resets: number;
  /** Canned error answers sent. */
  answered: number;
  /** Bytes forwarded client to upstream, and upstream to client. */
  bytesUp: number;
  bytesDown: number;
}

/** Queued bytes per direction beyond which the sending side is paused (latency holds data that long). */
const HIGH_WATER_BYTES = 1024 * 1024;
/** Longest request head an error answer waits for. */
const MAX_HEAD_BYTES = 64 * 1024;
/** After an error answer, how long the proxy waits for the client to close before it closes itself. */
const LINGER_MS = 2000;
/** Between the half chunk of a cut and the reset. */
const CUT_RESET_DELAY_MS = 50;

export class FaultProxy {
  /** `http://127.0.0.1:port`, for the AWS_ENDPOINT_URL_* variables. */
  readonly url: string;
  readonly stats: ProxyStats = { accepted: 0, resets: 0, answered: 0, bytesUp: 0, bytesDown: 0 };
  /** Every mode set, with when (epoch ms): the fault timeline of a scenario. */
  readonly changes: { at: number; mode: FaultMode }[] = [];
  readonly #server: Server;
  readonly #upstream: { host: string; port: number };
  readonly #links = new Set<Link>();
  readonly #answers = new Set<Socket>();
  #mode: FaultMode = pass();
  #rewriter: (() => Rewriter) | null = null;

  private constructor(server: Server, url: string, upstream: { host: string; port: number }) {
    this.#server = server;
    this.url = url;
    this.#upstream = upstream;
    server.on('connection', (socket) => this.#accept(socket));
  }

  /**
   * Listens on a free port of 127.0.0.1 in front of `upstream` (a URL such as `http://127.0.0.1:4567`), in `pass` mode.
   */
  static async start(upstream: string): Promise<FaultProxy> {
    const target = new URL(upstream);
    const server = createServer({ noDelay: true });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const { port } = server.address() as AddressInfo;
    return new FaultProxy(server, `http://127.0.0.1:${port}`, { host: target.hostname, port: Number(target.port) });
  }

  get mode(): FaultMode {
    return this.#mode;
  }

  /** Switches mode; open connections follow at once (see FaultMode). */
  set(mode: FaultMode): void {
    this.#mode = mode;
    this.changes.push({ at: Date.now(), mode });
    for (const link of this.#links) link.apply(mode);
  }

  /**
   * Gives every connection, open and new, its own rewriter of what the upstream sends (`factory` makes one); null:
   * none.
   */
  rewriteDown(factory: (() => Rewriter) | null): void {
    this.#rewriter = factory;
    for (const link of this.#links) link.rewriteDown(factory?.() ?? null);
  }

  /** `mode` for `ms`, then `pass`; resolves with when the fault began and ended (epoch ms). */
  async window(mode: FaultMode, ms: number): Promise<{ start: number; end: number }> {
    const start = Date.now();
    this.set(mode);
    await sleep(ms);
    this.set(pass());
    return { start, end: Date.now() };
  }

  async close(): Promise<void> {
    for (const link of this.#links) link.destroy();
    for (const socket of this.#answers) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #accept(client: Socket): void {
    this.stats.accepted++;
    client.on('error', () => undefined);
    const mode = this.#mode;
    if (mode.kind === 'reset') {
      this.stats.resets++;
      client.resetAndDestroy();
    } else if (mode.kind === 'error') {
      this.#answer(client, mode);
    } else {
      const link = new Link(client, mode, this.#upstream, this.stats);
      link.rewriteDown(this.#rewriter?.() ?? null);
      this.#links.add(link);
      link.closed.then(() => this.#links.delete(link));
    }
  }

  /** Reads the request head, sends the canned answer, then discards whatever else the client sends until it closes. */
  #answer(client: Socket, mode: Extract<FaultMode, { kind: 'error' }>): void {
    this.#answers.add(client);
    client.once('close', () => this.#answers.delete(client));
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      if (head.includes('\r\n\r\n')) {
        client.off('data', onData);
        client.resume();
        this.stats.answered++;
        client.end(cannedResponse(mode));
        setTimeout(() => client.destroy(), LINGER_MS).unref();
      } else if (head.length > MAX_HEAD_BYTES) {
        client.destroy();
      }
    };
    client.on('data', onData);
  }
}

function cannedResponse(mode: Extract<FaultMode, { kind: 'error' }>): Buffer {
  const body = Buffer.from(mode.body);
  const headers = { ...mode.headers, 'content-length': String(body.length), connection: 'close' };
  const lines = [
    `HTTP/1.1 ${mode.status} ${STATUS_CODES[mode.status] ?? 'Error'}`,
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
  ];
  return Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`), body]);
}

/** One client connection and its upstream connection, forwarded both ways by two pipes. */
class Link {
  readonly closed: Promise<void>;
  readonly #client: Socket;
  readonly #upstream: Socket | null;
  readonly #up: Pipe | null;
  readonly #down: Pipe | null;
  readonly #stats: ProxyStats;
  #delayMs = 0;
  #dead = false;

  constructor(client: Socket, mode: FaultMode, upstream: { host: string; port: number }, stats: ProxyStats) {
    this.#client = client;
    this.#stats = stats;
    if (mode.kind === 'blackhole') {
      // Never connected upstream: the upstream never learns of a connection made inside a partition.
      this.#upstream = this.#up = this.#down = null;
      this.#die();
      this.closed = new Promise((resolve) => client.once('close', () => resolve()));
      return;
    }
    const server = createConnection({ ...upstream, noDelay: true });
    server.on('error', () => client.destroy());
    client.on('error', () => server.destroy());
    this.#upstream = server;
    const delay = () => this.#delayMs;
    this.#up = new Pipe(client, server, delay, (n) => (stats.bytesUp += n));
    this.#down = new Pipe(server, client, delay, (n) => (stats.bytesDown += n));
    this.closed = Promise.all([once(client, 'close'), once(server, 'close')]).then(() => undefined);
    this.apply(mode);
  }

  apply(mode: FaultMode): void {
    if (this.#dead) return;
    switch (mode.kind) {
      case 'pass':
      case 'latency':
        this.#delayMs = mode.kind === 'latency' ? mode.ms : 0;
        this.#down?.cutNext(false);
        return;
      case 'cut':
        this.#down?.cutNext(true, () => this.reset());
        return;
      case 'blackhole':
        this.#die();
        return;
      case 'reset':
      case 'error':
        this.reset();
        return;
    }
  }

  rewriteDown(rewriter: Rewriter | null): void {
    this.#down?.rewrite(rewriter);
  }

  /** Both sides reset, as a middlebox that dropped the connection would. */
  reset(): void {
    if (this.#client.destroyed && (this.#upstream?.destroyed ?? true)) return;
    this.#stats.resets++;
    this.#client.resetAndDestroy();
    this.#upstream?.resetAndDestroy();
  }

  destroy(): void {
    this.#client.destroy();
    this.#upstream?.destroy();
  }

  /**
   * Forwards nothing ever again. The client's bytes are read and dropped, so that its close is seen and the
   * upstream side closed then; the upstream's are left unread, so a server writing to it is held back by TCP.
   */
  #die(): void {
    this.#dead = true;
    this.#up?.stop();
    this.#down?.stop();
    this.#client.on('data', () => undefined);
    this.#client.resume();
    this.#client.once('close', () => this.#upstream?.destroy());
    this.#upstream?.pause();
  }
}

/** One direction of a link: chunks forwarded in order, each no earlier than `delay()` ms after it arrived. */
class Pipe {
  readonly #from: Socket;
  readonly #to: Socket;
  readonly #delay: () => number;
  readonly #count: (bytes: number) => void;
  readonly #queue: { chunk: Buffer; due: number }[] = [];
  #queuedBytes = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #ended = false;
  #stopped = false;
  #draining = false;
  #onCut: (() => void) | null = null;
  #rewriter: Rewriter | null = null;

  constructor(from: Socket, to: Socket, delay: () => number, count: (bytes: number) => void) {
    this.#from = from;
    this.#to = to;
    this.#delay = delay;
    this.#count = count;
    from.on('data', (chunk: Buffer) => {
      if (this.#stopped) return;
      this.#rewriter?.(chunk);
      // Never before the chunk ahead of it, so a latency that drops mid-stream does not reorder bytes.
      const due = Math.max(Date.now() + this.#delay(), this.#queue.at(-1)?.due ?? 0);
      this.#queue.push({ chunk, due });
      this.#queuedBytes += chunk.length;
      this.#pump();
    });
    from.once('end', () => {
      this.#ended = true;
      this.#pump();
    });
    // A side that closed without ending (destroyed) ends the other once what is queued has gone.
    from.once('close', () => {
      this.#ended = true;
      this.#pump();
    });
    to.once('close', () => this.stop());
  }

  rewrite(rewriter: Rewriter | null): void {
    this.#rewriter = rewriter;
  }

  /** With `on`, the next chunk is forwarded half, then `onCut` runs. */
  cutNext(on: boolean, onCut?: () => void): void {
    this.#onCut = on ? (onCut ?? null) : null;
    if (on) this.#pump();
  }

  /** Forwards nothing more; what is queued is dropped. */
  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#queue.length = 0;
    this.#queuedBytes = 0;
  }

  #pump(): void {
    if (this.#stopped) return;
    if (this.#to.destroyed) {
      this.stop();
      return;
    }
    clearTimeout(this.#timer);
    this.#timer = undefined;
    while (this.#queue.length > 0 && !this.#draining) {
      const head = this.#queue[0]!;
      const wait = head.due - Date.now();
      if (wait > 0) {
        this.#timer = setTimeout(() => this.#pump(), wait);
        break;
      }
      this.#queue.shift();
      this.#queuedBytes -= head.chunk.length;
      if (this.#onCut) {
        const half = head.chunk.subarray(0, Math.max(1, head.chunk.length >> 1));
        this.#count(half.length);
        const onCut = this.#onCut;
        this.#onCut = null;
        // Reset a moment after the half is handed to the kernel, so that the client reads it before the reset.
        this.#to.write(half, () => setTimeout(onCut, CUT_RESET_DELAY_MS));
        this.stop();
        return;
      }
      this.#count(head.chunk.length);
      if (!this.#to.write(head.chunk)) {
        this.#draining = true;
        this.#to.once('drain', () => {
          this.#draining = false;
          this.#pump();
        });
      }
    }
    if (this.#ended && this.#queue.length === 0 && !this.#to.destroyed) this.#to.end();
    this.#flow();
  }

  /** Pauses the sending side while the receiving side is full or too much waits out a latency. */
  #flow(): void {
    if (this.#stopped || this.#from.destroyed) return;
    if (this.#draining || this.#queuedBytes > HIGH_WATER_BYTES) this.#from.pause();
    else this.#from.resume();
  }
}

function once(socket: Socket, event: string): Promise<void> {
  return new Promise((resolve) => socket.once(event, () => resolve()));
}
