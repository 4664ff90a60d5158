// DynamoDB (dynalite) and Kinesis (kinesalite) emulators from npm, run in-process on 127.0.0.1:
// in memory by default, on disk when given a directory. Tables and streams are ready at once.

import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir } from 'node:fs/promises';
import dynalite from 'dynalite';
import kinesalite from 'kinesalite';

export type EmulatorKind = 'dynamodb' | 'kinesis';

export interface EmulatorOptions {
  port?: number;
  host?: string;
  /** Keep the data in this directory (created if missing) instead of in memory. */
  path?: string;
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

  private constructor(kind: EmulatorKind, server: Server, url: string) {
    this.kind = kind;
    this.#server = server;
    this.url = url;
  }

  static async start(kind: EmulatorKind, options: EmulatorOptions = {}): Promise<Emulator> {
    const host = options.host ?? '127.0.0.1';
    if (options.path) await mkdir(options.path, { recursive: true });
    const server = FACTORIES[kind](options.path);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, host, () => resolve());
    });
    const { port } = server.address() as AddressInfo;
    return new Emulator(kind, server, `http://${host}:${port}`);
  }

  async close(): Promise<void> {
    // Clients keep connections alive; without this, close() would wait for them to time out.
    this.#server.closeAllConnections?.();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
