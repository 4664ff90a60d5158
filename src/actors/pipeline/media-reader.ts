// Reads one KVS stream as a lease actor does: GetDataEndpoint (cached), then GetMedia from just after the
// checkpointed fragment (at it, for an inclusive checkpoint; or from now), parsed as it arrives. One
// connection per call: reconnecting with backoff is the lease machine's decision. Within a call the
// reader finds a way forward: a start KVS refuses (an expired continuation token, a checkpoint aged out
// of retention or from a stream since recreated) gives way to the next one, down to the oldest retained
// fragment, so a stream always moves on. With maxMillisBehindNow, a stream read too far behind its newest fragment
// jumps to NOW after the fragment that shows it (live-edge.ts).

import { finished, Readable } from 'node:stream';
import { GetMediaCommand, type KinesisVideoMediaClient, type StartSelector } from '@aws-sdk/client-kinesis-video-media';
import type { DataEndpoints } from '../../aws/data-endpoints.js';
import { KvsInferError } from '../../errors.js';
import type { ResumePoint } from '../../media/checkpoint.js';
import { compareFragmentNumbers } from '../../media/fragment-number.js';
import { type Fragment, type MkvEvent, MkvParser } from '../../media/index.js';
import { LiveEdge, type LiveEdgeSkip } from './live-edge.js';

export type MediaReaderErrorCode =
  /** The stream does not exist (GetDataEndpoint or GetMedia answered ResourceNotFoundException). */
  | 'STREAM_NOT_FOUND'
  /** GetDataEndpoint or GetMedia failed, or the body broke off (network error, deadline, 5xx). */
  | 'GET_MEDIA_FAILED'
  /** The body sent no byte for idleTimeoutMs while the reader waited for one. */
  | 'GET_MEDIA_IDLE'
  /** KVS stopped the body with in-band error tags (AWS_KINESISVIDEO_ERROR_ID / _CODE). */
  | 'GET_MEDIA_ERROR';

export class MediaReaderError extends KvsInferError<MediaReaderErrorCode> {}

/**
 * AWS_KINESISVIDEO_ERROR_ID of "requested fragment is not found": the start selector names a fragment KVS no longer
 * has.
 */
const FRAGMENT_NOT_FOUND = 4000;

/** What the reader reports besides parser events, for logs and metrics. */
export type ReaderNotice =
  /** KVS sent in-band error tags; GetMedia stops after them. */
  | {
      type: 'get-media-error';
      errorId: number | null;
      errorCode: string | null;
      fragmentNumber: string | null;
      startSelectorType: string;
    }
  /**
   * The checkpoint could not be resumed, so reading went on from the oldest retained fragment: the fragments
   * after `checkpoint` (from it, for an inclusive one) and before `firstFragmentNumber` are given up. Sent when
   * the first of those arrives, or with null fields if the read ends before any does.
   */
  | {
      type: 'checkpoint-unresumable';
      checkpoint: string;
      reason: string;
      firstFragmentNumber: string | null;
      firstServerTimestamp: number | null;
    }
  /** The stream was too far behind: reading jumped to NOW, skipping a range of fragments (maxMillisBehindNow). */
  | LiveEdgeSkip;

export interface MediaReaderOptions {
  /** The stream's GetMedia endpoint (GetDataEndpoint, cached), forgotten after a failure that may mean it is wrong. */
  endpoints: Pick<DataEndpoints, 'resolve' | 'forgetAfter'>;
  /** Builds the data-plane client for the endpoint GetDataEndpoint answers. */
  mediaClient: (endpoint: string) => KinesisVideoMediaClient;
  streamName: string;
  /**
   * The checkpoint: reading resumes after its fragment (FRAGMENT_NUMBER), or at it when it is inclusive
   * (SERVER_TIMESTAMP at its server timestamp, skipping any earlier fragment that start brings). Null: from
   * `startWhenNew`.
   */
  resumeFrom: ResumePoint | null;
  /**
   * The last continuation token of an earlier connection: preferred on a reconnect (it resumes
   * after the last fragment sent, complete or not); when KVS refuses it, `resumeFrom` is used.
   */
  continuationToken?: string | null;
  /** Where a stream without a checkpoint starts; default NOW, as KIT does. */
  startWhenNew?: 'NOW' | 'EARLIEST';
  signal?: AbortSignal;
  /** Told how many bytes of the GetMedia body came, as they come (those of one read together). */
  onBytes?: (bytes: number) => void;
  /**
   * A body that sends no byte for this long, while the reader waits for one, is dropped (GET_MEDIA_IDLE) so that
   * the lease machine reconnects with the continuation token. Time the consumer takes (backpressure) does not
   * count. Default 20000 (getMediaIdleTimeoutMillis).
   */
  idleTimeoutMs?: number;
  /** Told of in-band GetMedia errors, of a checkpoint given up and of a jump to the live edge, as they happen. */
  onNotice?: (notice: ReaderNotice) => void;
  /**
   * A fragment read further behind the stream's newest than this (its MillisBehindNow) ends the connection after it,
   * and reading goes on from NOW: what lies between is skipped. Undefined: never.
   */
  maxMillisBehindNow?: number;
}

