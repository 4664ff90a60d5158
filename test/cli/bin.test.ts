// The installed command as npx runs it: the package's bin, built on install, executable, with a shebang.

import { execFile } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import t from 'tap';

const root = fileURLToPath(new URL('../../', import.meta.url));
const pkg = JSON.parse(readFileSync(`${root}package.json`, 'utf8')) as { version: string; bin: Record<string, string> };
const bin = `${root}${pkg.bin['kvs-infer']}`;

t.test(
  'the kvs-infer bin runs by itself and prints its usage and version',
  { skip: existsSync(bin) ? false : `${bin} is not built (npm ci builds it)` },
  async (t) => {
    // Assess: executable, as the shell that npx starts needs it to be.
    t.doesNotThrow(() => accessSync(bin, constants.X_OK), `${bin} is executable`);

    // Act
    const { stdout } = await promisify(execFile)(bin, ['--help']);
    const version = await promisify(execFile)(bin, ['--version']);

    // Assess
    for (const command of ['demo', 'probe', 'frames', 'run', 'local']) t.match(stdout, `kvs-infer ${command} `);
    t.equal(version.stdout, `${pkg.version}\n`, 'the version in package.json, found from dist/src/cli/ too');
  },
);
