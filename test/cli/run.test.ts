// `kvs-infer run`: a --config file it cannot read or use is one line naming it and saying why, and exit 2.

import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { runCli } from '../helpers/cli.js';
import { assertBadFile } from './file-errors.js';

t.test('a --config file missing, not JSON, or with a mixed-case sageMakerEndpoint', async (t) => {
  // Prepare
  const dir = t.testdir();
  const missing = join(dir, 'missing.json');
  const syntax = join(dir, 'syntax.json');
  await writeFile(syntax, '{"streamNames": ["cam-1"],');
  const mixedCase = join(dir, 'mixed-case.json');
  await writeFile(
    mixedCase,
    JSON.stringify({ streamNames: ['cam-1'], sageMakerEndpoint: 'Hardhat-Endpoint', kdsStreamName: 'results' }),
  );
  const cases: [string, string][] = [
    [missing, `CONFIG_UNREADABLE: cannot read config file ${missing}: `],
    [syntax, `CONFIG_SYNTAX: config file ${syntax} is not valid JSON: `],
    [
      mixedCase,
      `BAD_CONFIG: config file ${mixedCase}: sageMakerEndpoint must be in lowercase, got "Hardhat-Endpoint": `,
    ],
  ];

  for (const [path, start] of cases) {
    // Act
    const result = await runCli(['run', '--config', path]);

    // Assess
    assertBadFile(t, result, start, path);
  }
});