const DEFAULT_IDLE_TIMEOUT_MS = 20_000;

/** One way to start reading, and what it stands for: tried in order until KVS accepts one. */
interface Start {
  kind: 'token' | 'checkpoint' | 'start' | 'live-edge';
  selector: StartSelector;
  /** An inclusive checkpoint, started by time: fragments before it are skipped, and the first one kept should be it. */
  at?: ResumePoint;
}

/** Where reading goes on after a fragment too far behind. */
const LIVE_EDGE_START: Start = { kind: 'live-edge', selector: { StartSelectorType: 'NOW' } };

/** Thrown by a connection whose start KVS refused, to move on to the next start. */
class StartRefused extends Error {}

/**
 * The parser's events for the stream, until GetMedia's body ends or the signal aborts: those of each read of the
 * body in one array, so that the many frames of a read cost the consumer no async step each.
 */
export async function* readStreamMedia(options: MediaReaderOptions): AsyncGenerator<MkvEvent[]> {
  const { streamName, signal } = options;
  let media: KinesisVideoMediaClient;
  try {
    media = options.mediaClient(await options.endpoints.resolve(streamName, signal));
  } catch (error) {
    if (signal?.aborted) return;
    throw failure(streamName, error);
  }
  let starts = startsOf(options);
  const givenUp = new GivenUp(options.onNotice);
  const liveEdge = options.maxMillisBehindNow === undefined ? null : new LiveEdge(options.maxMillisBehindNow);
  try {
    let i = 0;
    while (i < starts.length) {
      const start = starts[i]!;
      try {
        const behind = yield* connection(media, start, i === starts.length - 1, givenUp, liveEdge, options);
        if (!behind) return;
        // NOW is the last start there is: a refusal of it is the stream's problem.
        starts = [LIVE_EDGE_START];
        i = 0;
      } catch (error) {
        if (error instanceof StartRefused) {
          if (start.kind === 'checkpoint') givenUp.refused(options.resumeFrom!.fragmentNumber, error.message);
          i++;
          continue;
        }
        if (signal?.aborted) return;
        options.endpoints.forgetAfter(streamName, error instanceof MediaReaderError ? error.cause : error);
        throw error instanceof MediaReaderError ? error : failure(streamName, error);
      }
    }
  } finally {
    givenUp.end(signal?.aborted ?? false);
  }
}

/**
 * One GetMedia connection from `start`, its events until the body ends; returns true when it ended early because
 * the stream is too far behind (`liveEdge`). Throws StartRefused when KVS refuses the start (an error answer, or
 * in-band 4000 before any media), unless it is the `last` one to try.
 */
