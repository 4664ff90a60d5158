// The replay's progress file: found again by the same replay, refused for another, replaced whole.

import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { defaultProgressPath, ProgressFile, type ReplayKey } from '../../src/replay/progress-file.js';

const key: ReplayKey = {
  stream: 'cam-1',
  selector: 'PRODUCER_TIMESTAMP',
  start: 1796551200000,
  end: 1796554800000,
  endpoint: 'model-a',
  dataStream: 'results',
};

t.test('the default path: one per replay, the same for the same replay', async (t) => {
  // Act
  const path = defaultProgressPath(key, '/work');

  // Assess
  t.match(path, /^\/work\/kvs-infer-replay-cam-1-[0-9a-f]{12}\.json$/, 'in the directory, named after the stream');
  t.equal(defaultProgressPath({ ...key }, '/work'), path, 'the same key, the same file');
  t.not(defaultProgressPath({ ...key, endpoint: 'model-b' }, '/work'), path, 'another model, another file');
  t.not(defaultProgressPath({ ...key, end: key.end + 1 }, '/work'), path, 'another range, another file');
});

t.test('a new replay starts from nothing; what it saves, the next run finds', async (t) => {
  // Prepare
  const path = join(t.testdir(), 'progress.json');
  const first = await ProgressFile.open(path, key);

  // Act
  const before = first.state;
  first.save({ lastFragment: '100', sampler: { keyframesSeen: 7, nextSampleAt: 5000 }, fragmentsDone: 3 });
  first.save({ lastFragment: '101', sampler: { keyframesSeen: 8, nextSampleAt: 6000 }, fragmentsDone: 4 });
  await first.flush();
  const again = await ProgressFile.open(path, { ...key });

  // Assess
  t.match(before, { key, lastFragment: null, sampler: { keyframesSeen: 0 }, fragmentsDone: 0, complete: false });
  t.match(again.state, {
    key,
    lastFragment: '101',
    sampler: { keyframesSeen: 8, nextSampleAt: 6000 },
    fragmentsDone: 4,
    complete: false,
  });
  t.same(await readdir(join(path, '..')), ['progress.json'], 'no temporary file left beside it');
});

t.test('a file of another replay, or not a progress file, is refused with its path', async (t) => {
  // Prepare
  const dir = t.testdir();
  const other = join(dir, 'other.json');
  const saved = await ProgressFile.open(other, { ...key, stream: 'cam-2' });
  saved.save({});
  await saved.flush();
  const garbage = join(dir, 'garbage.json');
  await writeFile(garbage, '{"format": "kvs-infer-replay/1", "key": ');
  const config = join(dir, 'config.json');
  await writeFile(config, '{"streamNames": ["cam-1"]}');

  // Act and Assess
  await t.rejects(ProgressFile.open(other, key), {
    code: 'REPLAY_BAD_PROGRESS',
    message:
      `progress file ${other} is for another replay (stream cam-2 from 2026-12-06T10:00:00.000Z to ` +
      '2026-12-06T11:00:00.000Z by PRODUCER_TIMESTAMP, endpoint model-a, data stream results): give this one its ' +
      'own --progress file',
  });
  await t.rejects(ProgressFile.open(garbage, key), {
    code: 'REPLAY_BAD_PROGRESS',
    message: new RegExp(`^progress file ${garbage} is not valid JSON: `),
  });
  await t.rejects(ProgressFile.open(config, key), {
    code: 'REPLAY_BAD_PROGRESS',
    message: `${config} is not a kvs-infer replay progress file`,
  });
  await t.rejects(ProgressFile.open(dir, key), { code: 'REPLAY_BAD_PROGRESS', message: /^cannot read progress file / });
});

t.test('a file that cannot be written is reported by flush, naming it', async (t) => {
  // Prepare: a directory that does not exist
  const path = join(t.testdir(), 'gone', 'progress.json');
  const file = await ProgressFile.open(path, key);

  // Act
  file.save({ fragmentsDone: 1 });

  // Assess
  await t.rejects(file.flush(), {
    code: 'REPLAY_BAD_PROGRESS',
    message: new RegExp(`^cannot write progress file ${path}: ENOENT`),
  });
});
