// The fleet's worker processes (`kvs-infer run --lease-only`, the built CLI) and what their stdout says: who holds
// which stream (acquired / lost / released lines), who holds the sync lease, and each worker's lease-table units
// (its EMF lines). Holdings are kept up to date line by line, so a balance check costs O(streams) at most.

import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { WORKER_NODE_FLAGS } from '../src/cli/node-flags.js';
import { KvsInferError } from '../src/errors.js';

/** One EMF interval of one worker: the lease-table units its own calls consumed since the previous one. */
export interface UnitSample {
  /** The EMF timestamp, epoch ms. */
  at: number;
  read: number;
  write: number;
  /** Strongly consistent lease-table listings (LeaseSyncs) in the interval. */
  syncs: number;
}

export interface FleetWorker {
  id: string;
  process: ChildProcess;
  exited: Promise<number | null>;
  /** False once killed or exited: its holdings are gone. */
  alive: boolean;
  /** Sent SIGTERM: it hands its leases back, and no longer counts in the share. */
  stopping: boolean;
  held: Set<string>;
  units: UnitSample[];
}

/** A stream lease acquired, as logged. */
export interface Acquisition {
  worker: string;
  stream: string;
  at: number;
}

export interface Balance {
  /** Streams held by exactly one live worker, a serving one. */
  heldOnce: number;
  /** Streams held by more than one live worker (a steal its victim has not noticed yet). */
  heldTwice: number;
  /** The most streams any serving worker holds. */
  maxHeld: number;
  /** ceil(streams / serving workers). */
  share: number;
  balanced: boolean;
}

export class FleetWorkers {
  readonly workers = new Map<string, FleetWorker>();
  readonly acquisitions: Acquisition[] = [];
  /** Stream leases lost (not released), as logged, with the reason the worker gave (taken, expired, deleted). */
  readonly losses: { worker: string; stream: string; reason: string; at: number }[] = [];
  /** Lines that were not JSON (a library's warning, a crash trace), kept for the report's diagnostics. */
  readonly stray: string[] = [];
  readonly #streams: string[];
  readonly #command: { main: string; config: string; env: Record<string, string> };
  readonly #holders = new Map<string, Set<string>>();
  #syncHolder: string | undefined;
  #peak = 0;

  constructor(streams: string[], command: { main: string; config: string; env: Record<string, string> }) {
    this.#streams = streams;
    this.#command = command;
    for (const stream of streams) this.#holders.set(stream, new Set());
  }

