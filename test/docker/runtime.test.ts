// The container, without a Docker engine: the Dockerfile passes a linter from npm, and the runtime
// stage's install (docker/install-runtime.sh, the very script the Dockerfile runs) is reproduced in a
// scratch directory from the packed package. That install holds the worker only, within a size budget;
// its `kvs-infer local` and `kvs-infer demo` say what to install; its `kvs-infer run` works against the
// local stack, on Node 22 (the container's Node) when .ci/run provides it in KVS_INFER_NODE22.

import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, lstat, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { kinesisClient } from '../../src/aws/clients.js';
import { LOCAL_STACK_PACKAGES } from '../../src/cli/local-stack-check.js';
import { WORKER_NODE_FLAGS } from '../../src/cli/node-flags.js';
import { smallClip } from '../../src/local/fixtures/index.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION, LocalStack, readAllRecords } from '../../src/local/index.js';
import { RESULTS_STREAM, until } from '../../src/local/worker-cluster.js';

const run = promisify(execFile);
const DOCKERFILE = 'docker/Dockerfile';
/** The issue's budget for the installed app (node_modules and dist), as du counts it. */
const MAX_INSTALL_MB = 260;
/**
 * Packages the worker never loads: the local stack's emulators and detector, node-av's WebRTC stack and
 * jpeg-turbo's fallback compiler.
 */
const LEFT_OUT =
  /(^|\/)node_modules\/(dynalite|kinesalite|leveldown|werift|cmake-js|@tensorflow\/[^/]+|@vladmandic\/[^/]+)$/;
/** The Node that runs the installed app: the container's (22) when given, else this one. */
const NODE = process.env.KVS_INFER_NODE22 || process.execPath;

