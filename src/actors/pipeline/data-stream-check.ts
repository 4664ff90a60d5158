// Whether the Kinesis data stream the results go to can be written: checked with DescribeStreamSummary
// at start and again, with backoff, until it is; told by the publisher when its calls find it missing or
// refused. The worker is not ready while it cannot be written (its frames would only pile up).

import { DescribeStreamSummaryCommand, type KinesisClient } from '@aws-sdk/client-kinesis';
import { backoffDelay } from '../../aws/backoff.js';

/** From 1 s doubling to 30 s, full jitter: a missing stream is usually being created by its stack. */
const RECHECK = { baseMs: 1_000, maxMs: 30_000, jitter: 1 } as const;

/** Errors of a PutRecords call or a DescribeStreamSummary that mean "cannot be written", by name. */
const UNWRITABLE = new Set([
  'ResourceNotFoundException',
  'AccessDeniedException',
  'KMSAccessDeniedException',
  'KMSDisabledException',
  'KMSNotFoundException',
]);

export interface DataStreamCheckOptions {
  client: KinesisClient;
  streamName: string;
  /** Deadline of one DescribeStreamSummary. */
  timeoutMs: number;
  /** Called when the stream turns unwritable (with why) and when it is writable again (null). */
  onChange: (problem: string | null) => void;
}

export class DataStreamCheck {
  readonly #options: DataStreamCheckOptions;
  #problem: string | null = 'not checked yet';
  /** Whether onChange has told anything yet: the first answer is always told. */
  #told = false;
  #attempt = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /**
   * A PutRecords call was refused (access, KMS) and none has landed since: DescribeStreamSummary cannot see
   * that, so only a call that lands clears it.
   */
  #refused = false;
  #stopped = false;

  constructor(options: DataStreamCheckOptions) {
    this.#options = options;
  }

  /** Why the stream cannot be written now, or null when it can. */
  get problem(): string | null {
    return this.#problem;
  }

  /** Checks now, and keeps checking until the stream is writable. */
  start(): Promise<void> {
    return this.#check();
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }

  /** A PutRecords call failed: if its error means the stream cannot be written, go back to checking. */
  callFailed(error: unknown): void {
    const name = error instanceof Error ? error.name : '';
    if (!UNWRITABLE.has(name) || this.#stopped) return;
    this.#refused = true;
    this.#set(`PutRecords to ${this.#options.streamName} failed: ${name}: ${(error as Error).message}`);
    if (this.#timer === undefined) this.#schedule();
  }

  /** A PutRecords call landed records: the stream is writable. */
  callSucceeded(): void {
    this.#refused = false;
    this.#attempt = 0;
    this.#set(null);
  }

  async #check(): Promise<void> {
    this.#timer = undefined;
    if (this.#stopped) return;
    const { client, streamName, timeoutMs } = this.#options;
    try {
      const out = await client.send(new DescribeStreamSummaryCommand({ StreamName: streamName }), {
        abortSignal: AbortSignal.timeout(timeoutMs),
      });
      const status = out.StreamDescriptionSummary?.StreamStatus;
      // UPDATING streams take writes; CREATING and DELETING ones do not.
      if (status === 'ACTIVE' || status === 'UPDATING') {
        this.#attempt = 0;
        // The stream exists; a refused PutRecords stands until the publisher's retries land one.
        if (!this.#refused) this.#set(null);
        return;
      }
      this.#set(`data stream ${streamName} is ${status ?? 'in an unknown state'}`);
    } catch (error) {
      const name = error instanceof Error ? error.name : 'Error';
      this.#set(
        name === 'ResourceNotFoundException'
          ? `data stream ${streamName} does not exist`
          : `DescribeStreamSummary of ${streamName} failed: ${name}: ${(error as Error).message}`,
      );
    }
    this.#schedule();
  }

  #schedule(): void {
    if (this.#stopped) return;
    // One recheck at a time: a call failing while a check runs must not start a second loop.
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.#check(), Math.max(250, backoffDelay(++this.#attempt, RECHECK)));
    this.#timer.unref();
  }

  /** Tells onChange when the stream turns writable or unwritable (not every new reason while it stays unwritable). */
  #set(problem: string | null): void {
    const turned = (this.#problem === null) !== (problem === null);
    this.#problem = problem;
    if (turned || !this.#told) {
      this.#told = true;
      this.#options.onChange(problem);
    }
  }
}
