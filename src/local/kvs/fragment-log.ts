// One stream's fragments, in memory: numbered and timestamped on arrival, retained for a window,
// listed by timestamp range, and read from any GetMedia start selector, retained then live.

import { KvsApiError, KvsInBandError } from './errors.js';
import type { FragmentInput, FragmentRange, StartSelector, StoredFragment } from './types.js';

export interface FragmentLogOptions {
  /** How long a fragment is kept after the log received it; default 24 hours (a stream's DataRetentionInHours). */
  retentionMs?: number;
  /** Epoch milliseconds; the server timestamp of each fragment and the retention window come from it. */
  clock?: () => number;
  /**
   * The first fragment number, a decimal string. By default a 47-digit number derived from the clock, so
   * that a restarted server never hands out a number it handed out before.
   */
  firstFragmentNumber?: string;
  /**
   * Memory cap: the oldest fragments are dropped, whatever their age, while the media the log holds
   * (distinct `blocks` buffers: a looped file's fragments share theirs) exceeds it. Default 512 MiB.
   */
  maxMemoryBytes?: number;
  /**
   * Cap on the size of the fragments held (their `sizeBytes`, each counted: what a KVS buffer stores), oldest
   * dropped first. Default none: only the memory cap applies.
   */
  maxBytes?: number;
  /** Cap on the fragments held, whatever their age; default 200,000 (over 2 days of 1-second fragments). */
  maxFragments?: number;
}

const DAY_MS = 24 * 60 * 60 * 1000;
/** Real KVS fragment numbers are 47 digits; they start with this prefix in the captures we have. */
const NUMBER_PREFIX = 91343852333181432n;
const NUMBER_PATTERN = /^[0-9]{1,128}$/;
/** Compact the array once this many dropped slots lead it, so that dropping stays O(1) amortised. */
const COMPACT_AT = 1024;

type Waiter = () => void;

/** The last clock-derived first number handed out in this process. */
let lastDefaultBase = 0n;

export class FragmentLog {
  readonly #retentionMs: number;
  readonly #clock: () => number;
  readonly #maxMemoryBytes: number;
  readonly #maxBytes: number;
  readonly #maxFragments: number;
  /** The number of sequence 0; fragment `seq` has number `#base + seq`, so lookups by number are O(1). */
  readonly #base: bigint;

  /** Retained fragments are `#items[#head..]`; the one at `#head` has sequence `#firstSeq`. */
  #items: (StoredFragment | undefined)[] = [];
  #head = 0;
  #firstSeq = 0;
  #nextSeq = 0;
  #bytes = 0;
  /** Distinct block buffers held and how many retained fragments share each. */
  readonly #buffers = new Map<Uint8Array, number>();
  #memoryBytes = 0;
  #closed = false;
  #waiters = new Set<Waiter>();

