// Bundles the default Lambda consumer (cfn/lambda/index.ts) into one ESM file, AWS SDK clients included
// (so their versions are the ones tested, not the runtime's), and zips it as index.mjs for the template's Lambda
// runtime (nodejs24.x; the bundle targets Node 20 and up).

import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import yazl from 'yazl';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outDir = join(root, 'dist', 'lambda');
const zipPath = join(outDir, 'kvs-infer-consumer.zip');
/**
 * A fixed mtime makes the zip depend on the code only, so unchanged code uploads the same object. Zip's DOS
 * times are local: a local date, without the UTC extra field, gives the same bytes in every time zone.
 */
const MTIME = new Date(2020, 0, 1);

const { version } = JSON.parse(await readFile(join(root, 'package.json'), 'utf8'));

const result = await build({
  entryPoints: [join(root, 'cfn', 'lambda', 'index.ts')],
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  minify: true,
  write: false,
  legalComments: 'none',
  mainFields: ['module', 'main'],
  outfile: 'index.mjs',
  banner: {
    // Some bundled CommonJS modules require() Node built-ins, which an ESM bundle needs a require for.
    js:
      `// kvs-infer ${version}: default consumer of the kvs-infer results stream (Lambda handler ` +
      `index.handler)\nimport { createRequire as __kvsInferCreateRequire } from 'node:module';\nconst require = ` +
      `__kvsInferCreateRequire(import.meta.url);`,
  },
  logLevel: 'warning',
});
const code = result.outputFiles[0].contents;

await mkdir(outDir, { recursive: true });
const zip = new yazl.ZipFile();
zip.addBuffer(Buffer.from(code), 'index.mjs', {
  mtime: MTIME,
  forceDosTimestamp: true,
  mode: 0o100644,
  compressionLevel: 9,
});
zip.end();
const chunks = [];
for await (const chunk of zip.outputStream) chunks.push(chunk);
const bytes = Buffer.concat(chunks);
await writeFile(zipPath, bytes);
process.stdout.write(
  `${relative(process.cwd(), zipPath) || zipPath} ${bytes.length} bytes (index.mjs ${code.length} bytes)\n`,
);
