// `kvs-infer replay` against the local stack (real SDK clients, the KVS server's archive, the model server,
// kinesalite): the records it publishes, checked against ListFragments for the range.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import type { ReplayState } from '../../src/replay/progress-file.js';
import { logLines, producerTimestamps, replayStack, runReplayCli, STREAM } from './replay-stack.js';

t.test('replays a range: every fragment of it done, 1 in 2 I-frames inferred, each record marked', async (t) => {
  // Prepare: 40 fragments of one keyframe each; the range is the 11th to the 30th by producer time
  const { stack, config, records, listed, dir } = await replayStack(t, 8);
  await stack.replayed;
  const times = producerTimestamps(stack);
  t.equal(times.length, 40, 'the clip is in the stream: 40 fragments');
  const start = times[10]!;
  const end = times[29]!;
  const inRange = await listed(start, end);
  const file = await config({ inferenceInterval: 2 });
  const progressFile = join(dir, 'progress.json');
  const args = ['replay', '--config', file, '--stream', STREAM, '--progress', progressFile, '--batch-fragments', '6'];

  // Act: ISO 8601 start, epoch ms end
  const run = await runReplayCli(stack, [...args, '--start', new Date(start).toISOString(), '--end', `${end}`], dir)
    .exited;

  // Assess
  t.equal(run.code, 0, `exit 0 (stderr: ${run.stderr})`);
  t.equal(inRange.length, 20, 'ListFragments lists 20 fragments in the range');
  const published = await records();
  t.ok(
    published.every((r) => r.replay === true),
    'every record is marked replay: true',
  );
  t.ok(
    published.every((r) => r.sageMakerOutput !== undefined && r.fragmentMetaData.startsWith('FragmentMetadata(')),
    "and keeps KIT's fields",
  );
  t.same(
    published.map((r) => [r.fragmentNumber, r.keyframeIndex]).sort((a, b) => Number(a[1]) - Number(b[1])),
    inRange.flatMap((number, i) => (i % 2 === 0 ? [[number, i]] : [])),
    'one record per sampled I-frame: the 1st, 3rd, 5th ... fragment of the range, none twice',
  );
  const state = JSON.parse(await readFile(progressFile, 'utf8')) as ReplayState;
  t.match(
    state,
    { complete: true, fragmentsDone: 20, lastFragment: inRange.at(-1), sampler: { keyframesSeen: 20 } },
    'the progress file accounts for every fragment of the range',
  );
  t.match(logLines(run.stdout, 'replay-done'), [{ fragmentsDone: 20, fragments: 20, published: 10, complete: true }]);
  t.match(run.stderr, /^replay cam-0: 20\/20 fragments, 10 records, [\d.]+ MB read$/m, 'a plain progress line');

  t.test('the same command again: nothing left to do, nothing published twice', async (t) => {
    // Act
    const again = await runReplayCli(stack, [...args, '--start', `${start}`, '--end', `${end}`], dir).exited;

    // Assess
    t.equal(again.code, 0, `exit 0 (stderr: ${again.stderr})`);
    t.match(logLines(again.stdout, 'replay-start'), [{ fragments: 20, remaining: 0 }]);
    t.equal((await records()).length, published.length, 'no new record');
  });
});

t.test('stopped, then killed, part way: the same command goes on where each stopped', async (t) => {
  // Prepare: a model that takes 500 ms a frame, one call at a time, little queued ahead of it
  const { stack, config, records, listed, dir } = await replayStack(t, 8, { fixedLatencyMs: 500 });
  await stack.replayed;
  const times = producerTimestamps(stack);
  const inRange = await listed(times[0]!, times.at(-1)!);
  const file = await config({ inferenceInterval: 2, sageMakerTaskThreadPoolSize: 1, sageMakerTaskQueueSize: 1 });
  const progressFile = join(dir, 'progress.json');
  const args = ['replay', '--config', file, '--stream', STREAM, '--start', `${times[0]}`, '--end', `${times.at(-1)}`];
  const withProgress = [...args, '--progress', progressFile, '--batch-fragments', '5'];
  const state = async () => JSON.parse(await readFile(progressFile, 'utf8').catch(() => '{}')) as ReplayState;
  /** Starts a run, waits for the progress file to count `done` fragments, then sends `signal`. */
  const interrupted = async (done: number, signal: NodeJS.Signals) => {
    const run = runReplayCli(stack, withProgress, dir);
    const deadline = Date.now() + 120_000;
    while (((await state()).fragmentsDone ?? 0) < done) {
      if (Date.now() > deadline) throw new Error(`no ${done} fragments done within 2 minutes`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    run.child.kill(signal);
    return { ...(await run.exited), state: await state(), records: await records() };
  };

  // Act
  const stopped = await interrupted(8, 'SIGTERM');
  const killed = await interrupted(stopped.state.fragmentsDone + 8, 'SIGKILL');
  const last = await runReplayCli(stack, withProgress, dir).exited;

  // Assess
  const at = (fragmentNumber: string | null) => inRange.indexOf(fragmentNumber!);
  t.equal(stopped.code, 143, 'SIGTERM: the first run finished what it had in flight, saved, and exited 143');
  t.same(
    stopped.records.filter((r) => at(r.fragmentNumber) > at(stopped.state.lastFragment) + 1),
    [],
    'it had published nothing past the fragment after its last done (read in part when it stopped)',
  );
  t.equal(killed.signal, 'SIGKILL', 'the second run went on, and was killed');
  t.ok(
    killed.state.fragmentsDone > stopped.state.fragmentsDone && killed.state.fragmentsDone < 40,
    `it had done ${killed.state.fragmentsDone} of 40 fragments`,
  );
  t.equal(last.code, 0, `the third run exits 0 (stderr: ${last.stderr})`);
  t.match(logLines(last.stdout, 'replay-start'), [
    { fragments: 40, remaining: 40 - killed.state.fragmentsDone, resumedAfter: killed.state.lastFragment },
  ]);
  const published = await records();
  const count = new Map<string, number>();
  for (const r of published) count.set(r.fragmentNumber, (count.get(r.fragmentNumber) ?? 0) + 1);
  const sampled = inRange.filter((_, i) => i % 2 === 0);
  t.same([...count.keys()].sort(), [...sampled].sort(), 'a record for every sampled I-frame, and no other');
  const inFlight = (i: number, after: string | null, fragments: number) => i > at(after) && i <= at(after) + fragments;
  const twice = inRange.filter(
    (number, i) =>
      (count.get(number) ?? 0) > 1 &&
      !inFlight(i, stopped.state.lastFragment, 1) &&
      !inFlight(i, killed.state.lastFragment, 10),
  );
  t.same(twice, [], 'none twice, but what was in flight when each run ended (1 and at most 10 fragments)');
  t.same(
    published.filter((r) => r.keyframeIndex !== inRange.indexOf(r.fragmentNumber)),
    [],
    'the sampler went on from the progress file: every record has the I-frame index of one uninterrupted run',
  );
});
