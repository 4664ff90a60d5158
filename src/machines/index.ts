// xstate machine definitions: states, events and guards only. The actors in `src/actors/` run them and own the I/O.

export {
  DEFAULT_CHECKPOINT_INTERVAL_MS,
  DEFAULT_DRAIN_TIMEOUT_MS,
  leaseMachine,
  reconnectDelayWith,
  type AcquirerInput,
  type AcquirerLogic,
  type AcquirerOutput,
  type CheckpointerInput,
  type CheckpointerLogic,
  type ControlEvent,
  type LeaseContext,
  type LeaseCounters,
  type LeaseEndReason,
  type LeaseErrorSummary,
  type LeaseEvent,
  type LeaseMachine,
  type LeaseMachineInput,
  type LeaseMachineOutput,
  type PipelineEvent,
  type ReaderEvent,
  type ReaderInput,
  type ReaderLogic,
} from './lease-machine.js';
export { LEASE_LOST, LEASE_NOT_HELD, LeaseMachineError, errorCode, isLeaseLost, type LeaseMachineErrorCode } from './errors.js';
