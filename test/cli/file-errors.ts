// Shared by the tests of files a command cannot use: paths that cannot be read, and the one-line answer expected.
// Tests run as root, for whom mode 000 is still readable: unreadable here means a directory or a path that leads
// nowhere.

import { mkdir, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Test } from 'tap';
import type { CliResult } from '../helpers/cli.js';

/** A missing file, a directory and a dangling symbolic link, each with the reason the command should give. */
export async function unreadablePaths(dir: string): Promise<[path: string, reason: string][]> {
  const directory = join(dir, 'clips');
  await mkdir(directory);
  const dangling = join(dir, 'dangling.mkv');
  await symlink(join(dir, 'gone.mkv'), dangling);
  return [
    [join(dir, 'missing.mkv'), 'no such file or directory'],
    [directory, 'is a directory, not a file'],
    [dangling, 'no such file or directory'],
  ];
}

/**
 * Exit 2, nothing on stdout, and on stderr one line that starts with `start` (the whole line when it ends with a
 * newline).
 */
export function assertBadFile(t: Test, result: CliResult, start: string, what: string): void {
  t.equal(result.code, 2, `${what}: exits 2\n${result.stderr}`);
  t.equal(result.stdout, '', `${what}: nothing on stdout`);
  t.ok(result.stderr.startsWith(start), `${what}: "${result.stderr}" starts with "${start}"`);
  t.equal(result.stderr.indexOf('\n'), result.stderr.length - 1, `${what}: one line`);
}