  constructor(options: FragmentLogOptions = {}) {
    this.#retentionMs = options.retentionMs ?? DAY_MS;
    this.#clock = options.clock ?? Date.now;
    this.#maxMemoryBytes = options.maxMemoryBytes ?? 512 * 1024 * 1024;
    this.#maxBytes = options.maxBytes ?? Number.POSITIVE_INFINITY;
    this.#maxFragments = options.maxFragments ?? 200_000;
    if (options.firstFragmentNumber !== undefined) {
      if (!NUMBER_PATTERN.test(options.firstFragmentNumber)) {
        throw new KvsApiError(
          'InvalidArgumentException',
          `firstFragmentNumber must be decimal digits, got ${options.firstFragmentNumber}`,
        );
      }
      this.#base = BigInt(options.firstFragmentNumber);
    } else {
      // 17 + 30 digits: the prefix, then the creation time in ms scaled so that 10^17 appends fit below it. Streams
      // created in the same millisecond (a test's, a bench's) would share numbers, which KVS's never do: each later
      // one starts 10^13 above the one before.
      const fromClock = NUMBER_PREFIX * 10n ** 30n + BigInt(Math.max(0, Math.floor(this.#clock()))) * 10n ** 17n;
      this.#base = fromClock > lastDefaultBase ? fromClock : lastDefaultBase + 10n ** 13n;
      lastDefaultBase = this.#base;
    }
  }

  get closed(): boolean {
    return this.#closed;
  }

  get count(): number {
    this.#expire();
    return this.#retained();
  }

  /** Sum of the retained fragments' sizes, as ListFragments reports them. */
  get bytes(): number {
    this.#expire();
    return this.#bytes;
  }

  /** Media memory actually held: shared block buffers counted once. */
  get memoryBytes(): number {
    this.#expire();
    return this.#memoryBytes;
  }

  get oldest(): StoredFragment | undefined {
    this.#expire();
    return this.#items[this.#head];
  }

  get newest(): StoredFragment | undefined {
    this.#expire();
    return this.#retained() > 0 ? this.#items[this.#items.length - 1] : undefined;
  }

  /** Numbers and timestamps the fragment; it becomes visible to every reader at once. Never blocks. */
  append(input: FragmentInput): StoredFragment {
    if (this.#closed) throw new KvsApiError('ResourceNotFoundException', 'The stream was deleted');
    const seq = this.#nextSeq++;
    const fragment: StoredFragment = {
      ...input,
      fragmentNumber: (this.#base + BigInt(seq)).toString(),
      serverTimestamp: this.#clock(),
      sizeBytes: input.blocks.length,
    };
    this.#items.push(fragment);
    this.#bytes += fragment.sizeBytes;
    const shared = this.#buffers.get(fragment.blocks) ?? 0;
    if (shared === 0) this.#memoryBytes += fragment.blocks.length;
    this.#buffers.set(fragment.blocks, shared + 1);
    this.#expire();
    this.#wake();
    return fragment;
  }

  get(fragmentNumber: string): StoredFragment | undefined {
    this.#expire();
    const seq = this.#seqOf(fragmentNumber);
    return seq === null || seq < this.#firstSeq || seq >= this.#nextSeq ? undefined : this.#at(seq);
  }

  /** Retained fragments whose timestamp of the range's kind lies in [start, end], oldest first. */
  list(range: FragmentRange): StoredFragment[] {
    this.#expire();
    const key = range.type === 'SERVER_TIMESTAMP' ? 'serverTimestamp' : 'producerTimestamp';
    const out: StoredFragment[] = [];
    for (let i = this.#head; i < this.#items.length; i++) {
      const fragment = this.#items[i]!;
      if (fragment[key] >= range.start && fragment[key] <= range.end) out.push(fragment);
    }
    return out;
  }

  /**
   * GetMedia's reading order. The selector is checked now (malformed numbers throw InvalidArgumentException,
   * numbers above any this log issued ResourceNotFoundException, and a fragment no longer retained, expired or
   * from before the stream was recreated, KvsInBandError 4000, which KVS sends inside the body) and the start is
   * fixed now: NOW means fragments appended after this call. The iterable yields retained fragments from there,
   * then live ones as they are appended, and ends when `signal` aborts or the log closes. A reader whose position
   * expires skips to the oldest retained fragment; it holds nothing but its position, so it never holds up
   * appends or memory.
   */
  read(selector: StartSelector, signal?: AbortSignal): AsyncIterable<StoredFragment> {
    this.#expire();
    const start = this.#startOf(selector);
    return this.#follow(start.seq, start.from, signal);
  }

  /**
   * Drops the oldest `count` retained fragments as if they had aged out (a test's way to put a checkpoint
   * out of retention without waiting hours); returns how many were dropped.
   */
  dropOldest(count: number): number {
    let dropped = 0;
    while (dropped < count && this.#retained() > 0) {
      this.#dropOldest(this.#items[this.#head]!);
      dropped++;
    }
    return dropped;
  }

  /** Ends every reader (the stream was deleted) and drops the media. Appending afterwards throws. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#items = [];
    this.#head = 0;
    this.#firstSeq = this.#nextSeq;
    this.#bytes = 0;
    this.#memoryBytes = 0;
    this.#buffers.clear();
    this.#wake();
  }

  #startOf(selector: StartSelector): { seq: number; from?: (f: StoredFragment) => boolean } {
    switch (selector.type) {
      case 'NOW':
        return { seq: this.#nextSeq };
      case 'EARLIEST':
        return { seq: this.#firstSeq };
      case 'FRAGMENT_NUMBER':
        return { seq: this.#after(selector.afterFragmentNumber, 'AfterFragmentNumber') };
      case 'CONTINUATION_TOKEN':
        // The token KVS sends is the number of the last fragment it sent.
        return { seq: this.#after(selector.continuationToken, 'ContinuationToken') };
      case 'SERVER_TIMESTAMP':
      case 'PRODUCER_TIMESTAMP': {
        const startTimestamp = selector.startTimestamp;
        if (!Number.isFinite(startTimestamp))
          throw new KvsApiError('InvalidArgumentException', `StartTimestamp ${startTimestamp} is not a time`);
        const key = selector.type === 'SERVER_TIMESTAMP' ? 'serverTimestamp' : 'producerTimestamp';
        // The fragment containing the start, or else the first one after it.
        const from = (f: StoredFragment): boolean => f[key] >= startTimestamp || f[key] + f.durationMs > startTimestamp;
        for (let seq = this.#firstSeq; seq < this.#nextSeq; seq++) if (from(this.#at(seq))) return { seq };
        return { seq: this.#nextSeq, from };
      }
    }
  }

  /** Where reading after `value` starts: the first fragment numbered above it, which must still be retained. */
  #after(value: string, what: string): number {
    if (typeof value !== 'string' || !NUMBER_PATTERN.test(value)) {
      throw new KvsApiError('InvalidArgumentException', `${what} ${String(value)} is not a fragment number`);
    }
    const number = BigInt(value);
    if (number >= this.#base + BigInt(this.#nextSeq)) {
      throw new KvsApiError('ResourceNotFoundException', `No fragment ${value} in this stream`);
    }
    // Aged out, or issued before this log began (a stream since recreated): KVS cannot tell what follows it.
    if (number < this.#base + BigInt(this.#firstSeq)) throw new KvsInBandError(4000);
    return Number(number - this.#base) + 1;
  }

  async *#follow(
    firstSeq: number,
    from: ((f: StoredFragment) => boolean) | undefined,
    signal?: AbortSignal,
  ): AsyncGenerator<StoredFragment> {
    let seq = firstSeq;
    let filter = from;
    while (!this.#closed && !signal?.aborted) {
      this.#expire();
      if (seq < this.#firstSeq) seq = this.#firstSeq;
      if (seq < this.#nextSeq) {
        const fragment = this.#at(seq++);
        if (filter !== undefined) {
          if (!filter(fragment)) continue;
          filter = undefined;
        }
        yield fragment;
        continue;
      }
      await this.#next(signal);
    }
  }

  /** Resolves at the next append, at close, or when the signal aborts. */
  #next(signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        this.#waiters.delete(done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      this.#waiters.add(done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = new Set();
    for (const wake of waiters) wake();
  }

  #retained(): number {
    return this.#nextSeq - this.#firstSeq;
  }

  #at(seq: number): StoredFragment {
    return this.#items[this.#head + seq - this.#firstSeq]!;
  }

  #seqOf(fragmentNumber: string): number | null {
    if (typeof fragmentNumber !== 'string' || !NUMBER_PATTERN.test(fragmentNumber)) return null;
    const offset = BigInt(fragmentNumber) - this.#base;
    return offset < 0n || offset > BigInt(Number.MAX_SAFE_INTEGER) ? null : Number(offset);
  }

  /** Drops what fell out of the retention window or over the caps; keeps at least the newest fragment. */
  #expire(): void {
    const horizon = this.#clock() - this.#retentionMs;
    while (this.#retained() > 0) {
      const oldest = this.#items[this.#head]!;
      const over =
        this.#memoryBytes > this.#maxMemoryBytes ||
        this.#bytes > this.#maxBytes ||
        this.#retained() > this.#maxFragments;
      if (!(oldest.serverTimestamp < horizon || (over && this.#retained() > 1))) break;
      this.#dropOldest(oldest);
    }
    if (this.#head >= COMPACT_AT && this.#head * 2 >= this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
  }

  #dropOldest(oldest: StoredFragment): void {
    this.#items[this.#head++] = undefined;
    this.#firstSeq++;
    this.#bytes -= oldest.sizeBytes;
    const shared = this.#buffers.get(oldest.blocks)!;
    if (shared === 1) {
      this.#buffers.delete(oldest.blocks);
      this.#memoryBytes -= oldest.blocks.length;
    } else {
      this.#buffers.set(oldest.blocks, shared - 1);
    }
  }
}
