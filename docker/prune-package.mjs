// Removes from an installed app one package it never loads, with every package only that one brings in,
// as the app's package-lock.json tells. Fails if the package is not in the lockfile, so that a dependency
// change that drops it is noticed. Usage: node prune-package.mjs APP_DIR NAME
import { readdirSync, readFileSync, rmdirSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

const [appDir, name] = process.argv.slice(2);
const { packages } = JSON.parse(readFileSync(join(appDir, 'package-lock.json'), 'utf8'));
const target = `node_modules/${name}`;
if (!(target in packages)) {
  process.stderr.write(`prune-package: ${name} is not in ${join(appDir, 'package-lock.json')}\n`);
  process.exit(1);
}

/** Where Node finds `dependency` from the package at `path` ('' for the app): the nearest node_modules up the tree. */
function locate(path, dependency) {
  for (let base = path; ; base = base.slice(0, Math.max(base.lastIndexOf('/node_modules/'), 0))) {
    const candidate = `${base === '' ? '' : `${base}/`}node_modules/${dependency}`;
    if (candidate in packages) return candidate;
    if (base === '') return undefined;
  }
}

/** The lockfile paths of every package the app's production dependencies reach, not passing through `skip`. */
function reachable(skip) {
  const seen = new Set();
  const pending = [''];
  while (pending.length > 0) {
    const path = pending.pop();
    if (seen.has(path) || path === skip) continue;
    seen.add(path);
    const { dependencies, optionalDependencies, peerDependencies } = packages[path];
    for (const dependency of Object.keys({ ...dependencies, ...optionalDependencies, ...peerDependencies })) {
      const found = locate(path, dependency);
      if (found !== undefined) pending.push(found);
    }
  }
  return seen;
}

const kept = reachable(target);
for (const path of reachable(undefined)) {
  if (kept.has(path)) continue;
  const dir = join(appDir, path);
  rmSync(dir, { recursive: true, force: true });
  // A scope folder left empty goes too (@peculiar, @noble...).
  const scope = dirname(dir);
  if (basename(scope).startsWith('@') && readdirSync(scope).length === 0) rmdirSync(scope);
}