async function* connection(
  media: KinesisVideoMediaClient,
  start: Start,
  last: boolean,
  givenUp: GivenUp,
  liveEdge: LiveEdge | null,
  options: MediaReaderOptions,
): AsyncGenerator<MkvEvent[], boolean> {
  const { streamName, signal, idleTimeoutMs = DEFAULT_IDLE_TIMEOUT_MS } = options;
  const startSelectorType = start.selector.StartSelectorType!;
  const controller = new AbortController();
  const abortSignal = signal ? AbortSignal.any([signal, controller.signal]) : controller.signal;
  try {
    let body: AsyncIterable<Uint8Array>;
    try {
      const command = new GetMediaCommand({ StreamName: streamName, StartSelector: start.selector });
      const output = await answered(() => media.send(command, { abortSignal }), controller, idleTimeoutMs);
      body = output.Payload as AsyncIterable<Uint8Array>;
    } catch (error) {
      const { name, message } = error as Error;
      // The last start names no fragment: a refusal of it is the stream's problem (STREAM_NOT_FOUND), not the start's.
      if (!last && (name === 'InvalidArgumentException' || name === 'ResourceNotFoundException'))
        throw new StartRefused(`${name}: ${message}`);
      throw error;
    }
    if (!body) throw new Error('GetMedia answered no body');
    givenUp.opened();
    const bytes = idleGuarded(body, idleTimeoutMs, () => {
      controller.abort();
      return new MediaReaderError(
        'GET_MEDIA_IDLE',
        `GetMedia of stream ${streamName} sent no byte for ${idleTimeoutMs} ms`,
      );
    });
    const parser = new MkvParser();
    let readAny = false;
    /**
     * The events of one chunk that the consumer should see: up to an in-band error, which is thrown after them, or
     * up to the fragment after which reading jumps to the live edge (`jump`).
     */
    const vet = (events: MkvEvent[]): { batch: MkvEvent[]; error: Error | null; jump: boolean } => {
      const batch: MkvEvent[] = [];
      for (const event of events) {
        const fragment = fragmentOf(event);
        if (event.type === 'fragment' && (event.fragment.errorId !== null || event.fragment.errorCode !== null)) {
          const { errorCode, fragmentNumber } = event.fragment;
          const errorId = integerOrNull(event.fragment.errorId);
          options.onNotice?.({ type: 'get-media-error', errorId, errorCode, fragmentNumber, startSelectorType });
          const what = `error ${errorId ?? event.fragment.errorId} (${errorCode ?? 'no code'})`;
          // Not found before any media: the start names a fragment KVS no longer has.
          if (errorId === FRAGMENT_NOT_FOUND && !readAny && !last)
            return { batch, error: new StartRefused(`in-band ${what}`), jump: false };
          const where = fragmentNumber ? ` at fragment ${fragmentNumber}` : '';
          const message = `GetMedia of stream ${streamName} from ${startSelectorType} stopped with ${what}${where}`;
          return { batch, error: new MediaReaderError('GET_MEDIA_ERROR', message), jump: false };
        }
        if (start.at && fragment && isBefore(fragment, start.at)) continue;
        // A parse error names its fragment, but is no proof that media came.
        if (event.type !== 'error' && fragment?.fragmentNumber != null) {
          // By time KVS starts past a fragment it no longer has (aged out, or from a stream since recreated) without
          // a word.
          if (!readAny && start.at && fragment.fragmentNumber !== start.at.fragmentNumber)
            givenUp.passed(start.at.fragmentNumber);
          readAny = true;
          givenUp.read(fragment);
        }
        if (liveEdge !== null && event.type === 'frame') liveEdge.frame(event.frame);
        const edge = liveEdge !== null && event.type === 'fragment' ? liveEdge.read(event.fragment) : null;
        if (edge?.skipped) options.onNotice?.(edge.skipped);
        batch.push(event);
        // The consumer takes the fragment's end first: a jump never leaves a fragment half read.
        if (edge?.jump) return { batch, error: null, jump: true };
      }
      return { batch, error: null, jump: false };
    };
    for await (const chunks of bytes) {
      let size = 0;
      for (const chunk of chunks) size += chunk.byteLength;
      options.onBytes?.(size);
      const { batch, error, jump } = vet(
        chunks.length === 1 ? parser.push(chunks[0]!) : chunks.flatMap((chunk) => parser.push(chunk)),
      );
      if (batch.length > 0) yield batch;
      if (error !== null) throw error;
      if (jump) return true;
    }
    const { batch, error, jump } = vet(parser.end());
    if (batch.length > 0) yield batch;
    if (error !== null) throw error;
    if (jump) return true;
    return false;
  } finally {
    // Lets go of the connection when the consumer stops early or a start is refused mid-body.
    controller.abort();
  }
}

/**
 * A checkpoint KVS refused, reported once reading has gone on from a later start: with the first fragment
 * read instead, or with none when the read ends before one (unless it was stopped: its owner is gone).
 */
