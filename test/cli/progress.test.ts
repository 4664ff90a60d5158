// Progress output: a bar on a terminal, throttled plain lines anywhere else.

import t from 'tap';
import { progress } from '../../src/cli/progress.js';

/** A stand-in for stderr that records what is written; `tty` decides which kind of output it gets. */
function fakeStream(tty: boolean) {
  const writes: string[] = [];
  const stream = {
    isTTY: tty,
    columns: 120,
    write: (text: string) => writes.push(text) > 0,
    cursorTo: () => true,
    clearLine: () => true,
    clearScreenDown: () => true,
    moveCursor: () => true,
    on: () => stream,
    removeListener: () => stream,
  };
  return { stream: stream as unknown as NodeJS.WriteStream, writes };
}

t.test(
  'off a terminal: the first update at once, then at most one line per interval, and the last state on stop',
  async (t) => {
    // Prepare
    const { stream, writes } = fakeStream(false);
    const bar = progress('published', { stream, lineIntervalMs: 60_000 });

    // Act
    bar.update(1, 10, 'cam-1');
    bar.update(2, 10, 'cam-1');
    bar.update(10, 10, 'cam-1');
    bar.stop();
    bar.stop();

    // Assess
    t.same(writes, ['published: 1/10 cam-1\n', 'published: 10/10 cam-1\n'], 'throttled lines, the last one once');
  },
);

t.test('on a terminal: a bar with the count and the detail', async (t) => {
  // Prepare
  const { stream, writes } = fakeStream(true);
  const bar = progress('published', { stream });

  // Act
  bar.update(3, 10, 'cam-1 3/5');
  bar.stop();

  // Assess
  const output = writes.join('');
  t.match(output, /published \[[█░]+\] 3\/10 cam-1 3\/5/, 'label, bar, count and detail');
  t.notMatch(output, /published: /, 'no plain lines');
});
