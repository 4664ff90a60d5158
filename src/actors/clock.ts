// The one monotonic clock of the actor system: the worker root hands it to the lease coordinator, every lease
// machine (createActor's `clock`), the lease actors' own waits and the stream pipelines' stage timings, so a test
// drives all of them with one SimulatedClock. Which time is which:
//   - this clock (monotonic, epoch-like ms): lease expiry and renewal, machine timers (checkpoint interval, drain
//     timeout, reconnect backoff), handover waits, durations (stages, backpressure);
//   - Date.now (wall clock, epoch ms): whatever is stored or compared with another host's or KVS's time:
//     records' publishedAt, latencies from a fragment's server timestamp, debug-page and log timestamps.

/**
 * xstate's `Clock` (so `SimulatedClock` fits) plus the current time in milliseconds. Only differences of one
 * clock's own readings are ever used, so `now()` must never step.
 */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, timeout: number): unknown;
  clearTimeout(id: unknown): void;
}

export const systemClock: Clock = {
  // Monotonic, unlike Date.now(): a wall-clock step (NTP, a VM resumed) would make live leases look expired,
  // or keep a lease this worker can no longer prove. Epoch-like units only for readable logs and tests.
  now: () => performance.timeOrigin + performance.now(),
  setTimeout: (fn, timeout) => setTimeout(fn, timeout),
  clearTimeout: (id) => clearTimeout(id as ReturnType<typeof setTimeout>),
};
