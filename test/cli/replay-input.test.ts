// `kvs-infer replay` given what it cannot use: one line naming what was wrong, and exit 2 (a command line it
// cannot parse: exit 1 with the usage).

import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { runCli } from '../helpers/cli.js';
import { replayStack, runReplayCli, STREAM } from './replay-stack.js';

t.test(
  "bad times, a range that ends first, unknown streams, a missing config, another replay's progress",
  async (t) => {
    // Prepare
    const { stack, config, dir } = await replayStack(t, 4);
    const file = await config();
    const missing = join(dir, 'missing.json');
    const foreign = join(dir, 'foreign.json');
    await writeFile(
      foreign,
      JSON.stringify({
        format: 'kvs-infer-replay/1',
        key: { stream: 'cam-9', selector: 'PRODUCER_TIMESTAMP', start: 0, end: 1000, endpoint: 'e', dataStream: 'd' },
      }),
    );
    const range = ['--start', '2026-12-06T10:00:00Z', '--end', '2026-12-06T11:00:00Z'];
    const cases: [what: string, args: string[], line: string][] = [
      [
        'a time that is neither',
        ['--config', file, '--stream', STREAM, '--start', 'yesterday', '--end', '1796551200000'],
        'REPLAY_BAD_TIME: --start must be ISO 8601 (2026-12-06T10:00:00Z) or epoch milliseconds, got "yesterday"',
      ],
      [
        'an end before the start',
        ['--config', file, '--stream', STREAM, '--start', '2026-12-06T11:00:00+01:00', '--end', '2026-12-06T09:59Z'],
        'REPLAY_BAD_RANGE: --end (2026-12-06T09:59:00.000Z) is before --start (2026-12-06T10:00:00.000Z)',
      ],
      [
        'a missing config file',
        ['--config', missing, '--stream', STREAM, ...range],
        `CONFIG_UNREADABLE: cannot read config file ${missing}: ENOENT: no such file or directory, open '${missing}'`,
      ],
      [
        "another replay's progress file",
        ['--config', file, '--stream', STREAM, ...range, '--progress', foreign],
        `REPLAY_BAD_PROGRESS: progress file ${foreign} is for another replay (stream cam-9 from ` +
          '1970-01-01T00:00:00.000Z to 1970-01-01T00:00:01.000Z by PRODUCER_TIMESTAMP, endpoint e, data stream d): ' +
          'give this one its own --progress file',
      ],
      [
        'an unknown stream',
        ['--config', file, '--stream', 'cam-9', ...range],
        'REPLAY_UNKNOWN_STREAM: stream cam-9 does not exist',
      ],
      [
        'an unknown data stream',
        ['--config', file, '--stream', STREAM, ...range, '--data-stream', 'elsewhere'],
        'REPLAY_UNKNOWN_DATA_STREAM: data stream elsewhere does not exist',
      ],
    ];

    for (const [what, args, line] of cases) {
      // Act: without Node's warnings (the SDK's about Node 20), so that stderr is the command's own
      const result = await runReplayCli(stack, ['replay', ...args], dir, { NODE_NO_WARNINGS: '1' }).exited;

      // Assess
      t.equal(result.code, 2, `${what}: exit 2`);
      t.equal(result.stderr, `${line}\n`, `${what}: one line naming it`);
    }
    t.same(
      (await readdir(dir)).filter((name) => name.startsWith('kvs-infer-replay-')),
      [],
      'no progress file left behind',
    );
  },
);

t.test('a missing option, or a batch too large, is a usage error: exit 1, with the usage', async (t) => {
  // Prepare
  const range = ['--start', '1796551200000', '--end', '1796554800000'];
  const cases: [args: string[], line: string][] = [
    [['--config', 'kit.json', '--start', '1796551200000'], 'USAGE: --stream is required'],
    [['--stream', STREAM, ...range], 'USAGE: give the worker configuration with --config FILE or --ssm-parameter NAME'],
    [
      ['--config', 'kit.json', '--stream', STREAM, ...range, '--batch-fragments', '1001'],
      'USAGE: --batch-fragments must be at most 1000, got 1001',
    ],
  ];

  for (const [args, line] of cases) {
    // Act
    const result = await runCli(['replay', ...args]);

    // Assess
    t.equal(result.code, 1, `${line}: exit 1`);
    t.match(result.stderr, `${line}\nusage: kvs-infer replay `, `${line}: named, then the usage`);
  }
});

t.test('a progress file that cannot be written: exit 2 before anything is read, naming it', async (t) => {
  // Prepare
  const { stack, config, dir, records } = await replayStack(t, 4);
  await stack.replayed;
  const file = await config();
  const progress = join(dir, 'gone', 'progress.json');

  // Act
  const range = ['--start', '2026-12-06T10:00Z', '--end', `${Date.now() + 60_000}`];
  const args = ['replay', '--config', file, '--stream', STREAM, ...range, '--progress', progress];
  const result = await runReplayCli(stack, args, dir, { NODE_NO_WARNINGS: '1' }).exited;

  // Assess
  t.equal(result.code, 2, 'exit 2');
  t.match(result.stderr, new RegExp(`^REPLAY_BAD_PROGRESS: cannot write progress file ${progress}: ENOENT`));
  t.same(await records(), [], 'nothing published');
});
