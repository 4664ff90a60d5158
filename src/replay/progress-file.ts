// Where a replay keeps what it has done, so that running the same command again goes on from there:
// a small JSON file, replaced atomically (written beside it, flushed, renamed over it), so that a replay
// killed at any moment leaves either the previous state or the new one. It is kept apart from the lease
// table on purpose: a replay holds no lease, and nothing it writes can be taken for a live worker's.

import { createHash } from 'node:crypto';
import { open, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { SamplerState } from '../media/index.js';
import { ReplayError } from './errors.js';

/** What identifies a replay: the same command line (stream, range, model, data stream) is the same replay. */
export interface ReplayKey {
  stream: string;
  /** The range as ListFragments selects it: PRODUCER_TIMESTAMP, epoch ms. */
  selector: string;
  start: number;
  end: number;
  endpoint: string;
  dataStream: string;
}

export interface ReplayState {
  key: ReplayKey;
  /** The last fragment done (every fragment before it in the range too); null before the first. */
  lastFragment: string | null;
  /** The sampler's state after `lastFragment` (as a checkpoint keeps it): sampling goes on as if never stopped. */
  sampler: SamplerState;
  /** Fragments done so far, over every run. */
  fragmentsDone: number;
  /** Every fragment the range held at the last run's listing was done. */
  complete: boolean;
  /** ISO 8601, when this was written. */
  updatedAt: string;
}

const FORMAT = 'kvs-infer-replay/1';

/** `kvs-infer-replay-<stream>-<hash of the key>.json` in `dir`: one file per replay, found again by its command. */
export function defaultProgressPath(key: ReplayKey, dir: string): string {
  const hash = createHash('sha256')
    .update(JSON.stringify(keyFields(key)))
    .digest('hex')
    .slice(0, 12);
  return join(dir, `kvs-infer-replay-${key.stream}-${hash}.json`);
}

export class ProgressFile {
  readonly path: string;
  #state: ReplayState;
  /** The state to write next, and the write under way: writes never overlap, and the latest state wins. */
  #pending: ReplayState | null = null;
  #writing: Promise<void> = Promise.resolve();
  #failure: Error | null = null;

  private constructor(path: string, state: ReplayState) {
    this.path = path;
    this.#state = state;
  }

  /**
   * The replay's file at `path`: its state when it exists (REPLAY_BAD_PROGRESS if it is unreadable, not a progress
   * file, or another replay's), a fresh state otherwise (written on the first save).
   */
  static async open(path: string, key: ReplayKey): Promise<ProgressFile> {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return new ProgressFile(path, fresh(key));
      throw new ReplayError('REPLAY_BAD_PROGRESS', `cannot read progress file ${path}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    let document: { format?: unknown } & Partial<ReplayState>;
    try {
      document = JSON.parse(text) as typeof document;
    } catch (error) {
      throw new ReplayError(
        'REPLAY_BAD_PROGRESS',
        `progress file ${path} is not valid JSON: ${(error as Error).message}`,
      );
    }
    if (document?.format !== FORMAT || !isKey(document.key))
      throw new ReplayError('REPLAY_BAD_PROGRESS', `${path} is not a kvs-infer replay progress file`);
    if (JSON.stringify(keyFields(document.key)) !== JSON.stringify(keyFields(key))) {
      throw new ReplayError(
        'REPLAY_BAD_PROGRESS',
        `progress file ${path} is for another replay (${describe(document.key)}): ` +
          'give this one its own --progress file',
      );
    }
    const { format: _, ...state } = document as ReplayState & { format: string };
    return new ProgressFile(path, state);
  }

  get state(): ReplayState {
    return this.#state;
  }

  /**
   * Takes `change` into the state at once and writes it in the background; `flush` waits for the write and reports
   * the first one that failed.
   */
  save(change: Partial<Omit<ReplayState, 'key' | 'updatedAt'>>): void {
    this.#state = { ...this.#state, ...change, updatedAt: new Date().toISOString() };
    const idle = this.#pending === null;
    this.#pending = this.#state;
    if (idle) this.#writing = this.#writing.then(() => this.#writeLatest());
  }

  /** Resolves once the latest state is on disk; REPLAY_BAD_PROGRESS if a write failed. */
  async flush(): Promise<void> {
    await this.#writing;
    if (this.#failure !== null) throw this.#failure;
  }

  async #writeLatest(): Promise<void> {
    while (this.#pending !== null) {
      const state = this.#pending;
      this.#pending = null;
      try {
        await this.#write(state);
      } catch (error) {
        this.#failure ??= error as Error;
      }
    }
  }

  async #write(state: ReplayState): Promise<void> {
    const temporary = `${this.path}.${process.pid}.tmp`;
    try {
      const file = await open(temporary, 'w');
      try {
        await file.writeFile(`${JSON.stringify({ format: FORMAT, ...state }, null, 2)}\n`);
        await file.sync();
      } finally {
        await file.close();
      }
      await rename(temporary, this.path);
    } catch (error) {
      await rm(temporary, { force: true });
      throw new ReplayError(
        'REPLAY_BAD_PROGRESS',
        `cannot write progress file ${this.path}: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
  }
}

function fresh(key: ReplayKey): ReplayState {
  return {
    key,
    lastFragment: null,
    sampler: { keyframesSeen: 0 },
    fragmentsDone: 0,
    complete: false,
    updatedAt: new Date().toISOString(),
  };
}

function isKey(key: unknown): key is ReplayKey {
  const k = key as Partial<Record<keyof ReplayKey, unknown>> | null;
  return (
    typeof k === 'object' &&
    k !== null &&
    [k.stream, k.selector, k.endpoint, k.dataStream].every((field) => typeof field === 'string') &&
    [k.start, k.end].every((field) => typeof field === 'number')
  );
}

/** The replay a key stands for, as its command line gives it. */
function describe(key: ReplayKey): string {
  const when = (ms: number) => new Date(ms).toISOString();
  return (
    `stream ${key.stream} from ${when(key.start)} to ${when(key.end)} by ${key.selector}, ` +
    `endpoint ${key.endpoint}, data stream ${key.dataStream}`
  );
}

/** The key's fields in a fixed order, so that two keys compare (and hash) equal whatever order they were built in. */
function keyFields(key: ReplayKey): unknown[] {
  return [key.stream, key.selector, key.start, key.end, key.endpoint, key.dataStream];
}
