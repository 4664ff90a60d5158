// The fleet simulation's local stack: a KVS server holding N empty streams tagged for discovery, with KVS's
// control-plane quotas enforced and every call counted; DynamoDB (dynalite) for the lease table; Kinesis
// (kinesalite) with the results stream the workers check; and the configuration file every worker runs with.

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { CreateStreamCommand, waitUntilStreamExists } from '@aws-sdk/client-kinesis';
import { kinesisClient } from '../src/aws/clients.js';
import { Emulator, LOCAL_CREDENTIALS, LOCAL_REGION, localEnv } from '../src/local/index.js';
import { KvsServer } from '../src/local/kvs/index.js';

/** The tag every simulated stream carries, and the filter the workers discover them by. */
export const FLEET_TAG = { key: 'Fleet', value: 'simulation' } as const;
const RESULTS_STREAM = 'fleet-results';

export interface FleetStackOptions {
  streams: number;
  failoverTimeMillis: number;
  /** The workers' metricsIntervalMillis: how often each prints its EMF line (lease-table units among them). */
  metricsIntervalMillis: number;
  /** Passed to the workers only when given, so that their own default applies otherwise. */
  leaseAssignment?: 'leader' | 'every-worker';
}

export class FleetStack {
  readonly kvs: KvsServer;
  readonly dynamodb: Emulator;
  readonly kinesis: Emulator;
  /** The configuration file every worker runs with. */
  readonly configFile: string;
  readonly streams: string[];
  readonly #dir: string;

  private constructor(kvs: KvsServer, dynamodb: Emulator, kinesis: Emulator, dir: string, streams: string[]) {
    this.kvs = kvs;
    this.dynamodb = dynamodb;
    this.kinesis = kinesis;
    this.#dir = dir;
    this.configFile = join(dir, 'config.json');
    this.streams = streams;
  }

  static async start(options: FleetStackOptions): Promise<FleetStack> {
    const kvs = await KvsServer.create({ enforceApiLimits: true });
    const started: { close(): Promise<void> }[] = [kvs];
    try {
      const dynamodb = await Emulator.start('dynamodb');
      started.push(dynamodb);
      const kinesis = await Emulator.start('kinesis');
      started.push(kinesis);
      await createDataStream(kinesis.url);
      const width = String(options.streams - 1).length;
      const streams = Array.from({ length: options.streams }, (_, i) => `fleet-${String(i).padStart(width, '0')}`);
      // No media: lease-only workers never read it.
      for (const name of streams) kvs.createStream(name, { tags: { [FLEET_TAG.key]: FLEET_TAG.value } });
      const dir = await mkdtemp(join(tmpdir(), 'kvs-infer-fleet-'));
      const stack = new FleetStack(kvs, dynamodb, kinesis, dir, streams);
      await writeFile(stack.configFile, JSON.stringify(workerConfig(options)));
      return stack;
    } catch (error) {
      await Promise.allSettled(started.map((s) => s.close()));
      throw error;
    }
  }

  /** The AWS SDK's variables that point a worker at this stack. */
  get env(): Record<string, string> {
    // Lease-only workers never invoke the endpoint; aimed at a local server all the same, so nothing leaves here.
    return localEnv({ kvs: this.kvs.url, model: this.kvs.url, dynamodb: this.dynamodb.url, kinesis: this.kinesis.url });
  }

  /** Call once the workers are gone. */
  async close(): Promise<void> {
    await quiet();
    await Promise.allSettled([this.kvs.close(), this.dynamodb.close(), this.kinesis.close()]);
    await rm(this.#dir, { recursive: true, force: true });
  }
}

/**
 * Waits (30 s at most) until this process's event loop is nearly idle: dynalite, in this process, works through the
 * requests it was sent after their senders are killed, and throws if its database is closed under that work.
 */
async function quiet(): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const before = performance.eventLoopUtilization();
    await new Promise((resolve) => setTimeout(resolve, 500));
    if (performance.eventLoopUtilization(before).utilization < 0.1) return;
  }
}

/** The configuration of every worker: discovery by tag, the defaults elsewhere except what the bench sizes. */
export function workerConfig(options: FleetStackOptions): Record<string, unknown> {
  return {
    appName: `fleet-${Date.now()}`,
    tagFilters: [{ key: FLEET_TAG.key, values: [FLEET_TAG.value] }],
    sageMakerEndpoint: 'fleet-simulation',
    kdsStreamName: RESULTS_STREAM,
    decodeThreadPoolSize: 1,
    failoverTimeMillis: options.failoverTimeMillis,
    metricsIntervalMillis: options.metricsIntervalMillis,
    // The bench follows acquired / lost / released lines and the EMF lines; nothing else.
    statsIntervalMillis: 0,
    logLevel: 'info',
    ...(options.leaseAssignment === undefined ? {} : { leaseAssignment: options.leaseAssignment }),
  };
}

async function createDataStream(endpoint: string): Promise<void> {
  const client = kinesisClient({ endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  try {
    await client.send(new CreateStreamCommand({ StreamName: RESULTS_STREAM, ShardCount: 1 }));
    await waitUntilStreamExists({ client, maxWaitTime: 30, minDelay: 1, maxDelay: 1 }, { StreamName: RESULTS_STREAM });
  } finally {
    client.destroy();
  }
}
