// xstate machine definitions: states, events and guards only. The actors in `src/actors/` run them and own the I/O.

export {
  errorCode,
  isLeaseLost,
  LEASE_LOST,
  LEASE_NOT_HELD,
  LeaseMachineError,
  type LeaseMachineErrorCode,
} from './errors.js';
export {
  type AcquirerInput,
  type AcquirerLogic,
  type AcquirerOutput,
  type CheckpointerInput,
  type CheckpointerLogic,
  type ControlEvent,
  checkpointToCarry,
  DEFAULT_CHECKPOINT_INTERVAL_MS,
  DEFAULT_DRAIN_TIMEOUT_MS,
  type LeaseContext,
  type LeaseEndReason,
  type LeaseErrorSummary,
  type LeaseEvent,
  type LeaseMachine,
  type LeaseMachineInput,
  type LeaseMachineOutput,
  leaseMachine,
  type PipelineEvent,
  type ReaderEvent,
  type ReaderInput,
  type ReaderLogic,
  reconnectDelayWith,
} from './lease-machine.js';
