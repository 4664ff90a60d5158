// The local stack's packages: the list `kvs-infer local` and `kvs-infer demo` check for is package.json's
// development dependencies that src/local/ imports (the production install, which lacks them, is in
// test/docker/runtime.test.ts).

import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { checkLocalStackInstalled, LOCAL_STACK_PACKAGES } from '../../src/cli/local-stack-check.js';

const manifest = JSON.parse(await readFile('package.json', 'utf8')) as {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};

/**
 * The package name of a bare specifier ('@scope/name/sub' -> '@scope/name'), or undefined for a relative or node: one.
 */
function packageOf(specifier: string): string | undefined {
  if (specifier.startsWith('.') || specifier.startsWith('node:')) return undefined;
  return specifier
    .split('/')
    .slice(0, specifier.startsWith('@') ? 2 : 1)
    .join('/');
}

t.test('each listed package is a development dependency, with the range package.json gives', async (t) => {
  // Act
  const listed = Object.entries(LOCAL_STACK_PACKAGES);

  // Assess
  for (const [name, range] of listed) {
    t.equal(manifest.devDependencies[name], range, `${name}@${range} is in devDependencies`);
    t.notOk(Object.hasOwn(manifest.dependencies, name), `${name} is not a production dependency`);
  }
});

t.test('every package src/local/ loads that a production install leaves out is listed', async (t) => {
  // Prepare
  const files = (await readdir('src/local', { recursive: true })).filter((f) => f.endsWith('.ts'));

  // Act: static and dynamic imports, and the packages resolved by name (human's model files, the WASM binaries)
  const loaded = new Set<string>();
  for (const file of files) {
    const text = await readFile(join('src/local', file), 'utf8');
    for (const m of text.matchAll(/(?:\bfrom |\bimport\(|\bresolve\()'([^']+)'/g)) {
      const name = packageOf(m[1]!);
      if (name !== undefined) loaded.add(name);
    }
  }
  const leftOut = [...loaded].filter((name) => !Object.hasOwn(manifest.dependencies, name)).sort();

  // Assess
  t.ok(loaded.has('dynalite') && loaded.has('@vladmandic/human'), 'the scan finds the emulators and the detector');
  t.same(
    leftOut,
    leftOut.filter((name) => Object.hasOwn(LOCAL_STACK_PACKAGES, name)),
    `all listed: ${leftOut.join(', ')}`,
  );
});

t.test('in a checkout after npm ci, the local stack is installed', async (t) => {
  // Act and Assess
  t.doesNotThrow(() => checkLocalStackInstalled('demo'), 'no LOCAL_STACK_NOT_INSTALLED');
});
