// The container, without a Docker engine: the Dockerfile passes a linter from npm, and the runtime
// stage's install (docker/install-runtime.sh, the very script the Dockerfile runs) is reproduced in a
// scratch directory from the packed package; the installed `kvs-infer run` then works against the local stack.

import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { RESULTS_STREAM, until } from '../../bench/worker-cluster.js';
import { cachedFixture } from '../../bench/fixtures/index.js';
import { kinesisClient } from '../../src/aws/clients.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION, LocalStack, readAllRecords } from '../../src/local/index.js';

const run = promisify(execFile);
const DOCKERFILE = 'docker/Dockerfile';

t.test('the Dockerfile lints clean and keeps to its contract', async (t) => {
  // Act
  const { stdout } = await run('node_modules/.bin/dockerfilelint', ['--json', DOCKERFILE]);
  const text = await readFile(DOCKERFILE, 'utf8');

  // Assess
  const report = JSON.parse(stdout) as { files: { issues: unknown[] }[]; totalIssues: number };
  t.equal(report.totalIssues, 0, `dockerfilelint finds no issue (${JSON.stringify(report.files[0]?.issues)})`);
  const stages = [...text.matchAll(/^FROM (\S+) AS (\w+)$/gm)].map((m) => [m[1], m[2]]);
  t.same(stages, [['node:20-bookworm-slim', 'build'], ['node:20-bookworm-slim', 'runtime']], 'a build and a runtime stage on the official Node.js slim image');
  const runtime = text.slice(text.indexOf('AS runtime'));
  t.match(runtime, /^RUN sh \/tmp\/pkg\/install-runtime\.sh \/tmp\/pkg \/app/m, 'the runtime stage installs with docker/install-runtime.sh, the script this test runs');
  t.match(runtime, /^USER node$/m, 'runs as the non-root node user');
  t.match(runtime, /^ENTRYPOINT \["\/usr\/bin\/tini", "--", "node", "\/app\/dist\/src\/cli\/main\.js"\]$/m, 'exec form through tini, so SIGTERM reaches Node');
  t.match(runtime, /^CMD \["run"/m, 'kvs-infer run by default');
  const ignored = (await readFile('.dockerignore', 'utf8')).split('\n');
  for (const entry of ['node_modules', 'dist', '.git', 'test']) t.ok(ignored.includes(entry), `.dockerignore leaves out ${entry}`);
});

t.test('the packed package installed with production dependencies only runs a worker end to end', { skip: existsSync('dist/src/cli/main.js') ? false : 'dist/ is not built (npm test builds it)' }, async (t) => {
  // Prepare: the runtime stage's steps in a scratch directory (the build stage's output is this checkout's dist/)
  const dir = await mkdtemp(join(tmpdir(), 'kvs-infer-runtime-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const pkg = join(dir, 'pkg');
  const app = join(dir, 'app');
  await mkdir(pkg);
  // --ignore-scripts: pack what `npm test` built, without rebuilding dist/ under the other tests' feet.
  await run('npm', ['pack', '--ignore-scripts', '--pack-destination', pkg], { env: { ...process.env, npm_config_loglevel: 'error' } });
  await cp('package-lock.json', join(pkg, 'package-lock.json'));
  await run('sh', ['docker/install-runtime.sh', pkg, app], { maxBuffer: 16 * 1024 * 1024 });
  t.notOk(existsSync(join(app, 'node_modules', 'typescript')), 'no dev dependency installed (typescript)');
  t.notOk(existsSync(join(app, 'node_modules', 'tap')), 'no dev dependency installed (tap)');
  t.ok(existsSync(join(app, 'dist', 'src', 'debug', 'assets', 'app.js')), 'the debug page assets are in the package');

  const file = await cachedFixture('64x48-gop200ms-4s.mkv', { width: 64, height: 48, fps: 30, gopSeconds: 0.2, durationSeconds: 4, bitrate: '100k', seed: 3 });
  const stack = await LocalStack.start({ streams: [{ name: 'cam-0', file }], loop: true, rate: 1, model: 'fixed', dataStreams: [RESULTS_STREAM] });
  t.teardown(() => stack.close());
  const config = join(dir, 'config.json');
  await writeFile(config, JSON.stringify({ streamNames: ['cam-0'], sageMakerEndpoint: 'runtime-test', kdsStreamName: RESULTS_STREAM, inferenceInterval: 1, appName: 'runtime-test', checkpointIntervalMillis: 0 }));

  // Act: the installed command, from outside the checkout, as the container's entrypoint runs it
  const child = spawn(process.execPath, [join(app, 'dist', 'src', 'cli', 'main.js'), 'run', '--config', config, '--worker-id', 'container', '--debug-port', '0'], {
    cwd: dir,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, NODE_ENV: 'production', ...stack.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  t.teardown(() => child.kill('SIGKILL'));
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d));
  child.stderr.resume();
  await until('the debug server', () => output.includes('"event":"debug-server"'), 30_000);
  const debugUrl = /"url":"(http:\/\/[^"]+)\/debug"/.exec(output)![1]!;
  const kinesis = kinesisClient({ endpoint: stack.kinesis.url, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  t.teardown(() => kinesis.destroy());
  let records = 0;
  const deadline = Date.now() + 30_000;
  while (records < 5 && Date.now() < deadline) {
    records = (await readAllRecords(kinesis, RESULTS_STREAM)).length;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  const health = await fetch(`${debugUrl}/healthz`);
  const page = await fetch(`${debugUrl}/debug/app.js`);
  child.kill('SIGTERM');
  const code = await exited;

  // Assess
  t.ok(records >= 5, `the installed worker published ${records} records to the Kinesis emulator`);
  t.equal(health.status, 200, 'its /healthz answers (the container health check)');
  t.equal(page.status, 200, 'and it serves the lease inspector from the installed package');
  t.equal(code, 0, 'SIGTERM: graceful shutdown, exit 0');
  t.match(output, /"event":"worker-stopped"/, 'it logged its graceful stop');
});
