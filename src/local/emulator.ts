// DynamoDB (dynalite) and Kinesis (kinesalite) emulators from npm, run in-process on 127.0.0.1:
// in memory by default, on disk when given a directory. Tables and streams are ready at once.
// Kinesis can be made to reject part of each PutRecords call (a fault proxy in front of kinesalite).

import { mkdir } from 'node:fs/promises';
import type { IncomingMessage, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import dynalite from 'dynalite';
import kinesalite from 'kinesalite';
import { KvsInferError } from '../errors.js';
import { KinesisFaultProxy } from './kinesis-faults.js';
import { seededRandom } from './random.js';

export type EmulatorKind = 'dynamodb' | 'kinesis';

export interface EmulatorOptions {
  port?: number;
  host?: string;
  /** Keep the data in this directory (created if missing) instead of in memory. */
  path?: string;
  /**
   * Kinesis only: chance, [0, 1), that each record of a PutRecords call is rejected with
   * ProvisionedThroughputExceededException (as a throttled shard does). 0 or unset: the plain emulator.
   */
  putRecordsFailureRate?: number;
  /** Kinesis only: seed of the rejections, so that a run replays exactly; default 1. */
  seed?: number;
}

const FACTORIES: Record<EmulatorKind, (path: string | undefined) => Server> = {
  // No simulated provisioning delays: tests and demos want tables and streams ACTIVE at once.
  dynamodb: (path) => dynalite({ path, createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 }),
  kinesis: (path) => kinesalite({ path, createStreamMs: 0, deleteStreamMs: 0, updateStreamMs: 0, shardLimit: 1000 }),
};

export class Emulator implements AsyncDisposable {
  readonly kind: EmulatorKind;
  readonly url: string;
  readonly #server: Server;
  readonly #proxy: KinesisFaultProxy | undefined;

  private constructor(kind: EmulatorKind, server: Server, url: string, proxy: KinesisFaultProxy | undefined) {
    this.kind = kind;
    this.#server = server;
    this.url = url;
    this.#proxy = proxy;
  }

  static async start(kind: EmulatorKind, options: EmulatorOptions = {}): Promise<Emulator> {
    const rate = options.putRecordsFailureRate ?? 0;
    if (kind !== 'kinesis' && (options.putRecordsFailureRate !== undefined || options.seed !== undefined)) {
      throw new KvsInferError(
        'BAD_CONFIG',
        `putRecordsFailureRate and seed apply to the kinesis emulator only, not ${kind}`,
      );
    }
    if (!(rate >= 0 && rate < 1))
      throw new KvsInferError('BAD_CONFIG', `putRecordsFailureRate must be in [0, 1), got ${rate}`);
    if (options.seed !== undefined && !Number.isInteger(options.seed))
      throw new KvsInferError('BAD_CONFIG', `seed must be an integer, got ${options.seed}`);

    const host = options.host ?? '127.0.0.1';
    if (options.path) await mkdir(options.path, { recursive: true });
    const server = FACTORIES[kind](options.path);
    // A client that leaves mid-request (its deadline passed) makes the request emit 'error' ("aborted"), which
    // both emulators rethrow from their listener, bringing the whole process down. Their listener replaced once
    // their handler has run (an I/O error cannot come sooner), the request is only dropped.
    server.on('request', (request: IncomingMessage) =>
      process.nextTick(() => request.removeAllListeners('error').on('error', () => undefined)),
    );
    // With faults, kinesalite moves to a free internal port and the proxy takes the public address.
    const faulty = rate > 0;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      if (faulty) server.listen(0, '127.0.0.1', () => resolve());
      else server.listen(options.port ?? 0, host, () => resolve());
    });
    const { port } = server.address() as AddressInfo;
    if (!faulty) return new Emulator(kind, server, `http://${host}:${port}`, undefined);
    try {
      const proxy = await KinesisFaultProxy.start({
        target: `http://127.0.0.1:${port}`,
        putRecordsFailureRate: rate,
        random: seededRandom(options.seed ?? 1),
        host,
        port: options.port,
      });
      return new Emulator(kind, server, proxy.url, proxy);
    } catch (error) {
      await closeServer(server);
      throw error;
    }
  }

  /** Records the fault proxy has rejected so far (0 without faults). */
  get injectedPutRecordFailures(): number {
    return this.#proxy?.injected ?? 0;
  }

  async close(): Promise<void> {
    await this.#proxy?.close();
    await closeServer(this.#server);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/** How long a closing emulator lets the requests it is working on finish before it cuts their connections. */
const CLOSE_GRACE_MS = 2000;

async function closeServer(server: Server): Promise<void> {
  // Requests under way finish first: the emulator closes its database on 'close', and a write still in progress
  // would then throw from inside it. Idle keep-alive connections are closed at once, busy ones once answered.
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  const grace = setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS);
  await closed;
  clearTimeout(grace);
}