  /** Starts `kvs-infer run --lease-only` as worker `id`. */
  spawn(id: string): FleetWorker {
    const { main, config, env } = this.#command;
    // The built CLI without a loader, with the worker's Node flags, as in production.
    const child = spawn(
      process.execPath,
      [...WORKER_NODE_FLAGS, main, 'run', '--config', config, '--worker-id', id, '--lease-only'],
      {
        env: { ...process.env, ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const worker: FleetWorker = {
      id,
      process: child,
      exited,
      alive: true,
      stopping: false,
      held: new Set(),
      units: [],
    };
    this.workers.set(id, worker);
    void exited.then(() => this.#retire(worker));
    createInterface({ input: child.stdout! }).on('line', (text) => this.#line(worker, text));
    createInterface({ input: child.stderr! }).on('line', (text) => this.#keepStray(`${id}: ${text}`));
    return worker;
  }

  /** Sends `signal`; SIGKILL retires the worker at once (its leases are nobody's until they expire). */
  signal(id: string, signal: 'SIGTERM' | 'SIGKILL'): void {
    const worker = this.workers.get(id);
    if (worker === undefined) throw new Error(`no worker ${id}`);
    worker.process.kill(signal);
    if (signal === 'SIGKILL') this.#retire(worker);
    else worker.stopping = true;
  }

  /** Workers running and not told to stop. */
  get serving(): FleetWorker[] {
    return [...this.workers.values()].filter((w) => w.alive && !w.stopping);
  }

  /** The live worker that last logged sync-lease-acquired, if it has not lost it since. */
  get syncHolder(): string | undefined {
    return this.#syncHolder !== undefined && this.workers.get(this.#syncHolder)?.alive ? this.#syncHolder : undefined;
  }

  /**
   * The most streams any worker held right after acquiring one, since the last resetPeak(): a worker taking beyond its
   * share shows here, holdings from before the reset do not.
   */
  get peak(): number {
    return this.#peak;
  }

  resetPeak(): void {
    this.#peak = 0;
  }

  /** Balanced: every stream held by exactly one worker, a serving one, and none holds more than the share. */
  balance(): Balance {
    let heldOnce = 0;
    let heldTwice = 0;
    for (const holders of this.#holders.values()) {
      const [only] = holders;
      if (holders.size === 1 && !this.workers.get(only!)!.stopping) heldOnce++;
      else if (holders.size > 1) heldTwice++;
    }
    const serving = this.serving;
    const maxHeld = Math.max(0, ...serving.map((w) => w.held.size));
    const share = Math.ceil(this.#streams.length / Math.max(1, serving.length));
    return {
      heldOnce,
      heldTwice,
      maxHeld,
      share,
      balanced: heldOnce === this.#streams.length && maxHeld <= share,
    };
  }

  /** Kills every worker still running and waits for them to exit. */
  async close(): Promise<void> {
    for (const worker of this.workers.values()) if (worker.process.exitCode === null) worker.process.kill('SIGKILL');
    await Promise.all([...this.workers.values()].map((w) => w.exited));
  }

  #line(worker: FleetWorker, text: string): void {
    let line: Record<string, unknown>;
    try {
      line = JSON.parse(text) as Record<string, unknown>;
    } catch {
      this.#keepStray(`${worker.id}: ${text}`);
      return;
    }
    const at = Date.now();
    if ('_aws' in line) {
      // The worker's own document (no StreamName) carries the lease-table units.
      if (line.StreamName !== undefined || line.LeaseTableReadUnits === undefined) return;
      const timestamp = (line._aws as { Timestamp: number }).Timestamp;
      const units = (name: string) => (typeof line[name] === 'number' ? (line[name] as number) : 0);
      worker.units.push({
        at: timestamp,
        read: units('LeaseTableReadUnits'),
        write: units('LeaseTableWriteUnits'),
        syncs: units('LeaseSyncs'),
      });
      return;
    }
    if (!worker.alive) return;
    const stream = line.stream;
    if (line.event === 'sync-lease-acquired') this.#syncHolder = worker.id;
    if (line.event === 'sync-lease-lost' && this.#syncHolder === worker.id) this.#syncHolder = undefined;
    if (typeof stream !== 'string' || !this.#holders.has(stream)) return;
    if (line.event === 'acquired') {
      worker.held.add(stream);
      this.#holders.get(stream)!.add(worker.id);
      this.acquisitions.push({ worker: worker.id, stream, at });
      this.#peak = Math.max(this.#peak, worker.held.size);
    } else if (line.event === 'lost' || line.event === 'released') {
      if (line.event === 'lost') this.losses.push({ worker: worker.id, stream, reason: String(line.reason), at });
      worker.held.delete(stream);
      this.#holders.get(stream)!.delete(worker.id);
    }
  }

  #retire(worker: FleetWorker): void {
    if (!worker.alive) return;
    worker.alive = false;
    for (const stream of worker.held) this.#holders.get(stream)!.delete(worker.id);
    worker.held.clear();
  }

  #keepStray(text: string): void {
    if (this.stray.length < 50) this.stray.push(text);
  }
}

/** `path` if the CLI has been built there: the children run it without a TypeScript loader. */
export function builtCli(path: string): string {
  if (!existsSync(path))
    throw new KvsInferError(
      'BENCH_UNAVAILABLE',
      `${path} not found: run \`npm run build\` first (fleet workers run it)`,
    );
  return path;
}
