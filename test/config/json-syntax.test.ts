// findJsonSyntaxProblem agrees with JSON.parse on what is JSON, and points at the first bad character.

import fc from 'fast-check';
import t from 'tap';
import { findJsonSyntaxProblem } from '../../src/config/index.js';

t.test('finds no problem in anything JSON.stringify writes', async (t) => {
  // Act / Assess
  fc.assert(
    fc.property(fc.jsonValue(), fc.constantFrom(undefined, 2), (value, indent) => findJsonSyntaxProblem(JSON.stringify(value, null, indent)) === undefined),
    { numRuns: 500 },
  );
  t.pass('500 generated documents');
});

t.test('calls text JSON exactly when JSON.parse does, for mutated documents', async (t) => {
  // Prepare: valid documents with one character inserted or deleted break in every way a hand edit does.
  const mutated = fc
    .tuple(fc.jsonValue(), fc.nat(), fc.constantFrom('insert', 'delete'), fc.constantFrom(',', '}', ']', '"', ':', ' ', 'x', '0', '-', '\\', '\n', '.', 'e'))
    .map(([value, at, op, char]) => {
      const text = JSON.stringify(value);
      const i = at % (text.length + 1);
      return op === 'insert' ? text.slice(0, i) + char + text.slice(i) : text.slice(0, i) + text.slice(i + 1);
    });

  // Act / Assess
  fc.assert(
    fc.property(mutated, (text) => {
      let valid = true;
      try {
        JSON.parse(text);
      } catch {
        valid = false;
      }
      return (findJsonSyntaxProblem(text) === undefined) === valid;
    }),
    { numRuns: 2000 },
  );
  t.pass('2000 mutated documents');
});

t.test('gives 1-based line and column of the offending character', async (t) => {
  // Act
  const problem = findJsonSyntaxProblem('{\n  "a": 1,\n  "b": [1, 2,]\n}');

  // Assess
  t.same(problem, { offset: 25, line: 3, column: 14, reason: 'expected a value, found "]"' });
});

t.test('reports bad escapes, control characters and bad numbers', async (t) => {
  // Act / Assess
  t.equal(findJsonSyntaxProblem('"a\\qb"')?.reason, 'bad escape in a string');
  t.equal(findJsonSyntaxProblem('"a\tb"')?.reason, 'control character in a string (write it as an escape such as \\n)');
  t.equal(findJsonSyntaxProblem('-x')?.reason, 'bad number starting "-"');
  t.equal(findJsonSyntaxProblem('01')?.reason, 'unexpected "1" after the end of the JSON value');
  t.equal(findJsonSyntaxProblem('{} {}')?.offset, 3);
});