class GivenUp {
  readonly #notify: ((notice: ReaderNotice) => void) | undefined;
  #refused: { checkpoint: string; reason: string } | null = null;
  #opened = false;

  constructor(notify: ((notice: ReaderNotice) => void) | undefined) {
    this.#notify = notify;
  }

  refused(checkpoint: string, reason: string): void {
    this.#refused = { checkpoint, reason };
  }

  /** A later start was accepted: the fallback happened (a refusal followed by none is the stream's problem). */
  opened(): void {
    if (this.#refused !== null) this.#opened = true;
  }

  read(first: Fragment): void {
    this.#report(first);
  }

  /**
   * An inclusive checkpoint resumed by time, whose first fragment read is a later one: the checkpointed one is gone.
   */
  passed(checkpoint: string): void {
    this.#refused = {
      checkpoint,
      reason: `fragment ${checkpoint} is no longer retained: reading by its server timestamp began at a later one`,
    };
    this.#opened = true;
  }

  end(stopped: boolean): void {
    if (!stopped) this.#report(null);
    this.#refused = null;
  }

  #report(first: Fragment | null): void {
    if (this.#refused === null || !this.#opened) return;
    const firstFragmentNumber = first?.fragmentNumber ?? null;
    this.#notify?.({
      type: 'checkpoint-unresumable',
      ...this.#refused,
      firstFragmentNumber,
      firstServerTimestamp: first?.serverTimestamp ?? null,
    });
    this.#refused = null;
  }
}

/**
 * The starts to try in order: the token, the checkpoint, then the oldest retained fragment; or the configured start.
 */
function startsOf(options: MediaReaderOptions): Start[] {
  const starts: Start[] = [];
  const token = options.continuationToken;
  if (token)
    starts.push({ kind: 'token', selector: { StartSelectorType: 'CONTINUATION_TOKEN', ContinuationToken: token } });
  const checkpoint = options.resumeFrom;
  if (checkpoint) {
    // GetMedia has no "at this fragment number": an inclusive checkpoint is found by its server timestamp.
    starts.push(
      checkpoint.inclusive
        ? {
            kind: 'checkpoint',
            selector: { StartSelectorType: 'SERVER_TIMESTAMP', StartTimestamp: new Date(checkpoint.serverTimestamp) },
            at: checkpoint,
          }
        : {
            kind: 'checkpoint',
            selector: { StartSelectorType: 'FRAGMENT_NUMBER', AfterFragmentNumber: checkpoint.fragmentNumber },
          },
    );
    starts.push({ kind: 'start', selector: { StartSelectorType: 'EARLIEST' } });
  } else {
    starts.push({ kind: 'start', selector: { StartSelectorType: options.startWhenNew ?? 'NOW' } });
  }
  return starts;
}

/** The fragment an event belongs to, if any. */
function fragmentOf(event: MkvEvent): Fragment | null {
  switch (event.type) {
    case 'fragment':
      return event.fragment;
    case 'frame':
      return event.frame.fragment;
    case 'error':
      return event.error.fragment;
    default:
      return null;
  }
}

/**
 * True for a fragment before the inclusive checkpoint `at`: KVS starts by time with the fragment that contains it,
 * which may be an earlier one that overlaps it. Server timestamps grow within a stream; the number breaks a tie.
 * Later timestamps always pass, so a stream since recreated (numbered anew) is never skipped.
 */
function isBefore(fragment: Fragment, at: ResumePoint): boolean {
  const { fragmentNumber, serverTimestamp } = fragment;
  if (fragmentNumber === null || serverTimestamp === null) return false;
  return (
    serverTimestamp < at.serverTimestamp ||
    (serverTimestamp === at.serverTimestamp && compareFragmentNumbers(fragmentNumber, at.fragmentNumber) < 0)
  );
}

function integerOrNull(value: string | null): number | null {
  return value !== null && /^\d{1,9}$/.test(value) ? Number(value) : null;
}

/** Chunks the body may hand over ahead of the consumer before it is paused: TCP then pushes back on the sender. */
const AHEAD_CHUNKS = 16;
const AHEAD_BYTES = 256 * 1024;

