// What the event stream sends of a worker's view: the whole view first, then the leases that changed and the
// streams whose leases are gone, with the worker's other fields each time.

import t from 'tap';
import type { LeaseView, WorkerView } from '../../src/debug/types.js';
import { ViewChanges } from '../../src/debug/view-changes.js';
import { DrivenLease, drivenSource, settle } from './driven-leases.js';

t.test('the whole view, then only what changed, then what is gone', async (t) => {
  // Prepare: two leases as a worker's view
  const front = new DrivenLease('front-door');
  const back = new DrivenLease('back-door');
  t.teardown(() => {
    front.stop();
    back.stop();
  });
  let leases = [front, back];
  const source = drivenSource([front, back]);
  const view = (): WorkerView => {
    const whole = source.view();
    return { ...whole, leases: whole.leases.filter((l) => leases.some((d) => d.stream === l.stream)) };
  };
  const changes = new ViewChanges();
  const streams = (data: string) => (JSON.parse(data) as { leases: LeaseView[] }).leases.map((l) => l.stream);

  // Act, Assess: first the whole view, which parses as one
  const first = changes.next(view());
  t.equal(first.event, 'message');
  const whole = JSON.parse(first.data) as WorkerView;
  t.same(whole.leases, view().leases, 'every lease, as the view has it');
  t.equal(whole.workerId, 'test-worker', "and the worker's fields");
  t.notOk('removed' in whole, 'a whole view removes nothing');

  // Act, Assess: nothing changed, then one lease
  const same = changes.next(view());
  t.same([same.event, streams(same.data), JSON.parse(same.data).removed], ['changes', [], []], 'nothing changed');
  front.acquire();
  await settle();
  const moved = changes.next(view());
  t.same(streams(moved.data), ['front-door'], 'front-door moved, alone');
  t.same(JSON.parse(moved.data).leases[0].states, front.states, 'as it is now');

  // Act, Assess: back-door's lease is gone
  leases = [front];
  const gone = changes.next(view());
  t.same([streams(gone.data), JSON.parse(gone.data).removed], [[], ['back-door']], 'back-door removed');
  t.same(JSON.parse(changes.next(view()).data).removed, [], 'and only once');
});
