// `kvs-infer probe`, `frames` and `machines`: a file they cannot read or write is one line naming it, and exit 2.

import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { runCli } from '../helpers/cli.js';
import { assertBadFile, unreadablePaths } from './file-errors.js';

t.test('probe: a file it cannot read', async (t) => {
  for (const [path, reason] of await unreadablePaths(t.testdir())) {
    // Act
    const result = await runCli(['probe', path]);

    // Assess
    assertBadFile(t, result, `INPUT_UNREADABLE: ${path}: ${reason}\n`, path);
  }
});

t.test('frames: a missing file, without a stack trace and before the output directory is made', async (t) => {
  // Prepare
  const dir = t.testdir();
  const [[missing, reason]] = await unreadablePaths(dir);
  const out = join(dir, 'out');

  // Act
  const result = await runCli(['frames', missing!, '--out', out]);

  // Assess
  assertBadFile(t, result, `INPUT_UNREADABLE: ${missing}: ${reason}\n`, missing!);
  t.notOk(existsSync(out), 'no output directory made');
});

t.test('frames and machines: an --out they cannot write', async (t) => {
  // Prepare
  const dir = t.testdir();
  const file = join(dir, 'a-file');
  await writeFile(file, '');

  const svg = join(dir, 'missing', 'lease.svg');

  // Act
  const frames = await runCli(['frames', '-', '--out', join(file, 'out')], Buffer.alloc(0));
  const machines = await runCli(['machines', '--out', svg]);

  // Assess
  assertBadFile(
    t,
    frames,
    `OUTPUT_UNWRITABLE: --out ${join(file, 'out')}: a part of the path is not a directory\n`,
    'frames',
  );
  assertBadFile(t, machines, `OUTPUT_UNWRITABLE: --out ${svg}: no such file or directory\n`, 'machines');
});
