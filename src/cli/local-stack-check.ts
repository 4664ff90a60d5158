// The local stack's emulators and detector are development dependencies: a production install (the
// container's `npm ci --omit=dev`) leaves them out. `kvs-infer local` and `kvs-infer demo` check for them
// before importing the local stack, so that the user reads what to install instead of a module-not-found trace.

import { createRequire } from 'node:module';
import { KvsInferError } from '../errors.js';

/**
 * The packages only the local stack needs, with their ranges in package.json's devDependencies (a test holds the two
 * equal).
 */
export const LOCAL_STACK_PACKAGES: Readonly<Record<string, string>> = {
  '@tensorflow/tfjs-backend-wasm': '^4.22.0',
  '@tensorflow/tfjs-converter': '^4.22.0',
  '@tensorflow/tfjs-core': '^4.22.0',
  '@vladmandic/human': '^3.3.6',
  dynalite: '^4.0.0',
  kinesalite: '^3.3.3',
  // kinesalite requires it for an on-disk store (`kvs-infer local --data-dir`) without declaring it.
  leveldown: '^6.1.1',
};

/**
 * Throws LOCAL_STACK_NOT_INSTALLED, naming each missing package and how to install it, unless all of
 * LOCAL_STACK_PACKAGES resolve. How: `npm install --include=dev` (the lockfile's versions). Naming the packages to npm
 * would not do: they are devDependencies, which npm leaves out under NODE_ENV=production (the container's) and installs
 * all of otherwise.
 */
export function checkLocalStackInstalled(command: string): void {
  const require = createRequire(import.meta.url);
  const missing = Object.entries(LOCAL_STACK_PACKAGES)
    .filter(([name]) => !resolves(require, name))
    .map(([name, range]) => `${name}@${range}`);
  if (missing.length === 0) return;
  throw new KvsInferError(
    'LOCAL_STACK_NOT_INSTALLED',
    `kvs-infer ${command} needs packages a production install leaves out (${missing.join(', ')}): ` +
      `install them with npm install --include=dev in kvs-infer's directory, or run from a checkout after npm ci`,
  );
}

function resolves(require: NodeJS.Require, name: string): boolean {
  try {
    require.resolve(name);
    return true;
  } catch (error) {
    if ((error as { code?: string }).code === 'MODULE_NOT_FOUND') return false;
    throw error;
  }
}
