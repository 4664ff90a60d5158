// Reads tap's JSON report of the last run (on stdin) and prints "N passed, N failed, N skipped"
// counted from the real results: every assertion, plus any test file that failed without one, plus the linter.

let input = '';
for await (const chunk of process.stdin) input += chunk;
const report = JSON.parse(input);
let passed = 0;
let failed = 0;
let skipped = 0;

function walk(suite) {
  let failedInside = 0;
  for (const c of suite.cases ?? []) {
    if (c.skip || c.todo) skipped++;
    else if (c.ok) passed++;
    else {
      failed++;
      failedInside++;
    }
  }
  for (const child of suite.suites ?? []) failedInside += walk(child);
  if (suite.skip) skipped++;
  else if (suite.ok === false && failedInside === 0) {
    failed++;
    failedInside++;
  }
  return failedInside;
}

walk(report);
// A test file that dies before writing any result (an uncaught error at load) leaves nothing to replay: the test
// command's own failure, passed in TEST_STATUS, still counts as one.
if (failed === 0 && (process.env.TEST_STATUS ?? '0') !== '0') {
  console.log(
    'the test command failed with no failed result on record: a test file died before reporting (see its output)',
  );
  failed = 1;
}
// `npm run lint` (format and lint) is one check more.
if ((process.env.LINT_STATUS ?? '0') !== '0') {
  console.log('npm run lint failed (see its output)');
  failed++;
} else if (process.env.LINT_STATUS !== undefined) passed++;
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exitCode = failed > 0 ? 1 : 0;