t.test('the Dockerfile lints clean and keeps to its contract', async (t) => {
  // Act
  const { stdout } = await run('node_modules/.bin/dockerfilelint', ['--json', DOCKERFILE]);
  const text = await readFile(DOCKERFILE, 'utf8');

  // Assess
  const report = JSON.parse(stdout) as { files: { issues: unknown[] }[]; totalIssues: number };
  t.equal(report.totalIssues, 0, `dockerfilelint finds no issue (${JSON.stringify(report.files[0]?.issues)})`);
  const stages = [...text.matchAll(/^FROM (\S+) AS (\w+)$/gm)].map((m) => [m[1], m[2]]);
  const expected = [
    ['node:22-bookworm-slim', 'build'],
    ['node:22-bookworm-slim', 'runtime'],
  ];
  t.same(stages, expected, 'a build and a runtime stage on the official Node.js 22 slim image');
  const runtime = text.slice(text.indexOf('AS runtime'));
  const copy = /^COPY docker\/install-runtime\.sh docker\/prune-package\.mjs \/tmp\/pkg\/$/m;
  t.match(runtime, copy, 'the install script comes with the prune script it runs');
  t.match(
    runtime,
    /^RUN sh \/tmp\/pkg\/install-runtime\.sh \/tmp\/pkg \/app/m,
    'the runtime stage installs with docker/install-runtime.sh, the script this test runs',
  );
  t.match(runtime, /^USER node$/m, 'runs as the non-root node user');
  const node = ['node', ...WORKER_NODE_FLAGS, '/app/dist/src/cli/main.js'].map((arg) => `, "${arg}"`).join('');
  t.ok(
    runtime.split('\n').includes(`ENTRYPOINT ["/usr/bin/tini", "--"${node}]`),
    `exec form through tini, so SIGTERM reaches Node, with the worker's Node flags (${WORKER_NODE_FLAGS.join(' ')})`,
  );
  t.match(runtime, /^CMD \["run"/m, 'kvs-infer run by default');
  const ignored = (await readFile('.dockerignore', 'utf8')).split('\n');
  for (const entry of ['node_modules', 'dist', '.git', 'test'])
    t.ok(ignored.includes(entry), `.dockerignore leaves out ${entry}`);
});

t.test(
  'the packed package installed with production dependencies only',
  { skip: existsSync('dist/src/cli/main.js') ? false : 'dist/ is not built (npm test builds it)' },
  async (t) => {
    // Prepare: the runtime stage's steps in a scratch directory (the build stage's output is this checkout's dist/)
    const dir = await mkdtemp(join(tmpdir(), 'kvs-infer-runtime-'));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    const pkg = join(dir, 'pkg');
    const app = join(dir, 'app');
    const main = join(app, 'dist', 'src', 'cli', 'main.js');
    await mkdir(pkg);
    // --ignore-scripts: pack what `npm test` built, without rebuilding dist/ under the other tests' feet.
    await run('npm', ['pack', '--ignore-scripts', '--pack-destination', pkg], {
      env: { ...process.env, npm_config_loglevel: 'error' },
    });
    await cp('package-lock.json', join(pkg, 'package-lock.json'));
    await run('sh', ['docker/install-runtime.sh', pkg, app], { maxBuffer: 16 * 1024 * 1024 });
    const { stdout: nodeVersion } = await run(NODE, ['--version']);

    t.test('holds the worker only, within the size budget', async (t) => {
      // Act
      const footprint = await diskUsage(app);

      // Assess
      console.log(`PRODUCTION-INSTALL | ${footprint.mb.toFixed(0)} MB | ${footprint.packages.length} packages`);
      t.ok(
        footprint.mb <= MAX_INSTALL_MB,
        `node_modules and dist take ${footprint.mb.toFixed(1)} MB, at most ${MAX_INSTALL_MB} MB`,
      );
      t.same(
        footprint.packages.filter((p) => LEFT_OUT.test(p)),
        [],
        'no emulator, detector, model, WebRTC or compiler package installed',
      );
      for (const name of ['typescript', 'tap'])
        t.notOk(footprint.packages.includes(`node_modules/${name}`), `no dev dependency installed (${name})`);
      t.ok(
        footprint.packages.includes('node_modules/@aws-sdk/client-kinesis-video-archived-media'),
        'the archived-media client (kvs-infer replay) installed',
      );
      // The prebuilt binaries are optional dependencies of node-av and sharp: the pruning must leave them.
      for (const binary of [/^node_modules\/@seydx\/node-av-linux-/, /^node_modules\/@img\/sharp-linux-/]) {
        t.ok(
          footprint.packages.some((p) => binary.test(p)),
          `a prebuilt binary package installed (${binary.source})`,
        );
      }
      t.ok(
        existsSync(join(app, 'dist', 'src', 'debug', 'assets', 'app.js')),
        'the debug page assets are in the package',
      );
    });

    for (const command of ['local', 'demo']) {
      t.test(`kvs-infer ${command} names the local stack's packages to install`, async (t) => {
        // Act
        const result = await runNode([main, command], dir);

        // Assess
        t.equal(result.code, 2, 'exit 2: the install lacks what the command needs');
        t.equal(result.stdout, '', 'nothing on stdout');
        const lines = result.stderr.trimEnd().split('\n');
        t.equal(lines.length, 1, 'one line on stderr');
        const wanted = Object.entries(LOCAL_STACK_PACKAGES).map(([name, range]) => `${name}@${range}`);
        t.equal(
          lines[0],
          `LOCAL_STACK_NOT_INSTALLED: kvs-infer ${command} needs packages a production install leaves out ` +
            `(${wanted.join(', ')}): ` +
            "install them with npm install --include=dev in kvs-infer's directory, or run from a checkout after npm ci",
          'naming the code, each package and how to install them',
        );
      });
    }

    t.test('kvs-infer replay loads, and names a config file it cannot read', async (t) => {
      // Prepare
      const missing = join(dir, 'missing.json');
      const args = ['replay', '--config', missing, '--stream', 'cam-0', '--start', '2026-12-06', '--end', '2026-12-07'];

      // Act
      const result = await runNode([main, ...args], dir);

      // Assess
      t.equal(result.code, 2, `exit 2 (stderr: ${result.stderr})`);
      t.match(result.stderr, `CONFIG_UNREADABLE: cannot read config file ${missing}: `, 'naming the file');
    });

    t.test(`runs a worker end to end on Node ${nodeVersion.trim()}`, async (t) => {
      // Prepare
      const file = await smallClip();
      const stack = await LocalStack.start({
        streams: [{ name: 'cam-0', file }],
        loop: true,
        rate: 1,
        model: 'fixed',
        dataStreams: [RESULTS_STREAM],
      });
      t.teardown(() => stack.close());
      const config = join(dir, 'config.json');
      await writeFile(
        config,
        JSON.stringify({
          streamNames: ['cam-0'],
          sageMakerEndpoint: 'runtime-test',
          kdsStreamName: RESULTS_STREAM,
          inferenceInterval: 1,
          appName: 'runtime-test',
          checkpointIntervalMillis: 0,
        }),
      );

      // Act: the installed command, from outside the checkout, as the container's entrypoint runs it
      const started = performance.now();
      const child = spawn(
        NODE,
        [...WORKER_NODE_FLAGS, main, 'run', '--config', config, '--worker-id', 'container', '--debug-port', '0'],
        {
          cwd: dir,
          env: { PATH: process.env.PATH, HOME: process.env.HOME, NODE_ENV: 'production', ...stack.env },
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
      t.teardown(() => child.kill('SIGKILL'));
      let output = '';
      let errors = '';
      child.stdout.on('data', (d: Buffer) => (output += d));
      child.stderr.on('data', (d: Buffer) => (errors += d));
      await until('the debug server', () => output.includes('"event":"debug-server"'), 30_000);
      const debugUrl = /"url":"(http:\/\/[^"]+)\/debug"/.exec(output)![1]!;
      let ready = false;
      const readyDeadline = Date.now() + 60_000;
      while (!ready && Date.now() < readyDeadline) {
        ready = (await fetch(`${debugUrl}/readyz`, { signal: AbortSignal.timeout(5000) })).status === 200;
        if (!ready) await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const readySeconds = (performance.now() - started) / 1000;
      const kinesis = kinesisClient({
        endpoint: stack.kinesis.url,
        region: LOCAL_REGION,
        credentials: LOCAL_CREDENTIALS,
      });
      t.teardown(() => kinesis.destroy());
      let records = 0;
      const deadline = Date.now() + 30_000;
      while (records < 5 && Date.now() < deadline) {
        records = (await readAllRecords(kinesis, RESULTS_STREAM)).length;
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
      const health = await fetch(`${debugUrl}/healthz`, { signal: AbortSignal.timeout(5000) });
      const page = await fetch(`${debugUrl}/debug/app.js`, { signal: AbortSignal.timeout(5000) });
      child.kill('SIGTERM');
      const code = await exited;

      // Assess
      console.log(
        `PRODUCTION-INSTALL | Node ${nodeVersion.trim()} | ${readySeconds.toFixed(1)} s from kvs-infer run to ` +
          `/readyz 200`,
      );
      t.ok(ready, `/readyz answered 200 (${readySeconds.toFixed(1)} s after start)`);
      t.ok(records >= 5, `the installed worker published ${records} records to the Kinesis emulator`);
      t.equal(health.status, 200, 'its /healthz answers (the container health check)');
      t.equal(page.status, 200, 'and it serves the lease inspector from the installed package');
      t.equal(code, 0, 'SIGTERM: graceful shutdown, exit 0');
      t.match(output, /"event":"worker-stopped"/, 'it logged its graceful stop');
      if (process.env.KVS_INFER_NODE22) {
        t.match(nodeVersion, /^v22\./, 'KVS_INFER_NODE22 is a Node 22');
        t.notMatch(
          errors,
          /NodeVersionSupportWarning|DeprecationWarning/,
          'no Node version or deprecation warning on Node 22',
        );
      } else {
        t.comment(
          `KVS_INFER_NODE22 is unset (.ci/run sets it): ran on ${nodeVersion.trim()}, start-up warnings not checked`,
        );
      }
    });
  },
);

/**
 * What du -sm reports for `dir` (allocated blocks, in MiB), and the lockfile-style path of every package folder under
 * it.
 */
async function diskUsage(dir: string): Promise<{ mb: number; packages: string[] }> {
  const entries = await readdir(dir, { recursive: true });
  let bytes = (await lstat(dir)).blocks * 512;
  for (const entry of entries) bytes += (await lstat(join(dir, entry))).blocks * 512;
  const packages = entries
    .filter((e) => /(^|\/)node_modules\/(@[^/]+\/)?[^@./][^/]*\/package\.json$/.test(e))
    .map((e) => e.slice(0, -'/package.json'.length));
  return { mb: bytes / 2 ** 20, packages };
}

/** Runs `node args` in `cwd` with no local stack around, and returns how it ended. */
async function runNode(args: string[], cwd: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env = { PATH: process.env.PATH, HOME: process.env.HOME, NODE_ENV: 'production' };
  // A deadline (then SIGTERM) so that a command that hangs fails the test rather than stalling it.
  const child = spawn(NODE, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d));
  child.stderr.on('data', (d: Buffer) => (stderr += d));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { code, stdout, stderr };
}
