// Real `kvs-infer run` workers on the local stack, each reaching every AWS endpoint it uses through its
// own fault proxy (set through the AWS_ENDPOINT_URL_* variables of its process), with its debug server
// polled by a Monitor. The scenarios drive the proxies; invariants.ts checks what came out.

import type { Test } from 'tap';
import {
  type ClusterOptions,
  type LogLine,
  RESULTS_STREAM,
  until,
  WorkerCluster,
} from '../../src/local/worker-cluster.js';
import { describeMode, type FaultMode, FaultProxy } from './fault-proxy.js';
import { Monitor } from './monitor.js';
import { type PublishedRecord, ResultsReader } from './results-reader.js';

/**
 * The endpoints a worker calls: DynamoDB (leases), Kinesis (results), KVS (control plane and GetMedia), SageMaker
 * runtime.
 */
export const SERVICES = ['dynamodb', 'kinesis', 'kvs', 'sagemaker'] as const;
export type Service = (typeof SERVICES)[number];

/**
 * The worker configuration every scenario starts from: timings tuned down so that a fault, a failover and a
 * recovery fit in seconds; every I-frame sampled (each fragment of the fixture holds one), so the oracle is
 * "every fragment up to the checkpoint has a record"; a small endpoint queue (in frames and bytes), so that the
 * in-flight bounds bite.
 */
export const CHAOS_CONFIG = {
  // The default. DynamoDB's deadline is 80% of a renewal interval (2666 ms): the in-process emulator, on a 2-core
  // machine shared with other test jobs, misses 500 ms and now and then 1 s, and a worker that cannot renew gives its
  // leases up.
  failoverTimeMillis: 10_000,
  inferenceInterval: 1,
  startSelectorType: 'EARLIEST',
  sageMakerTaskQueueSize: 50,
  sageMakerTaskQueueBytes: 8 * 1024 * 1024,
  sageMakerTaskThreadPoolSize: 12,
  sageMakerTaskTimeoutInMilli: 2000,
  decodeThreadPoolSize: 1,
  checkpointIntervalMillis: 3000,
  // The default: a 500-record PutRecords to the in-process emulator on a loaded machine can take seconds, and a
  // call timed out after Kinesis took it is published twice.
  publishTimeoutMillis: 10_000,
  awsConnectTimeoutMillis: 1000,
  awsRequestTimeoutMillis: 3000,
  getMediaIdleTimeoutMillis: 3000,
  missingStreamRetryMaxMillis: 5000,
  /** /healthz fails after 20 s without progress. */
  healthCheckStallFactor: 2,
  statsIntervalMillis: 0,
  metricsIntervalMillis: 0,
};

export interface ChaosOptions {
  streams: number;
  /** Laid over CHAOS_CONFIG. */
  config?: Record<string, unknown>;
  stack?: ClusterOptions['stack'];
}

/**
 * Half speed: a fragment (one keyframe, sampled) every 400 ms per stream. On two shared cores the pipeline then has
 * room to work off a fault's backlog while keeping up with live media.
 */
export const REPLAY_RATE = 0.5;
/** The fixture clip, looped: 40 fragments of 200 ms, one keyframe each. */
const CLIP_SECONDS = 8;

/** Log events too frequent to tell a story. */
const QUIET_EVENTS = new Set(['fragment', 'checkpoint', 'checkpoint-inclusive', 'stats', 'config']);

/** A worker that starts, loads the TypeScript source and opens its debug server on a loaded 2-core machine. */
const START_TIMEOUT_MS = 60_000;

export class ChaosCluster {
  readonly cluster: WorkerCluster;
  readonly monitor = new Monitor();
  /** The effective worker configuration (CHAOS_CONFIG and the scenario's keys). */
  readonly config: typeof CHAOS_CONFIG & Record<string, unknown>;
  readonly #proxies = new Map<string, Record<Service, FaultProxy>>();
  readonly #results: ResultsReader;

  private constructor(cluster: WorkerCluster, config: typeof CHAOS_CONFIG & Record<string, unknown>) {
    this.cluster = cluster;
    this.config = config;
    this.#results = new ResultsReader(cluster.stack.kinesis.url, RESULTS_STREAM);
  }

  /**
   * Starts the local stack (the clip looping at REPLAY_RATE, the `fixed` model); closed when `t` ends, with a timeline
   * if it failed.
   */
  static async start(t: Test, options: ChaosOptions): Promise<ChaosCluster> {
    const config = { ...CHAOS_CONFIG, ...options.config };
    const cluster = await WorkerCluster.start({
      streams: options.streams,
      failoverTimeMillis: config.failoverTimeMillis,
      clipSeconds: CLIP_SECONDS,
      stack: { rate: REPLAY_RATE, ...options.stack },
      config,
    });
    const chaos = new ChaosCluster(cluster, config);
    t.teardown(async () => {
      // What happened, for whoever reads a failed run's output.
      if (!t.passing()) console.log(chaos.timeline());
      await chaos.close();
    });
    return chaos;
  }

  get streams(): string[] {
    return this.cluster.streams;
  }

  /** Every record published so far (none while the data stream does not exist), read incrementally. */
  records(): Promise<PublishedRecord[]> {
    return this.#results.records();
  }

