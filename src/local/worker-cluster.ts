// Real `kvs-infer run` worker processes against an in-process local stack, observed through their
// JSON log lines (who holds which stream, what each read and checkpointed) and through the records
// they published to the Kinesis emulator. Used by the multi-process tests and by `bench/failover.ts`.

import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { InferenceRecord } from '../actors/pipeline/inference-record.js';
import { kinesisClient } from '../aws/clients.js';
import { WORKER_NODE_FLAGS } from '../cli/node-flags.js';
import { smallClip } from './fixtures/index.js';
import {
  LOCAL_CREDENTIALS,
  LOCAL_REGION,
  LocalStack,
  type LocalStackOptions,
  parseRecords,
  readAllRecords,
} from './index.js';

/** The Kinesis data stream the workers publish to. */
export const RESULTS_STREAM = 'results';

export interface ClusterOptions {
  streams: number;
  failoverTimeMillis: number;
  /** Node flags of the children; the caller's own by default (so a TypeScript loader carries over). */
  execArgv?: string[];
  /** Entry point of the CLI; the TypeScript source by default. */
  main?: string;
  /** Worker configuration keys laid over the cluster's. */
  config?: Record<string, unknown>;
  /** Local stack options laid over the cluster's (the fixture looping in real time, the `fixed` model). */
  stack?: Partial<LocalStackOptions>;
  /** Length of the fixture clip (64x48, a keyframe every 200 ms), seconds; default 4. */
  clipSeconds?: number;
  /** Streams created empty and handed to the workers too; the caller appends their fragments (`cluster.stack.kvs`). */
  fedStreams?: string[];
}

export interface LogLine {
  event: string;
  worker: string;
  stream?: string;
  fragmentNumber?: string;
  /** When this process read the line, epoch ms. */
  at: number;
  [field: string]: unknown;
}

export interface ClusterWorker {
  id: string;
  process: ChildProcess;
  exited: Promise<number | null>;
}

export class WorkerCluster {
  readonly lines: LogLine[] = [];
  readonly streams: string[];
  readonly workers = new Map<string, ClusterWorker>();
  /** The fixture every replayed stream plays. */
  readonly file: string;
  readonly stack: LocalStack;
  readonly #configFile: string;
  readonly #options: ClusterOptions;

  private constructor(stack: LocalStack, file: string, configFile: string, streams: string[], options: ClusterOptions) {
    this.stack = stack;
    this.file = file;
    this.#configFile = configFile;
    this.streams = streams;
    this.#options = options;
  }

  static async start(options: ClusterOptions): Promise<WorkerCluster> {
    // A small H.264 clip with a keyframe every 200 ms, so a fragment arrives five times a second.
    const seconds = options.clipSeconds ?? 4;
    const file = await smallClip(seconds);
    const replayed = Array.from({ length: options.streams }, (_, i) => `cam-${i}`);
    const stack = await LocalStack.start({
      streams: replayed.map((name) => ({ name, file })),
      loop: true,
      rate: 1,
      model: 'fixed',
      dataStreams: [RESULTS_STREAM],
      ...options.stack,
    });
    const fed = options.fedStreams ?? [];
    for (const name of fed) stack.kvs.createStream(name);
    const streams = [...replayed, ...fed];
    const dir = join(tmpdir(), `kvs-infer-cluster-${process.pid}-${Date.now()}`);
    await mkdir(dir, { recursive: true });
    const configFile = join(dir, 'config.json');
    await writeFile(
      configFile,
      JSON.stringify({
        streamNames: streams,
        sageMakerEndpoint: 'cluster-endpoint',
        kdsStreamName: RESULTS_STREAM,
        decodeThreadPoolSize: 1,
        sageMakerTaskTimeoutInMilli: 2000,
        appName: `cluster-${Date.now()}`,
        failoverTimeMillis: options.failoverTimeMillis,
        discoveryIntervalMillis: 2000,
        checkpointIntervalMillis: 0,
        getMediaReconnectBaseMillis: 100,
        getMediaReconnectMaxMillis: 1000,
        shutdownTimeoutMillis: 5000,
        // The tests follow the `fragment` lines.
        logLevel: 'debug',
        ...options.config,
      }),
    );
    return new WorkerCluster(stack, file, configFile, streams, options);
  }

  /** Starts `kvs-infer run` as worker `id`, with `args` added to its command line and `env` to its environment. */
  spawn(id: string, args: string[] = [], env: Record<string, string> = {}): ClusterWorker {
    const child = spawn(
      process.execPath,
      [
        ...WORKER_NODE_FLAGS,
        ...(this.#options.execArgv ?? process.execArgv),
        this.#options.main ?? 'src/cli/main.ts',
        'run',
        '--config',
        this.#configFile,
        '--worker-id',
        id,
        ...args,
      ],
      {
        env: { ...process.env, ...this.stack.env, ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    createInterface({ input: child.stdout! }).on('line', (text) => {
      try {
        const line = JSON.parse(text) as LogLine;
        this.lines.push({ ...line, at: Date.now() });
      } catch {
        // Not one of ours (a library's warning): ignored.
      }
    });
    child.stderr!.resume();
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const worker = { id, process: child, exited };
    this.workers.set(id, worker);
    return worker;
  }

  /** Streams each worker holds now, by the acquired / lost / released lines it logged. */
  holdings(): Map<string, Set<string>> {
    const held = new Map<string, Set<string>>();
    for (const line of this.lines) {
      if (line.stream === undefined) continue;
      const mine = held.get(line.worker) ?? new Set<string>();
      held.set(line.worker, mine);
      if (line.event === 'acquired') mine.add(line.stream);
      if (line.event === 'lost' || line.event === 'released') mine.delete(line.stream);
    }
    return held;
  }

  /** How many streams each of `ids` holds, in that order. */
  counts(ids: string[]): number[] {
    const held = this.holdings();
    return ids.map((id) => held.get(id)?.size ?? 0);
  }

  /** Lines of `event` (fragment, checkpoint, ...) by `worker` for `stream`. */
  find(event: string, worker: string, stream?: string): LogLine[] {
    return this.lines.filter(
      (l) => l.event === event && l.worker === worker && (stream === undefined || l.stream === stream),
    );
  }

  /** Every record published so far, in each shard's order. */
  async records(): Promise<InferenceRecord[]> {
    const client = kinesisClient({
      endpoint: this.stack.kinesis.url,
      region: LOCAL_REGION,
      credentials: LOCAL_CREDENTIALS,
    });
    try {
      return parseRecords<InferenceRecord>(await readAllRecords(client, RESULTS_STREAM));
    } finally {
      client.destroy();
    }
  }

  async close(): Promise<void> {
    for (const worker of this.workers.values()) worker.process.kill('SIGKILL');
    await Promise.all([...this.workers.values()].map((w) => w.exited));
    await this.stack.close();
  }
}

/** Polls `check` every 50 ms until it holds; fails naming `what` after `ms`. */
export async function until(what: string, check: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
