// Lines of at most 120 characters in the files Biome checks: its formatter keeps code within the width, but it
// leaves comments and string literals as they are, and it has no rule for them.
// Usage: node scripts/check-line-length.mjs [FILE ...] (default: every tracked source file)
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const MAX = 120;
const SOURCES = [
  'src/*.ts',
  'src/*.js',
  'test/*.ts',
  'bench/*.ts',
  'cfn/*.ts',
  'scripts/*.mjs',
  'docker/*.mjs',
  '.ci/*.mjs',
];
const files =
  process.argv.length > 2
    ? process.argv.slice(2)
    : execFileSync('git', ['ls-files', ...SOURCES], { encoding: 'utf8' })
        .split('\n')
        .filter(Boolean);
let long = 0;
for (const file of files) {
  readFileSync(file, 'utf8')
    .split('\n')
    .forEach((line, i) => {
      if (line.length <= MAX) return;
      long++;
      console.log(`${file}:${i + 1}: ${line.length} characters (at most ${MAX})`);
    });
}
if (long > 0) {
  console.log(`${long} lines over ${MAX} characters`);
  process.exitCode = 1;
}