  /** Starts worker `id` behind its own proxies, once its debug server answers. */
  async spawn(id: string): Promise<void> {
    const { stack } = this.cluster;
    const upstreams: Record<Service, string> = {
      dynamodb: stack.dynamodb.url,
      kinesis: stack.kinesis.url,
      kvs: stack.kvs.url,
      sagemaker: stack.model.url,
    };
    const started = await Promise.all(SERVICES.map(async (s) => [s, await FaultProxy.start(upstreams[s])] as const));
    const proxies = Object.fromEntries(started) as Record<Service, FaultProxy>;
    this.#proxies.set(id, proxies);
    this.cluster.spawn(id, ['--debug-port', '0'], {
      AWS_ENDPOINT_URL_DYNAMODB: proxies.dynamodb.url,
      AWS_ENDPOINT_URL_KINESIS: proxies.kinesis.url,
      // GetMedia goes to the URL GetDataEndpoint answers, which the KVS server takes from the request's Host: the
      // proxy.
      AWS_ENDPOINT_URL_KINESIS_VIDEO: proxies.kvs.url,
      AWS_ENDPOINT_URL_KINESIS_VIDEO_MEDIA: proxies.kvs.url,
      AWS_ENDPOINT_URL_KINESIS_VIDEO_ARCHIVED_MEDIA: proxies.kvs.url,
      AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME: proxies.sagemaker.url,
    });
    const debugLine = () => this.cluster.lines.find((l) => l.event === 'debug-server' && l.worker === id);
    await until(`${id}'s debug server`, () => debugLine() !== undefined, START_TIMEOUT_MS);
    this.monitor.add(id, String(debugLine()!.url).replace(/\/debug$/, ''));
  }

  /** Starts the workers at once, so that they share the new leases from the start rather than by stealing. */
  async spawnAll(ids: string[]): Promise<void> {
    await Promise.all(ids.map((id) => this.spawn(id)));
  }

  /** Stops worker `id` with `signal` and waits for it to exit; returns its exit code. */
  async stop(id: string, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    const worker = this.cluster.workers.get(id)!;
    worker.process.kill(signal);
    const code = await worker.exited;
    this.monitor.remove(id);
    return code;
  }

  /** Worker `id`'s proxy for `service`. */
  proxy(id: string, service: Service): FaultProxy {
    const proxy = this.#proxies.get(id)?.[service];
    if (!proxy) throw new Error(`no ${service} proxy for worker ${id}`);
    return proxy;
  }

  /** Every worker's proxy for `service`. */
  proxies(service: Service): FaultProxy[] {
    return [...this.#proxies.values()].map((p) => p[service]);
  }

  /** `mode` on every worker's `service` proxy for `ms`, then pass; when the fault began and ended. */
  async window(service: Service, mode: FaultMode, ms: number): Promise<{ start: number; end: number }> {
    const windows = await Promise.all(this.proxies(service).map((p) => p.window(mode, ms)));
    return { start: Math.min(...windows.map((w) => w.start)), end: Math.max(...windows.map((w) => w.end)) };
  }

  /**
   * Waits until the workers hold the streams `perWorker` each (by their logs), are reading exactly those (by their
   * debug servers) and have caught up with each and checkpointed it, so that no fault starts in a hand-over or a
   * start-up.
   */
  async settled(ids: string[], perWorker: number[], ms = 120_000): Promise<void> {
    const reading = () => ids.map((id) => this.monitor.latest(id)?.reading.length ?? 0).join('/');
    const check = () => this.cluster.counts(ids).join('/') === perWorker.join('/') && reading() === perWorker.join('/');
    await until(`streams held and read ${perWorker.join('/')}`, check, ms).catch((error: Error) => {
      throw new Error(`${error.message} (held: ${this.cluster.counts(ids).join('/')}, reading: ${reading()})`);
    });
    // Steady state: every stream's holder has worked off the backlog it found when it took the stream (a checkpoint of
    // a fragment received after that), so that a fault finds no start-up backlog and its duplicates are its own.
    const caughtUp = (stream: string, held: Map<string, Set<string>>) => {
      const holder = ids.find((id) => held.get(id)?.has(stream));
      const since =
        this.cluster.lines.findLast((l) => l.event === 'acquired' && l.stream === stream && l.worker === holder)?.at ??
        Infinity;
      const mine = (l: LogLine) => l.event === 'checkpoint' && l.stream === stream && l.worker === holder;
      return this.cluster.lines.some((l) => mine(l) && Number(l.serverTimestamp) >= since);
    };
    const behind = () => {
      const held = this.cluster.holdings();
      return this.streams.filter((s) => !caughtUp(s, held));
    };
    await until('every stream caught up and checkpointed by its holder', () => behind().length === 0, ms).catch(
      (error: Error) => {
        throw new Error(`${error.message} (not yet: ${behind().join(', ')})`);
      },
    );
  }

  /**
   * The workers' log lines that tell a story (not per fragment) and every fault set, in order, times from the first.
   */
  timeline(): string {
    const faults = [...this.#proxies].flatMap(([id, proxies]) =>
      Object.entries(proxies).flatMap(([service, proxy]) =>
        proxy.changes.map((c) => ({ at: c.at, text: `${id} ${service} proxy: ${describeMode(c.mode)}` })),
      ),
    );
    const lines = this.cluster.lines
      .filter((l) => !QUIET_EVENTS.has(l.event))
      .map((l) => ({
        at: l.at,
        text: [l.worker, l.event, l.stream, l.code, l.reason, String(l.message ?? '').slice(0, 160)]
          .filter(Boolean)
          .join(' '),
      }));
    const events = [...faults, ...lines].sort((a, b) => a.at - b.at);
    const t0 = events[0]?.at ?? 0;
    return events.map((e) => `TIMELINE +${e.at - t0} ${e.text}`).join('\n');
  }

  async close(): Promise<void> {
    await this.monitor.stop();
    this.#results.close();
    await this.cluster.close();
    await Promise.all([...this.#proxies.values()].flatMap((p) => Object.values(p).map((proxy) => proxy.close())));
  }
}
