// The lease actor's state machine: one per held lease (one KVS stream), from taking the lease to releasing or losing
// it. It holds no I/O: the acquirer, reader and checkpointer are supplied by the actor that runs it (`provide({ actors
// })`).

import {
  assign,
  type CallbackActorLogic,
  type EventObject,
  enqueueActions,
  fromCallback,
  fromPromise,
  type PromiseActorLogic,
  type SnapshotFrom,
  setup,
} from 'xstate';
import { type BackoffPolicy, backoffDelay, resolveBackoff } from '../aws/backoff.js';
import { type Checkpoint, isAfter, laterCheckpoint, type ResumePoint } from '../media/checkpoint.js';
import { errorCode, isLeaseLost, LeaseMachineError } from './errors.js';

export const DEFAULT_CHECKPOINT_INTERVAL_MS = 5_000;
/** Leaves room, inside the 25 s shutdown bound, for the final checkpoint and the release after draining. */
export const DEFAULT_DRAIN_TIMEOUT_MS = 10_000;
/**
 * Retries while a leased stream does not exist: 1 s, doubling to 5 minutes. The lease is kept meanwhile, so the
 * stream does not churn between workers; discovery retires the lease if the stream stops being configured.
 */
const DEFAULT_MISSING_STREAM_BACKOFF: BackoffPolicy = { baseMs: 1_000, maxMs: 300_000, jitter: 0.5 };

export interface LeaseMachineInput {
  streamName: string;
  leaseKey: string;
  /** How often, while reading, the latest completed fragment is written to the lease table. */
  checkpointIntervalMs?: number;
  /** How long a graceful shutdown waits for in-flight frames before writing the final checkpoint anyway. */
  drainTimeoutMs?: number;
  /** GetMedia reconnect backoff; missing fields come from DEFAULT_BACKOFF. */
  backoff?: Partial<BackoffPolicy>;
  /** Retries while the stream does not exist; missing fields come from DEFAULT_MISSING_STREAM_BACKOFF. */
  missingStreamBackoff?: Partial<BackoffPolicy>;
}

// ---- what the supplied actors receive and return ----

export interface AcquirerInput {
  streamName: string;
  leaseKey: string;
}

export interface AcquirerOutput {
  /** The checkpoint stored on the lease when it was taken, or null for a stream never checkpointed. */
  checkpoint: Checkpoint | null;
}

export interface ReaderInput {
  streamName: string;
  leaseKey: string;
  /**
   * The later of the checkpoint and what is pending: usually the latest completed fragment, to start after (the
   * FRAGMENT_NUMBER selector); for an inclusive one, the fragment to start at, found by its server timestamp.
   * Null when the stream has no checkpoint and nothing was read yet: use the configured start.
   */
  resumeFrom: ResumePoint | null;
  /**
   * The last continuation token GetMedia sent; null on the first connection. On a reconnect the reader should
   * prefer it (the CONTINUATION_TOKEN selector): fragments read but not yet complete are still in the pipeline,
   * which outlives the reader, so resuming after the last completed one would read them twice. Fall back to
   * `resumeFrom` if KVS rejects the token, or if the pipeline dropped what was in flight.
   */
  continuationToken: string | null;
  /** Reconnects since the last fragment read, 0 on the first connection; for logs. */
  attempt: number;
}

export interface CheckpointerInput {
  leaseKey: string;
  checkpoint: Checkpoint;
  /** True for the write made on graceful shutdown, after draining. */
  final: boolean;
}

/**
 * Takes the lease (conditional write) and returns its checkpoint; rejects with code LEASE_LOST when another worker won.
 */
export type AcquirerLogic = PromiseActorLogic<AcquirerOutput, AcquirerInput>;
/** Runs GetDataEndpoint + GetMedia until stopped; reports with ReaderEvent. Stopping it must abort the request. */
export type ReaderLogic = CallbackActorLogic<EventObject, ReaderInput>;
/** Writes one checkpoint (conditional on owner and counter); rejects with code LEASE_LOST when the lease is gone. */
export type CheckpointerLogic = PromiseActorLogic<void, CheckpointerInput>;

// ---- events ----