/**
 * The body's chunks, handed over as they come: each step yields every chunk that came since the last one (one read
 * of the socket often brings several of the body's chunks), so that the consumer takes one async step per read, not
 * per chunk. Rejects with `onIdle()` when nothing comes for `idleMs`. The clock runs only while this waits for the
 * network, never while the consumer holds chunks. One timer for the whole body, re-armed at each wait, rather than a
 * timer per chunk.
 *
 * The body is read by its `data` events, at most AHEAD_CHUNKS chunks or AHEAD_BYTES ahead of the consumer (then
 * paused until the consumer has taken them), not by the stream's async iterator: that one costs a `readable` event, a
 * promise and a copy of the buffered pieces into one buffer for every read, and reading 100 streams so cost about
 * twice the CPU (README, "Where the time goes"). A body that is not a Node stream is read through one.
 */
export async function* idleGuarded(
  body: AsyncIterable<Uint8Array>,
  idleMs: number,
  onIdle: () => Error,
): AsyncGenerator<Uint8Array[]> {
  const stream = body instanceof Readable ? body : Readable.from(body);
  const ahead: Uint8Array[] = [];
  let aheadBytes = 0;
  let ended = false;
  let failure: Error | null = null;
  /** Set while this waits for the network. */
  let waiting: { resolve: () => void; reject: (error: Error) => void } | null = null;
  const wake = (): void => {
    waiting?.resolve();
    waiting = null;
  };
  const onData = (chunk: Uint8Array): void => {
    ahead.push(chunk);
    aheadBytes += chunk.byteLength;
    if (ahead.length >= AHEAD_CHUNKS || aheadBytes >= AHEAD_BYTES) stream.pause();
    wake();
  };
  stream.on('data', onData);
  // The end, or the error: a premature close (the connection cut mid-body) is one.
  const stopWatching = finished(stream, (error) => {
    if (error) failure = error;
    else ended = true;
    wake();
  });
  // Fired while the consumer holds a chunk, it does nothing; the next wait re-arms it.
  const timer = setTimeout(() => {
    waiting?.reject(onIdle());
    waiting = null;
  }, idleMs);
  try {
    for (;;) {
      if (ahead.length > 0) {
        const chunks = ahead.splice(0);
        aheadBytes = 0;
        yield chunks;
        continue;
      }
      if (failure !== null) throw failure;
      if (ended) return;
      timer.refresh();
      stream.resume();
      await new Promise<void>((resolve, reject) => {
        waiting = { resolve, reject };
      });
    }
  } finally {
    clearTimeout(timer);
    stopWatching();
    stream.off('data', onData);
    // The body is given up (idle, or the consumer stopped): let its connection go. A late error is moot.
    if (!ended) {
      stream.on('error', () => {});
      stream.destroy();
    }
  }
}

/**
 * A media call (`send`) under a deadline on its whole answer: the SDK reads an error answer's body whole before the
 * call settles, and the media handlers have no socket timeout (their readers pace a media body), so an error body
 * that stalls would hold the call for ever. At `ms`, aborts `controller` and throws a TimeoutError.
 */
export async function answered<T>(send: () => Promise<T>, controller: AbortController, ms: number): Promise<T> {
  let cut: Error | undefined;
  const deadline = setTimeout(() => {
    cut = Object.assign(new Error(`no complete answer in ${ms} ms`), { name: 'TimeoutError' });
    controller.abort();
  }, ms);
  try {
    return await send();
  } catch (error) {
    throw cut ?? error;
  } finally {
    clearTimeout(deadline);
  }
}

/** The chunks of `idleGuarded`'s steps one by one, each told to `onBytes` first. */
export async function* counted(
  body: AsyncIterable<Uint8Array[]>,
  onBytes: (bytes: number) => void,
): AsyncGenerator<Uint8Array> {
  for await (const chunks of body) {
    for (const chunk of chunks) {
      onBytes(chunk.byteLength);
      yield chunk;
    }
  }
}

function failure(streamName: string, error: unknown): MediaReaderError {
  const name = (error as Error).name;
  if (name === 'ResourceNotFoundException') {
    return new MediaReaderError('STREAM_NOT_FOUND', `stream ${streamName} does not exist`, { cause: error });
  }
  return new MediaReaderError(
    'GET_MEDIA_FAILED',
    `GetMedia of stream ${streamName} failed: ${name}: ${(error as Error).message}`,
    { cause: error },
  );
}
