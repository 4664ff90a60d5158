// loadConfig: the document from a file or an SSM parameter (read with decryption, through the real
// SSM client against a protocol stub), overrides on top, and errors that name their source.

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SSMClient } from '@aws-sdk/client-ssm';
import t, { type Test } from 'tap';
import { ConfigError, type LoadConfigOptions, loadConfig } from '../../src/config/index.js';
import { env, KIT_JSON, ssmStub } from './helpers.js';

async function tempFile(t: Test, name: string, text: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'kvs-infer-config-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

async function loadError(options: LoadConfigOptions): Promise<ConfigError> {
  try {
    await loadConfig({ environment: env, ...options });
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('loadConfig accepted it');
}

t.test("KIT's document loads from a file, and the CLI's appName and workerId override it", async (t) => {
  // Prepare
  const file = await tempFile(t, 'kit.json', KIT_JSON);

  // Act
  const plain = await loadConfig({ file, environment: env });
  const overridden = await loadConfig({
    file,
    environment: env,
    overrides: { appName: 'KitApp', workerId: 'worker-a' },
  });

  // Assess
  t.equal(plain.source, `config file ${file}`);
  t.same(plain.warnings, []);
  t.equal(plain.config.sageMakerEndpoint, 'hardhat-endpoint');
  t.equal(plain.config.appName, 'kvs-infer');
  t.equal(plain.config.workerId, 'ip-10-0-0-7-42-abc123');
  t.equal(overridden.config.appName, 'KitApp');
  t.equal(overridden.config.workerId, 'worker-a');
});

t.test("KIT's document loads from an SSM parameter, asked for with decryption", async (t) => {
  // Prepare
  const { client, requests } = await ssmStub(t, { 'Hardhat-detector-POC': KIT_JSON });

  // Act
  const loaded = await loadConfig({
    ssmParameter: 'Hardhat-detector-POC',
    ssmClient: client,
    environment: env,
    overrides: { appName: 'Hardhat-detector-POC' },
  });

  // Assess
  t.same(requests, [
    { target: 'AmazonSSM.GetParameter', body: { Name: 'Hardhat-detector-POC', WithDecryption: true } },
  ]);
  t.equal(loaded.source, 'SSM parameter "Hardhat-detector-POC"');
  t.same(loaded.config.tagFilters, [{ key: 'Location', values: ['Front', 'Parking'] }]);
  t.equal(loaded.config.appName, 'Hardhat-detector-POC');
});

t.test('a missing SSM parameter is CONFIG_UNREADABLE, naming the parameter', async (t) => {
  // Prepare
  const { client } = await ssmStub(t, {});

  // Act
  const error = await loadError({ ssmParameter: 'nope', ssmClient: client });

  // Assess
  t.equal(error.code, 'CONFIG_UNREADABLE');
  t.equal(error.message, 'SSM parameter "nope" does not exist');
  t.equal((error.cause as Error).name, 'ParameterNotFound');
});

t.test('an unreachable SSM endpoint is CONFIG_UNREADABLE with the SDK error as cause', async (t) => {
  // Prepare: port 1 on loopback has no listener, so the connection is refused.
  const dead = new SSMClient({
    endpoint: 'http://127.0.0.1:1',
    region: 'us-east-1',
    credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
    maxAttempts: 1,
  });
  t.teardown(() => dead.destroy());

  // Act
  const error = await loadError({ ssmParameter: 'kit', ssmClient: dead });

  // Assess
  t.equal(error.code, 'CONFIG_UNREADABLE');
  t.match(error.message, /^cannot read SSM parameter "kit": /);
  t.ok(error.cause instanceof Error);
});

t.test('invalid JSON in an SSM parameter names the parameter and where the JSON breaks', async (t) => {
  // Prepare: a trailing comma, as hand-edited parameters often have.
  const { client } = await ssmStub(t, { kit: '{"streamNames":["a"],\n "sageMakerEndpoint":"ep",}' });

  // Act
  const error = await loadError({ ssmParameter: 'kit', ssmClient: client });

  // Assess
  t.equal(error.code, 'CONFIG_SYNTAX');
  t.equal(
    error.message,
    'SSM parameter "kit" is not valid JSON: Expected double-quoted property name in JSON at position 48 (line 2, ' +
      'column 27)',
  );
  t.type(error.cause, SyntaxError);
});

t.test(
  'invalid JSON in a file names the file, the reason and, where JSON.parse gives a position, the line and column',
  async (t) => {
    const cases: [text: string, where: RegExp][] = [
      ['{"streamNames": }', /Unexpected token '}', "{"streamNames": }" is not valid JSON$/],
      ['{\n  "inferenceInterval": 6\n  "kdsStreamName": "k"\n}', /at position 29 \(line 3, column 3\)$/],
      ['{"sageMakerEndpoint": "ep', /Unterminated string in JSON at position 25 \(line 1, column 26\)$/],
      ['', /Unexpected end of JSON input$/],
      ["{'streamNames': []}", /at position 1 \(line 1, column 2\)$/],
      ['{"a": tru}', /"{"a": tru}" is not valid JSON$/],
    ];
    for (const [text, where] of cases) {
      // Prepare
      const file = await tempFile(t, 'bad.json', text);

      // Act
      const error = await loadError({ file });

      // Assess
      t.equal(error.code, 'CONFIG_SYNTAX');
      t.ok(error.message.startsWith(`config file ${file} is not valid JSON: `), error.message);
      t.match(error.message, where);
    }
  },
);

t.test('a file saved with a byte-order mark still loads', async (t) => {
  // Prepare
  const file = await tempFile(t, 'bom.json', `\uFEFF${KIT_JSON}`);

  // Act
  const { config } = await loadConfig({ file, environment: env });

  // Assess
  t.same(config.streamNames, ['cam-1']);
});

t.test('a bad value in a file is BAD_CONFIG naming the file, the key and the value', async (t) => {
  // Prepare
  const file = await tempFile(t, 'kit.json', KIT_JSON.replace('"inferenceInterval":6', '"inferenceInterval":"six"'));

  // Act
  const error = await loadError({ file });

  // Assess
  t.equal(error.code, 'BAD_CONFIG');
  t.equal(error.message, `config file ${file}: inferenceInterval must be a positive integer, got "six"`);
  t.same(error.issues, [
    { key: 'inferenceInterval', message: 'inferenceInterval must be a positive integer, got "six"' },
  ]);
});

t.test('a missing file is CONFIG_UNREADABLE naming the path', async (t) => {
  // Act
  const error = await loadError({ file: '/nonexistent/kit.json' });

  // Assess
  t.equal(error.code, 'CONFIG_UNREADABLE');
  t.match(error.message, /^cannot read config file \/nonexistent\/kit\.json: ENOENT/);
});

t.test('neither or both sources, or SSM without a client, is BAD_CONFIG_SOURCE', async (t) => {
  // Act
  const neither = await loadError({});
  const both = await loadError({ file: 'a.json', ssmParameter: 'kit' });
  const noClient = await loadError({ ssmParameter: 'kit' });

  // Assess
  t.equal(neither.code, 'BAD_CONFIG_SOURCE');
  t.equal(both.code, 'BAD_CONFIG_SOURCE');
  t.equal(noClient.code, 'BAD_CONFIG_SOURCE');
  t.equal(noClient.message, 'reading SSM parameter "kit" needs an SSM client');
});