/** Sent by the reader (GetMedia) while it runs. */
export type ReaderEvent =
  /**
   * A whole fragment arrived from GetMedia: proof the connection works, so the backoff starts over. The first one
   * of a stream with no checkpoint is written at once as the stream's first checkpoint.
   */
  | { type: 'FRAGMENT_READ'; fragmentNumber: string; serverTimestamp: number; continuationToken: string | null }
  /** GetMedia's body ended without an error (KVS closes idle or long connections); reconnect. */
  | { type: 'READER_ENDED' }
  | { type: 'READER_FAILED'; error: unknown }
  /** KVS said the stream does not exist (ResourceNotFoundException): not yet created, or deleted. */
  | { type: 'STREAM_MISSING' };

/** Sent by the pipeline (the sink behind the reader), which outlives any one reader. */
export type PipelineEvent =
  /** Every sampled frame of this fragment, and of every fragment before it, has been published. */
  | {
      type: 'FRAGMENT_COMPLETE';
      fragmentNumber: string;
      serverTimestamp: number;
      keyframesSeen?: number;
      nextSampleAt?: number;
    }
  /** Nothing is in flight any more; sent after the reader stops on shutdown. */
  | { type: 'DRAINED' };

/** Sent by the lease coordinator, discovery, or the worker's shutdown. */
export type ControlEvent =
  | { type: 'CHECKPOINT_NOW' }
  /** A renewal of the lease carried `checkpoint` (see checkpointToCarry) and wrote it. */
  | { type: 'CHECKPOINT_WRITTEN'; checkpoint: Checkpoint }
  /** A renewal (or any conditional write) found the lease owned by someone else, or it expired or was deleted. */
  | { type: 'LEASE_LOST'; error?: unknown }
  | { type: 'SHUTDOWN' };

export type LeaseEvent = ReaderEvent | PipelineEvent | ControlEvent;

// ---- context and output ----

export type LeaseEndReason = 'shutdown' | 'lease-lost' | 'acquire-failed';

/** Errors are kept as plain data so that the debug page can show the context as JSON. */
export interface LeaseErrorSummary {
  source: 'acquirer' | 'reader' | 'checkpointer' | 'coordinator';
  code: string | null;
  message: string;
}

export interface LeaseContext {
  streamName: string;
  leaseKey: string;
  /** The last checkpoint known to be in the lease table (written by us, or found when taking the lease). */
  checkpoint: Checkpoint | null;
  /**
   * The latest completed fragment not yet written, or the first fragment read (inclusive) of a stream that has no
   * checkpoint; always after `checkpoint` when set.
   */
  pending: Checkpoint | null;
  /** The checkpoint being written right now. */
  inFlight: Checkpoint | null;
  continuationToken: string | null;
  /** Reconnects since the last fragment read; drives the backoff. */
  attempts: number;
  /** Times the stream was found missing since the last fragment read; drives missingStreamBackoff. */
  missingAttempts: number;
  /** How long the wait for a missing stream under way lasts; drawn once, on entering it, so that it can be logged. */
  missingRetryMs: number;
  lastError: LeaseErrorSummary | null;
  /** A fragment has been read under this lease: only the first read of a stream without a checkpoint writes one. */
  hasRead: boolean;
  checkpointIntervalMs: number;
  drainTimeoutMs: number;
  backoff: BackoffPolicy;
  missingStreamBackoff: BackoffPolicy;
  /** Set on every edge into a final state. */
  endReason: LeaseEndReason | null;
  drainTimedOut: boolean;
}

/** What the actor learns when the machine stops: whether to release the lease, and what was left unwritten. */
export interface LeaseMachineOutput {
  reason: LeaseEndReason;
  streamName: string;
  leaseKey: string;
  checkpoint: Checkpoint | null;
  /**
   * Pending (completed, or the inclusive first read) but never written; the next owner reads it again (at-least-once).
   */
  unwritten: Checkpoint | null;
  lastError: LeaseErrorSummary | null;
  drainTimedOut: boolean;
}

