// `kvs-infer demo` and `local`: a --stream file they cannot read, or cannot replay, is one line naming it, and exit 2.

import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { generateFixture } from '../../src/local/fixtures/index.js';
import { runCli } from '../helpers/cli.js';
import { assertBadFile, unreadablePaths } from './file-errors.js';

t.test('a --stream file they cannot read, before anything starts', async (t) => {
  // Prepare: one kind of unreadable path per run, the commands taking turns (each start loads the media libraries).
  const paths = await unreadablePaths(t.testdir());
  const runs = paths.map(([path, reason], i) => ({ command: i % 2 === 0 ? 'demo' : 'local', path, reason }));

  for (const { command, path, reason } of runs) {
    // Act
    const result = await runCli([command, '--stream', `lobby=${path}`]);

    // Assess
    assertBadFile(t, result, `INPUT_UNREADABLE: --stream lobby=${path}: ${reason}\n`, `${command} ${path}`);
  }
});

t.test('local: a --stream file that is not a video it can replay', async (t) => {
  // Prepare
  const dir = t.testdir();
  const garbage = join(dir, 'garbage.mkv');
  await writeFile(garbage, 'not matroska at all');
  const audioOnly = await generateFixture({
    path: join(dir, 'audio.mkv'),
    width: 0,
    height: 0,
    durationSeconds: 1,
    videoless: true,
    audio: true,
  });
  const cases: [string, string][] = [
    [garbage, `FILE_SOURCE_UNREADABLE: ${garbage}: cannot be opened: `],
    [audioOnly.path, `FILE_SOURCE_UNSUPPORTED: ${audioOnly.path}: has no video track\n`],
  ];

  for (const [path, start] of cases) {
    // Act
    const result = await runCli(['local', '--stream', `lobby=${path}`, '--model', 'fixed']);

    // Assess
    assertBadFile(t, result, start, path);
  }
});
