// onAbort: fn gets the reason once, an already aborted signal calls it at once, the returned cleanup removes the
// listener (so a settled operation leaves nothing on a long-lived signal); deferred's unobserved rejection.

import { getEventListeners } from 'node:events';
import t from 'tap';
import { deferred, onAbort } from '../../src/actors/deferred.js';

t.test('onAbort calls fn once, with the reason, when the signal aborts, and leaves no listener behind', async (t) => {
  // Prepare
  const controller = new AbortController();
  const reasons: unknown[] = [];
  onAbort(controller.signal, (reason) => reasons.push(reason));
  const attached = getEventListeners(controller.signal, 'abort').length;

  // Act
  controller.abort('gone');
  controller.abort('again');

  // Assess
  t.equal(attached, 1, 'one listener while waiting');
  t.same(reasons, ['gone'], 'called once, with the first reason');
  t.equal(getEventListeners(controller.signal, 'abort').length, 0, 'none after it fired');
});

t.test('onAbort: the cleanup removes the listener, so a later abort calls nothing', async (t) => {
  // Prepare
  const controller = new AbortController();
  let calls = 0;
  const detach = onAbort(controller.signal, () => calls++);

  // Act
  detach();
  detach();
  controller.abort();

  // Assess
  t.equal(calls, 0, 'not called after the cleanup');
  t.equal(getEventListeners(controller.signal, 'abort').length, 0, 'no listener left');
});

t.test('onAbort on a signal already aborted calls fn before returning; without a signal it never calls', async (t) => {
  // Prepare
  const reason = new Error('stopped before');
  const aborted = AbortSignal.abort(reason);
  const reasons: unknown[] = [];

  // Act
  const detach = onAbort(aborted, (r) => reasons.push(r));
  const calledBeforeReturn = reasons.length;
  detach();
  let withoutSignal = 0;
  onAbort(undefined, () => withoutSignal++)();

  // Assess
  t.equal(calledBeforeReturn, 1, 'called at once');
  t.equal(reasons[0], reason, 'with the reason of the signal');
  t.equal(getEventListeners(aborted, 'abort').length, 0, 'no listener attached to an aborted signal');
  t.equal(withoutSignal, 0, 'no signal, no call');
});

t.test('deferred settles its promise from outside, and an unobserved rejection is not unhandled', async (t) => {
  // Prepare
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  process.on('unhandledRejection', onUnhandled);
  t.teardown(() => process.off('unhandledRejection', onUnhandled));
  const resolved = deferred<number>();
  const rejected = deferred<number>();

  // Act
  resolved.resolve(7);
  rejected.reject(new Error('nobody listens'));
  await new Promise((resolve) => setImmediate(resolve));

  // Assess
  t.equal(await resolved.promise, 7, 'resolved with the value');
  await t.rejects(rejected.promise, /nobody listens/, 'rejected with the error');
  t.same(unhandled, [], 'no unhandled rejection');
});