/** A backoff of the machine's input, a bad one refused like any other bad lease option. */
function leaseBackoff(leaseKey: string, partial: Partial<BackoffPolicy> | undefined): BackoffPolicy {
  try {
    return resolveBackoff(partial);
  } catch (error) {
    throw new LeaseMachineError('BAD_LEASE_OPTIONS', `lease ${leaseKey}: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

function initialContext(input: LeaseMachineInput): LeaseContext {
  const checkpointIntervalMs = input.checkpointIntervalMs ?? DEFAULT_CHECKPOINT_INTERVAL_MS;
  const drainTimeoutMs = input.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS;
  // A zero interval would reschedule itself forever within one tick.
  if (!(checkpointIntervalMs > 0) || !(drainTimeoutMs >= 0)) {
    throw new LeaseMachineError(
      'BAD_LEASE_OPTIONS',
      `lease ${input.leaseKey}: checkpointIntervalMs must be > 0 and drainTimeoutMs >= 0, ` +
        `got ${checkpointIntervalMs} and ${drainTimeoutMs}`,
    );
  }
  return {
    streamName: input.streamName,
    leaseKey: input.leaseKey,
    checkpoint: null,
    pending: null,
    inFlight: null,
    continuationToken: null,
    attempts: 0,
    missingAttempts: 0,
    missingRetryMs: 0,
    lastError: null,
    hasRead: false,
    checkpointIntervalMs,
    drainTimeoutMs,
    backoff: leaseBackoff(input.leaseKey, input.backoff),
    missingStreamBackoff: leaseBackoff(input.leaseKey, {
      ...DEFAULT_MISSING_STREAM_BACKOFF,
      ...input.missingStreamBackoff,
    }),
    endReason: null,
    drainTimedOut: false,
  };
}

function eventError(event: EventObject): unknown {
  return 'error' in event ? event.error : undefined;
}

function summarize(source: LeaseErrorSummary['source'], error: unknown): LeaseErrorSummary {
  return { source, code: errorCode(error), message: error instanceof Error ? error.message : String(error) };
}

function writeInput(context: LeaseContext, final: boolean): CheckpointerInput {
  // Every edge into a writing state runs `beginWrite` behind `canWriteCheckpoint`, so this cannot happen.
  if (context.inFlight === null) {
    throw new LeaseMachineError(
      'LEASE_MACHINE_INVARIANT',
      `lease ${context.leaseKey}: checkpoint write started with nothing to write`,
    );
  }
  return { leaseKey: context.leaseKey, checkpoint: context.inFlight, final };
}

function notProvided(name: string): LeaseMachineError {
  return new LeaseMachineError(
    'ACTOR_NOT_PROVIDED',
    `lease machine run without a ${name}; supply it with machine.provide({ actors: { ${name} } })`,
  );
}

/**
 * The checkpoint and what stays pending once `written` is stored: completions that arrived during the write stay
 * pending for the next one.
 */
function afterWrite(context: LeaseContext, written: Checkpoint | null): Pick<LeaseContext, 'checkpoint' | 'pending'> {
  const checkpoint = laterCheckpoint(context.checkpoint, written);
  const pending = context.pending !== null && isAfter(context.pending, checkpoint) ? context.pending : null;
  return { checkpoint, pending };
}

/**
 * What a renewal of the lease may carry now (LeaseCoordinator.carryCheckpoints): while reading, the checkpoint the
 * next periodic write would take, unless a write of it is under way. Null otherwise, and always once the lease is lost.
 */
export function checkpointToCarry(snapshot: SnapshotFrom<LeaseMachine>): Checkpoint | null {
  if (snapshot.status !== 'active' || !snapshot.matches('reading')) return null;
  const { pending, checkpoint, inFlight, endReason } = snapshot.context;
  if (pending === null || !isAfter(pending, checkpoint) || endReason === 'lease-lost') return null;
  return inFlight !== null && !isAfter(pending, inFlight) ? null : pending;
}

/**
 * Reconnect delay with a caller-chosen random source, for `machine.provide({ delays: { reconnectDelay } })`:
 * the default draws its jitter from Math.random.
 */
export function reconnectDelayWith(random: () => number): (args: { context: LeaseContext }) => number {
  return ({ context }) => backoffDelay(context.attempts, context.backoff, random);
}

/**
 * Completions come from a pipeline that outlives any one reader, so they count while reading, draining and
 * checkpointing. Not while acquiring: until the lease's checkpoint is known, "newer" means nothing.
 */
const recordCompletion = { guard: 'advancesCheckpoint', actions: 'recordCompleted' } as const;

/**
 * Leaving the current state stops the reader and abandons any write in the same step; `lost` has no way out.
 * Written on each state that is not final rather than once on the root: a root transition would also apply to
 * a final snapshot in xstate's pure `transition()`, and would draw as an edge out of `lost` in diagrams.
 */
const loseLease = {
  target: '#lease.lost',
  actions: { type: 'recordError', params: { source: 'coordinator' } },
} as const;

/*
 *  acquiring ──done──▶ reading (parallel) ─────────SHUTDOWN──────────▶ draining ──DRAINED / timeout──▶ checkpointing
 * ──▶ released
 *      │                 media:       reconnecting ⇄ streaming ⇄ waitingForStream   (nothing new: straight to released)
 * │
 *      │                 checkpoints: idle ⇄ writing                      │                                           │
 *      └── LEASE_LOST (event, or a write failing LEASE_LOST) from any live state ──▶ lost
 */
export const leaseMachine = setup({
  types: {
    context: {} as LeaseContext,
    events: {} as LeaseEvent,
    input: {} as LeaseMachineInput,
    output: {} as LeaseMachineOutput,
  },
  actors: {
    // Placeholders. The reader does nothing (an unprovided reader just never reads); the two writers fail loudly,
    // because a silent success would make the machine believe a checkpoint or a lease it does not have.
    acquirer: fromPromise<AcquirerOutput, AcquirerInput>(async () => {
      throw notProvided('acquirer');
    }),
    reader: fromCallback<EventObject, ReaderInput>(() => undefined),
    checkpointer: fromPromise<void, CheckpointerInput>(async () => {
      throw notProvided('checkpointer');
    }),
  },
  guards: {
    advancesCheckpoint: ({ context, event }) =>
      event.type === 'FRAGMENT_COMPLETE' && isAfter(event, laterCheckpoint(context.checkpoint, context.pending)),
    // Only something after the stored checkpoint is ever written, so a write can never move it backwards.
    // `lost` is final, so nothing follows it; the endReason check makes "never checkpoint after LEASE_LOST"
    // hold here as well, should anyone ever give `lost` a way out.
    canWriteCheckpoint: ({ context }) =>
      context.pending !== null && isAfter(context.pending, context.checkpoint) && context.endReason !== 'lease-lost',
    errorIsLeaseLost: ({ event }) => isLeaseLost(eventError(event)),
  },
  delays: {
    checkpointInterval: ({ context }) => context.checkpointIntervalMs,
    drainTimeout: ({ context }) => context.drainTimeoutMs,
    reconnectDelay: ({ context }) => backoffDelay(context.attempts, context.backoff),
    missingStreamDelay: ({ context }) => context.missingRetryMs,
  },
  actions: {
    recordCompleted: assign(({ event }) => {
      if (event.type !== 'FRAGMENT_COMPLETE') return {};
      return {
        pending: {
          fragmentNumber: event.fragmentNumber,
          serverTimestamp: event.serverTimestamp,
          ...(event.keyframesSeen === undefined ? {} : { keyframesSeen: event.keyframesSeen }),
          ...(event.nextSampleAt === undefined ? {} : { nextSampleAt: event.nextSampleAt }),
        },
      };
    }),
    recordRead: assign(({ context, event }) => {
      if (event.type !== 'FRAGMENT_READ') return {};
      return {
        attempts: 0,
        missingAttempts: 0,
        continuationToken: event.continuationToken ?? context.continuationToken,
        hasRead: true,
      };
    }),
    /**
     * A stream with no checkpoint gets one at its first fragment read, written at once: else a worker that died
     * before its first periodic checkpoint would leave the next owner to start from the configured start (NOW),
     * losing everything in between. It is the fragment completed by then, if any; else the fragment read,
     * inclusive (its frames are not published yet). Once per lease: a failed write is retried by the interval.
     * Runs before recordRead, which sets hasRead. Typed by hand: inferred inside setup(), the action set
     * would refer to itself.
     */
    checkpointFirstRead: enqueueActions<
      LeaseContext,
      LeaseEvent,
      undefined,
      LeaseEvent,
      never,
      never,
      never,
      never,
      never
    >(({ context, event, enqueue }) => {
      if (event.type !== 'FRAGMENT_READ' || context.hasRead || context.checkpoint !== null) return;
      if (context.pending === null) {
        const { fragmentNumber, serverTimestamp } = event;
        enqueue.assign({ pending: { fragmentNumber, serverTimestamp, inclusive: true } });
      }
      // A write already in flight (a completion came first) drops it: that write carries the completed fragment.
      enqueue.raise({ type: 'CHECKPOINT_NOW' });
    }),
    countReconnect: assign(({ context }) => ({ attempts: context.attempts + 1 })),
    planMissingStreamRetry: assign(({ context }) => ({
      missingAttempts: context.missingAttempts + 1,
      missingRetryMs: backoffDelay(context.missingAttempts + 1, context.missingStreamBackoff),
    })),
    /** Entered waitingForStream (context.missingRetryMs says for how long): the actor provides the log line. */
    announceStreamMissing: () => undefined,
    recordError: assign(({ event }, params: { source: LeaseErrorSummary['source'] }) => {
      const error = eventError(event);
      // A coordinator's bare LEASE_LOST carries no error; the previous one stays the most useful.
      return error === undefined ? {} : { lastError: summarize(params.source, error) };
    }),
    beginWrite: assign(({ context }) => ({ inFlight: context.pending })),
    recordWritten: assign(({ context }) => ({ ...afterWrite(context, context.inFlight), inFlight: null })),
    recordCarried: assign(({ context, event }) =>
      event.type === 'CHECKPOINT_WRITTEN' ? afterWrite(context, event.checkpoint) : {},
    ),
    recordCheckpointFailure: assign({ inFlight: null }),
    endWith: assign((_, params: { reason: LeaseEndReason }) => ({ endReason: params.reason })),
    noteDrainTimeout: assign({ drainTimedOut: true }),
  },
}).createMachine({
  id: 'lease',
  context: ({ input }) => initialContext(input),
  initial: 'acquiring',
  // Whatever the state: a renewal offered the checkpoint while reading may finish after reading has ended.
  on: { CHECKPOINT_WRITTEN: { actions: 'recordCarried' } },
  output: ({ context }) => ({
    // Every edge into a final state sets endReason; the fallback only satisfies the type.
    reason: context.endReason ?? 'shutdown',
    streamName: context.streamName,
    leaseKey: context.leaseKey,
    checkpoint: context.checkpoint,
    unwritten: context.pending,
    lastError: context.lastError,
    drainTimedOut: context.drainTimedOut,
  }),
  states: {
    acquiring: {
      description: 'Takes the lease and reads its checkpoint.',
      invoke: {
        id: 'acquirer',
        src: 'acquirer',
        input: ({ context }) => ({ streamName: context.streamName, leaseKey: context.leaseKey }),
        onDone: { target: 'reading', actions: assign({ checkpoint: ({ event }) => event.output.checkpoint }) },
        onError: [
          {
            guard: 'errorIsLeaseLost',
            target: 'lost',
            actions: { type: 'recordError', params: { source: 'acquirer' } },
          },
          // The lease may be ours (or half-taken) with nothing started on it: `released` makes the actor give it
          // back, which is harmless if it never was ours.
          {
            target: 'released',
            actions: [
              { type: 'recordError', params: { source: 'acquirer' } },
              { type: 'endWith', params: { reason: 'acquire-failed' } },
            ],
          },
        ],
      },
      on: {
        LEASE_LOST: loseLease,
        SHUTDOWN: { target: 'released', actions: { type: 'endWith', params: { reason: 'shutdown' } } },
      },
    },
    reading: {
      description: 'Reads GetMedia and checkpoints periodically; the two regions run side by side.',
      // Parallel so that a reconnect does not cancel a checkpoint write, and a write does not pause the reader.
      type: 'parallel',
      on: {
        LEASE_LOST: loseLease,
        FRAGMENT_COMPLETE: recordCompletion,
        SHUTDOWN: { target: 'draining', actions: { type: 'endWith', params: { reason: 'shutdown' } } },
      },
      states: {
        media: {
          initial: 'streaming',
          states: {
            streaming: {
              description:
                'A reader runs GetMedia from after the latest completed fragment (or at an inclusive checkpoint).',
              invoke: {
                id: 'reader',
                src: 'reader',
                input: ({ context }) => ({
                  streamName: context.streamName,
                  leaseKey: context.leaseKey,
                  resumeFrom: laterCheckpoint(context.checkpoint, context.pending),
                  continuationToken: context.continuationToken,
                  attempt: context.attempts,
                }),
              },
              on: {
                FRAGMENT_READ: { actions: ['checkpointFirstRead', 'recordRead'] },
                READER_ENDED: { target: 'reconnecting', actions: 'countReconnect' },
                READER_FAILED: {
                  target: 'reconnecting',
                  actions: ['countReconnect', { type: 'recordError', params: { source: 'reader' } }],
                },
                STREAM_MISSING: { target: 'waitingForStream', actions: 'planMissingStreamRetry' },
              },
            },
            reconnecting: {
              description: 'Waits an exponential, jittered, capped delay before a new reader.',
              after: { reconnectDelay: { target: 'streaming' } },
            },
            waitingForStream: {
              description:
                'The stream does not exist (yet): keeps the lease, ' +
                'and tries again after a backoff of its own, up to minutes.',
              entry: 'announceStreamMissing',
              after: { missingStreamDelay: { target: 'streaming' } },
            },
          },
        },
        checkpoints: {
          initial: 'idle',
          states: {
            idle: {
              after: {
                checkpointInterval: [
                  { guard: 'canWriteCheckpoint', target: 'writing', actions: 'beginWrite' },
                  // Nothing new to write: wait another interval.
                  { target: 'idle', reenter: true },
                ],
              },
              // While a write is in flight a request is dropped, not queued: the next interval writes whatever is
              // newer. A renewal that carried a checkpoint starts the interval again: a write of its own comes only
              // after an interval with none carried.
              on: {
                CHECKPOINT_NOW: { guard: 'canWriteCheckpoint', target: 'writing', actions: 'beginWrite' },
                CHECKPOINT_WRITTEN: { target: 'idle', reenter: true, actions: 'recordCarried' },
              },
            },
            writing: {
              description: 'Writes the latest completed fragment to the lease table.',
              invoke: {
                id: 'periodicCheckpoint',
                src: 'checkpointer',
                input: ({ context }) => writeInput(context, false),
                onDone: { target: 'idle', actions: 'recordWritten' },
                onError: [
                  {
                    guard: 'errorIsLeaseLost',
                    target: '#lease.lost',
                    actions: { type: 'recordError', params: { source: 'checkpointer' } },
                  },
                  // A throttled or failed write is retried by the next interval with whatever is newest then.
                  {
                    target: 'idle',
                    actions: ['recordCheckpointFailure', { type: 'recordError', params: { source: 'checkpointer' } }],
                  },
                ],
              },
            },
          },
        },
      },
    },
    draining: {
      description: 'No new media; waits for in-flight frames to be published, or for the drain timeout.',
      after: {
        drainTimeout: [
          { guard: 'canWriteCheckpoint', target: 'checkpointing', actions: ['noteDrainTimeout', 'beginWrite'] },
          { target: 'released', actions: 'noteDrainTimeout' },
        ],
      },
      on: {
        LEASE_LOST: loseLease,
        FRAGMENT_COMPLETE: recordCompletion,
        DRAINED: [
          { guard: 'canWriteCheckpoint', target: 'checkpointing', actions: 'beginWrite' },
          { target: 'released' },
        ],
      },
    },
    checkpointing: {
      description: 'Writes the final checkpoint; entered only when there is something newer than the stored one.',
      // Recorded for the output (`unwritten`) only: the final write has already started.
      on: { LEASE_LOST: loseLease, FRAGMENT_COMPLETE: recordCompletion },
      invoke: {
        id: 'finalCheckpoint',
        src: 'checkpointer',
        input: ({ context }) => writeInput(context, true),
        onDone: { target: 'released', actions: 'recordWritten' },
        onError: [
          {
            guard: 'errorIsLeaseLost',
            target: 'lost',
            actions: { type: 'recordError', params: { source: 'checkpointer' } },
          },
          // Not retried here: the store's client already retries, and the next owner re-reads from the older
          // checkpoint.
          {
            target: 'released',
            actions: ['recordCheckpointFailure', { type: 'recordError', params: { source: 'checkpointer' } }],
          },
        ],
      },
    },
    released: {
      description: 'Done; the actor releases the lease (owner cleared) so another worker can take it at once.',
      type: 'final',
    },
    lost: {
      description: 'Another worker owns the lease: nothing more is read, written or released.',
      type: 'final',
      entry: { type: 'endWith', params: { reason: 'lease-lost' } },
    },
  },
});

export type LeaseMachine = typeof leaseMachine;
