// Slots between reading and the endpoint queue: a bound in count and in bytes, waiters served in order,
// an item larger than the byte bound let in alone, aborted waiters leaving without a trace.

import t from 'tap';
import { Slots } from '../../../src/actors/pipeline/slots.js';
import { settled } from '../../helpers/settled.js';

t.test('the count bound: the third acquire of two slots waits for a release', async (t) => {
  // Prepare
  const slots = new Slots(2, 1000);
  const first = await slots.acquire(1);
  await slots.acquire(1);

  // Act
  const third = slots.acquire(1);
  const waitedWhileFull = !(await settled(third));
  first();
  first();

  // Assess
  t.ok(waitedWhileFull, 'waited while both slots were taken');
  t.ok(await settled(third), 'granted on the release');
  t.match(slots, { used: 2, usedBytes: 2, waiting: 0 }, 'a second call of the same release gives nothing back');
});

t.test(
  'the byte bound: an item waits while its bytes would pass maxBytes; waiters are served strictly in order',
  async (t) => {
    // Prepare
    const slots = new Slots(10, 1000);
    const a = await slots.acquire(600);
    const order: string[] = [];

    // Act
    const b = slots.acquire(600).then((release) => {
      order.push('b');
      return release;
    });
    const c = slots.acquire(100).then((release) => {
      order.push('c');
      return release;
    });
    const bothWaited = !(await settled(b)) && !(await settled(c));
    const whileWaiting = { used: slots.used, usedBytes: slots.usedBytes, waiting: slots.waiting };
    a();
    await Promise.all([b, c]);

    // Assess
    t.ok(bothWaited, 'b waited for bytes, and c (which would fit) waited behind b');
    t.same(whileWaiting, { used: 1, usedBytes: 600, waiting: 2 });
    t.same(order, ['b', 'c']);
    t.match(slots, { used: 2, usedBytes: 700 });
  },
);

t.test('an item larger than maxBytes is let in alone, so it cannot deadlock', async (t) => {
  // Prepare
  const slots = new Slots(10, 1000);
  const small = await slots.acquire(100);

  // Act
  const large = slots.acquire(5000);
  const largeWaited = !(await settled(large));
  small();
  const releaseLarge = await large;
  const behind = slots.acquire(1);
  const behindWaited = !(await settled(behind));
  const usedWhileLarge = slots.usedBytes;
  releaseLarge();

  // Assess
  t.ok(largeWaited, 'it waited until nothing else was held');
  t.equal(usedWhileLarge, 5000);
  t.ok(behindWaited, 'nothing else was let in beside it');
  t.ok(await settled(behind));
});

t.test('an aborted waiter rejects with the reason and lets the smaller ones behind it in', async (t) => {
  // Prepare
  const slots = new Slots(10, 1000);
  await slots.acquire(500);
  const controller = new AbortController();
  const head = slots.acquire(900, controller.signal);
  const next = slots.acquire(400);
  const nextWaited = !(await settled(next));

  // Act
  controller.abort(new Error('reader stopped'));

  // Assess
  await t.rejects(head, { message: 'reader stopped' });
  t.ok(nextWaited);
  t.ok(await settled(next), 'the next waiter fits once the head is gone');
  t.match(slots, { used: 2, usedBytes: 900, waiting: 0 });
  await t.rejects(slots.acquire(1, AbortSignal.abort(new Error('already'))), { message: 'already' });
});

t.test('bad bounds are configuration errors', async (t) => {
  t.throws(() => new Slots(0, 1000), { code: 'BAD_CONFIG' });
  t.throws(() => new Slots(1, 0), { code: 'BAD_CONFIG' });
  t.throws(() => new Slots(1, 1.5), { code: 'BAD_CONFIG' });
});
