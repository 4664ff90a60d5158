// `kvs-infer <command> --help` prints that command's usage and exits 0, for every command the top-level usage
// lists; `kvs-infer --version` prints the package's version.

import { readFileSync } from 'node:fs';
import t from 'tap';
import { runCli } from '../helpers/cli.js';

const VERSION = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

/** The top-level usage's line for each command, by name. */
async function usageLines(): Promise<Map<string, string>> {
  const { stdout } = await runCli(['--help']);
  const lines = stdout.split('\n').flatMap((line) => {
    const match = /^ {2}(kvs-infer ([a-z]+)(?: .*)?)$/.exec(line);
    return match ? [[match[2]!, match[1]!] as const] : [];
  });
  return new Map(lines);
}

t.test('kvs-infer --help lists every command, how to get its help, and --version, and exits 0', async (t) => {
  // Act
  const { code, stdout, stderr } = await runCli(['--help']);

  // Assess
  t.equal(code, 0, stderr);
  t.same([...(await usageLines()).keys()].sort(), [
    'bench',
    'demo',
    'frames',
    'local',
    'machines',
    'probe',
    'replay',
    'run',
  ]);
  t.match(stdout, /^ {2}kvs-infer <command> --help$/m);
  t.match(stdout, /^ {2}kvs-infer --version$/m);
});

t.test('--help on every command prints its usage on stdout and exits 0', async (t) => {
  for (const [name, usage] of await usageLines()) {
    // Act
    const { code, stdout, stderr } = await runCli([name, '--help']);

    // Assess
    t.equal(code, 0, `${name} --help: exits 0\n${stderr}`);
    t.equal(stdout, `usage: ${usage}\n`, `${name} --help: the usage of ${name}`);
    t.equal(stderr, '', `${name} --help: nothing on stderr`);
  }
});

t.test('-h too, anywhere among the options, before they are checked', async (t) => {
  // Act
  const { code, stdout, stderr } = await runCli(['frames', '/missing.mkv', '--every', 'zero', '-h']);

  // Assess
  t.equal(code, 0, stderr);
  t.match(stdout, /^usage: kvs-infer frames <file\|->/);
});

t.test('after --, --help is a file name, not a request for help', async (t) => {
  // Act
  const { code, stdout, stderr } = await runCli(['probe', '--', '--help']);

  // Assess
  t.equal(code, 2);
  t.equal(stdout, '');
  t.equal(stderr, 'INPUT_UNREADABLE: --help: no such file or directory\n');
});

t.test('--version and -v print the version in package.json and exit 0', async (t) => {
  for (const flag of ['--version', '-v']) {
    // Act
    const { code, stdout, stderr } = await runCli([flag]);

    // Assess
    t.equal(code, 0, stderr);
    t.equal(stdout, `${VERSION}\n`, flag);
  }
});

t.test("an unknown command exits 1 with the usage, even one named like an object's own property", async (t) => {
  for (const name of ['nonsense', 'constructor']) {
    // Act
    const { code, stdout, stderr } = await runCli([name]);

    // Assess
    t.equal(code, 1, name);
    t.equal(stdout, '');
    t.match(stderr, new RegExp(`^unknown command "${name}"\nusage:\n {2}kvs-infer `));
  }
});
