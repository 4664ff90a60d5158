// Error codes are typed: the base class takes only the codes it is raised with directly, and each subclass only
// its own union, so a misspelled code fails the typecheck. Checked by compiling snippets with the TypeScript API.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import ts from 'typescript';

const SRC = fileURLToPath(new URL('../src/', import.meta.url));

/** The typecheck's messages for `body`, compiled after imports of the error classes, as the project compiles. */
function diagnostics(body: string): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'kvs-infer-error-codes-'));
  try {
    const file = join(dir, 'snippet.ts');
    const imports = [
      `import { KvsInferError } from '${join(SRC, 'errors.js')}';`,
      `import { LeaseError } from '${join(SRC, 'actors/lease/lease-errors.js')}';`,
      `import { PublishError } from '${join(SRC, 'actors/pipeline/result-publisher.js')}';`,
    ];
    writeFileSync(file, `${imports.join('\n')}\n${body}\n`);
    const program = ts.createProgram([file], {
      strict: true,
      noEmit: true,
      skipLibCheck: true,
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      types: ['node'],
    });
    return ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

t.test('known codes typecheck; a misspelled one fails, for the base class and for subclasses', async (t) => {
  // Prepare
  const valid = [
    "export const a = new KvsInferError('BAD_CONFIG', 'x');",
    "export const b = new KvsInferError('USAGE', 'x');",
    "export const c = new LeaseError('LEASE_LOST', 'x');",
    "export const d = new PublishError('PUT_RECORDS_PARTIAL_FAILURE', 'x');",
  ].join('\n');
  const misspelled = [
    "export const a = new KvsInferError('BAD_CONFIGG', 'x');",
    "export const c = new LeaseError('LEASE_LOSTT', 'x');",
    "export const d = new PublishError('PUBLISH_TIMEOUTT', 'x');",
  ].join('\n');

  // Act
  const ok = diagnostics(valid);
  const bad = diagnostics(misspelled);

  // Assess
  t.same(ok, [], 'the codes each class is raised with typecheck');
  t.equal(bad.length, 3, `each misspelling is an error: ${bad.join(' | ')}`);
  t.match(bad.join('\n'), /"BAD_CONFIGG".*KvsInferErrorCode/, 'the base class names its union');
  t.match(bad.join('\n'), /"LEASE_LOSTT".*LeaseErrorCode/, 'a subclass names its own');
  t.match(bad.join('\n'), /"PUBLISH_TIMEOUTT".*PublishErrorCode/, 'another subclass names its own');
});
