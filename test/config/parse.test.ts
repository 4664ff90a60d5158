// parseConfig: KIT's document accepted as it is, defaults filled in, every bad key named with its
// value, unknown keys as warnings, overrides on top.

import t, { type Test } from 'tap';
import { CONFIG_DEFAULTS, ConfigError, parseConfig } from '../../src/config/index.js';
import { IMAGE_CONTENT_TYPES } from '../../src/native/types.js';
import { loadTemplate } from '../cfn/template-helpers.js';
import { env, KIT_JSON } from './helpers.js';

const minimal = { streamNames: ['cam-1'], sageMakerEndpoint: 'ep', kdsStreamName: 'kds' };

function badConfig(t: Test, document: unknown): ConfigError {
  try {
    parseConfig(document, { environment: env });
  } catch (error) {
    t.type(error, ConfigError);
    t.equal((error as ConfigError).code, 'BAD_CONFIG');
    return error as ConfigError;
  }
  t.fail('parseConfig accepted a bad document');
  throw new Error('unreachable');
}

t.test("KIT's exact document loads unchanged, with every new key at its default and no warning", async (t) => {
  // Prepare
  const document = JSON.parse(KIT_JSON) as unknown;

  // Act
  const { config, warnings } = parseConfig(document, { environment: env });

  // Assess
  t.same(warnings, []);
  t.same(config, {
    streamNames: ['cam-1'],
    tagFilters: [{ key: 'Location', values: ['Front', 'Parking'] }],
    sageMakerEndpoint: 'hardhat-endpoint',
    endPointAcceptContentType: 'image/jpeg',
    kdsStreamName: 'kit-results',
    inferenceInterval: 6,
    sageMakerTaskQueueSize: 5000,
    sageMakerTaskThreadPoolSize: 20,
    sageMakerTaskTimeoutInMilli: 20000,
    sageMakerTaskThreadPoolName: 'SageMakerThreadPool-%d',
    appName: 'kvs-infer',
    workerId: 'ip-10-0-0-7-42-abc123',
    failoverTimeMillis: 10000,
    maxLeasesPerWorker: undefined,
    leaseAssignment: 'leader',
    discoveryIntervalMillis: 60000,
    discoveryTagRequestsPerSecond: 20,
    discoveryTagRefreshMillis: 600000,
    shutdownTimeoutMillis: 25000,
    checkpointIntervalMillis: 5000,
    samplingIntervalMillis: undefined,
    maxMillisBehindNow: undefined,
    getMediaPricePerGB: 0.0085,
    decodeThreadPoolSize: 3,
    imageWidth: undefined,
    imageHeight: undefined,
    jpegQuality: 80,
    queuePolicy: 'backpressure',
    startSelectorType: 'NOW',
    sageMakerTaskMaxAttempts: undefined,
    sageMakerTaskRetryBudgetMillis: 300000,
    sageMakerTaskQueueBytes: 268435456,
    publishTimeoutMillis: 10000,
    awsConnectTimeoutMillis: 3000,
    awsRequestTimeoutMillis: 10000,
    getMediaIdleTimeoutMillis: 20000,
    missingStreamRetryMaxMillis: 300000,
    healthCheckStallFactor: 6,
    publishFailedFrames: true,
    statsIntervalMillis: 60000,
    logLevel: 'info',
    metricsNamespace: 'KvsInfer',
    metricsIntervalMillis: 60000,
    getMediaReconnectBaseMillis: 500,
    getMediaReconnectMaxMillis: 20000,
  });
});

t.test("KIT's own keys, when left out, take the values KIT's template writes", async (t) => {
  // Act
  const { config } = parseConfig(minimal, { environment: env });

  // Assess
  t.match(config, {
    tagFilters: [],
    endPointAcceptContentType: 'image/jpeg',
    inferenceInterval: 6,
    sageMakerTaskQueueSize: 5000,
    sageMakerTaskThreadPoolSize: 20,
    sageMakerTaskTimeoutInMilli: 20000,
    sageMakerTaskThreadPoolName: 'SageMakerThreadPool-%d',
  });
  t.equal(config.inferenceInterval, CONFIG_DEFAULTS.inferenceInterval);
});

t.test('new keys set in the document replace their defaults', async (t) => {
  // Prepare
  const document = {
    ...minimal,
    appName: 'my-app',
    workerId: 'w1',
    failoverTimeMillis: 3000,
    maxLeasesPerWorker: 4,
    leaseAssignment: 'every-worker',
    discoveryIntervalMillis: 5000,
    discoveryTagRequestsPerSecond: 5,
    discoveryTagRefreshMillis: 0,
    shutdownTimeoutMillis: 9000,
    checkpointIntervalMillis: 0,
    samplingIntervalMillis: 2000,
    maxMillisBehindNow: 60000,
    getMediaPricePerGB: 0.0119,
    decodeThreadPoolSize: 8,
    imageWidth: 640,
    imageHeight: 360,
    jpegQuality: 95,
    queuePolicy: 'latest',
    sageMakerTaskMaxAttempts: 2,
    sageMakerTaskRetryBudgetMillis: 60000,
    sageMakerTaskQueueBytes: 64 * 1024 * 1024,
    publishTimeoutMillis: 5000,
    awsConnectTimeoutMillis: 1000,
    awsRequestTimeoutMillis: 4000,
    getMediaIdleTimeoutMillis: 5000,
    missingStreamRetryMaxMillis: 60000,
    healthCheckStallFactor: 3,
    publishFailedFrames: false,
    statsIntervalMillis: 0,
    logLevel: 'debug',
    metricsNamespace: 'My/App',
    metricsIntervalMillis: 10000,
    getMediaReconnectBaseMillis: 100,
    getMediaReconnectMaxMillis: 100,
  };

  // Act
  const { config, warnings } = parseConfig(document, { environment: env });

  // Assess
  t.same(warnings, []);
  t.match(config, { ...document });
});

t.test('JSON null means "use the default", so templates can leave a key empty', async (t) => {
  // Act
  const { config } = parseConfig(
    { ...minimal, maxLeasesPerWorker: null, inferenceInterval: null, imageWidth: null },
    { environment: env },
  );

  // Assess
  t.equal(config.maxLeasesPerWorker, undefined);
  t.equal(config.inferenceInterval, 6);
  t.equal(config.imageWidth, undefined);
});

const ENDPOINT_NAME_RULE =
  "sageMakerEndpoint must be a SageMaker endpoint name (not an ARN): 1 to 63 of a-z, 0-9 and '-', starting and " +
  'ending with a letter or digit';

const badValues: [key: string, value: unknown, expected: string][] = [
  ['inferenceInterval', 'six', 'inferenceInterval must be a positive integer, got "six"'],
  ['inferenceInterval', 0, 'inferenceInterval must be a positive integer, got 0'],
  ['inferenceInterval', 1.5, 'inferenceInterval must be a positive integer, got 1.5'],
  ['sageMakerTaskQueueSize', -5, 'sageMakerTaskQueueSize must be a positive integer, got -5'],
  ['sageMakerTaskThreadPoolSize', '20', 'sageMakerTaskThreadPoolSize must be a positive integer, got "20"'],
  ['sageMakerTaskTimeoutInMilli', true, 'sageMakerTaskTimeoutInMilli must be a positive integer, got true'],
  ['sageMakerTaskThreadPoolName', '', 'sageMakerTaskThreadPoolName must be a non-empty string, got ""'],
  ['sageMakerEndpoint', 7, `${ENDPOINT_NAME_RULE}, got 7`],
  ['sageMakerEndpoint', '', `${ENDPOINT_NAME_RULE}, got ""`],
  ['sageMakerEndpoint', 'my_endpoint', `${ENDPOINT_NAME_RULE}, got "my_endpoint"`],
  ['sageMakerEndpoint', 'arn:aws:sagemaker:us-east-1:123456789012:endpoint/ep', ENDPOINT_NAME_RULE],
  ['kdsStreamName', '  ', 'kdsStreamName must be a non-empty string, got "  "'],
  [
    'endPointAcceptContentType',
    'image/webp',
    'endPointAcceptContentType must be one of "image/jpeg", "application/x-image", "image/png", "image/bmp", ' +
      '"image/gif", got "image/webp"',
  ],
  ['streamNames', 'cam-1', 'streamNames must be an array of stream names, got "cam-1"'],
  ['streamNames', ['ok', 'has space'], 'streamNames[1] must be a stream name'],
  [
    'tagFilters',
    { key: 'Location', values: ['Front'] },
    'tagFilters must be an array of tag filters, got {"key":"Location","values":["Front"]}',
  ],
  [
    'tagFilters',
    [{ key: 'Location', values: 'Front' }],
    'tagFilters[0].values must be an array of tag values, got "Front"',
  ],
  ['tagFilters', [{ key: 'Location', values: [] }], 'tagFilters[0].values must list at least one tag value, got []'],
  ['tagFilters', [{ values: ['Front'] }], 'tagFilters[0].key is required'],
  [
    'tagFilters',
    ['Location=Front'],
    'tagFilters[0] must be an object like {"key":"Location","values":["Front"]}, got "Location=Front"',
  ],
  ['appName', 'ab', "appName must be a DynamoDB table name (3 to 255 of a-z, A-Z, 0-9, '_', '.', '-'), got \"ab\""],
  ['appName', 'my app', 'appName must be a DynamoDB table name'],
  ['workerId', '', 'workerId must be a non-empty string, got ""'],
  ['failoverTimeMillis', '10s', 'failoverTimeMillis must be an integer from 1000 to 3600000, got "10s"'],
  ['failoverTimeMillis', 500, 'failoverTimeMillis must be an integer from 1000 to 3600000, got 500'],
  ['maxLeasesPerWorker', 0, 'maxLeasesPerWorker must be a positive integer, got 0'],
  ['discoveryIntervalMillis', -1, 'discoveryIntervalMillis must be an integer of at least 1000, got -1'],
  ['shutdownTimeoutMillis', 2.5, 'shutdownTimeoutMillis must be an integer from 1000 to 3600000, got 2.5'],
  ['checkpointIntervalMillis', -1, 'checkpointIntervalMillis must be an integer from 0 to 3600000, got -1'],
  ['decodeThreadPoolSize', 0, 'decodeThreadPoolSize must be a positive integer, got 0'],
  ['discoveryTagRequestsPerSecond', 51, 'discoveryTagRequestsPerSecond must be an integer from 1 to 50, got 51'],
  ['samplingIntervalMillis', 0, 'samplingIntervalMillis must be an integer from 1 to 86400000, got 0'],
  ['maxMillisBehindNow', 500, 'maxMillisBehindNow must be an integer from 1000 to 604800000, got 500'],
  ['getMediaPricePerGB', -0.01, 'getMediaPricePerGB must be a number from 0 to 1000, got -0.01'],
  ['getMediaPricePerGB', '0.0085', 'getMediaPricePerGB must be a number from 0 to 1000, got "0.0085"'],
  ['imageWidth', 0, 'imageWidth must be an integer from 1 to 16384, got 0'],
  ['imageHeight', 100000, 'imageHeight must be an integer from 1 to 16384, got 100000'],
  ['jpegQuality', 101, 'jpegQuality must be an integer from 1 to 100, got 101'],
  ['queuePolicy', 'drop', 'queuePolicy must be one of "backpressure", "latest", got "drop"'],
  ['leaseAssignment', 'kcl', 'leaseAssignment must be one of "leader", "every-worker", got "kcl"'],
  ['startSelectorType', 'LATEST', 'startSelectorType must be one of "NOW", "EARLIEST", got "LATEST"'],
  ['publishFailedFrames', 'yes', 'publishFailedFrames must be true or false, got "yes"'],
  ['sageMakerTaskMaxAttempts', 0, 'sageMakerTaskMaxAttempts must be an integer from 1 to 1000000, got 0'],
  [
    'sageMakerTaskRetryBudgetMillis',
    -1,
    'sageMakerTaskRetryBudgetMillis must be an integer from 0 to 86400000, got -1',
  ],
  ['sageMakerTaskQueueBytes', 1000, 'sageMakerTaskQueueBytes must be an integer of at least 1048576, got 1000'],
  ['publishTimeoutMillis', 0, 'publishTimeoutMillis must be an integer from 100 to 600000, got 0'],
  ['awsConnectTimeoutMillis', 50, 'awsConnectTimeoutMillis must be an integer from 100 to 600000, got 50'],
  ['awsRequestTimeoutMillis', '10s', 'awsRequestTimeoutMillis must be an integer from 100 to 600000, got "10s"'],
  ['getMediaIdleTimeoutMillis', 10, 'getMediaIdleTimeoutMillis must be an integer from 1000 to 3600000, got 10'],
  ['missingStreamRetryMaxMillis', 0, 'missingStreamRetryMaxMillis must be an integer from 1000 to 86400000, got 0'],
  ['healthCheckStallFactor', 1, 'healthCheckStallFactor must be an integer from 2 to 1000, got 1'],
  ['statsIntervalMillis', -1, 'statsIntervalMillis must be a non-negative integer, got -1'],
  ['logLevel', 'verbose', 'logLevel must be one of "debug", "info", "warn", "error", got "verbose"'],
  [
    'metricsNamespace',
    'a:b',
    'metricsNamespace must be a CloudWatch namespace (1 to 255 characters, no colon), got "a:b"',
  ],
  ['getMediaReconnectBaseMillis', 0, 'getMediaReconnectBaseMillis must be an integer from 1 to 600000, got 0'],
  ['getMediaReconnectMaxMillis', 'x', 'getMediaReconnectMaxMillis must be an integer from 1 to 3600000, got "x"'],
];

t.test('a bad value is refused with BAD_CONFIG and a message naming the key and the value', async (t) => {
  for (const [key, value, expected] of badValues) {
    t.test(`${key} = ${JSON.stringify(value)}`, async (t) => {
      // Prepare
      const document = { ...JSON.parse(KIT_JSON), [key]: value };

      // Act
      const error = badConfig(t, document);

      // Assess
      t.ok(error.message.startsWith(expected), `"${error.message}" starts with "${expected}"`);
      t.equal(error.issues.length, 1);
      t.ok(error.issues[0]!.key.startsWith(key), `issue key ${error.issues[0]!.key} names ${key}`);
    });
  }
});

t.test('every image type the pool can write is accepted as endPointAcceptContentType', async (t) => {
  for (const contentType of IMAGE_CONTENT_TYPES) {
    t.equal(
      parseConfig({ ...minimal, endPointAcceptContentType: contentType }, { environment: env }).config
        .endPointAcceptContentType,
      contentType,
    );
  }
});

t.test('a mixed-case sageMakerEndpoint is refused, naming the key and why', async (t) => {
  // Act
  const error = badConfig(t, { ...minimal, sageMakerEndpoint: 'Hardhat-Endpoint' });

  // Assess
  t.same(
    error.issues.map((i) => i.key),
    ['sageMakerEndpoint'],
  );
  t.equal(
    error.message,
    'sageMakerEndpoint must be in lowercase, got "Hardhat-Endpoint": SageMaker writes endpoint ARNs in lowercase and ' +
      'IAM compares ARNs case-sensitively, ' +
      'so a role allowed InvokeEndpoint on this name would be denied (the CloudFormation template refuses it too)',
  );
});

t.test(
  "sageMakerEndpoint accepts exactly the names the template's AllowedPattern accepts, within SageMaker's 63 characters",
  async (t) => {
    // Prepare
    const allowed = new RegExp(String(loadTemplate().Parameters.SageMakerEndpoint!.AllowedPattern));
    const names = [
      'hardhat-endpoint',
      'ep',
      '7',
      'a--b',
      'x'.repeat(63),
      'Hardhat-Endpoint',
      'EP',
      'my_endpoint',
      '-ep',
      'ep-',
      'my.endpoint',
      '',
    ];
    const accepted = (name: string) => {
      try {
        return (
          parseConfig({ ...minimal, sageMakerEndpoint: name }, { environment: env }).config.sageMakerEndpoint === name
        );
      } catch (error) {
        if ((error as ConfigError).code !== 'BAD_CONFIG') throw error;
        return false;
      }
    };

    // Act / Assess
    for (const name of names)
      t.equal(accepted(name), allowed.test(name), `${JSON.stringify(name)}: as the template decides`);
    t.equal(accepted('x'.repeat(64)), false, "64 characters: over SageMaker's limit");
    t.equal(
      accepted(`${'a-'.repeat(40)}a`),
      false,
      "81 characters, which the template's pattern lets through: over SageMaker's limit",
    );
  },
);

t.test('the required endpoint and data stream are named when missing', async (t) => {
  // Act
  const error = badConfig(t, { streamNames: ['cam-1'] });

  // Assess
  t.same(error.issues, [
    { key: 'sageMakerEndpoint', message: 'sageMakerEndpoint is required' },
    { key: 'kdsStreamName', message: 'kdsStreamName is required' },
  ]);
  t.equal(error.message, '2 problems: sageMakerEndpoint is required; kdsStreamName is required');
});

t.test('a document naming no stream and no tag filter is refused', async (t) => {
  // Act: KIT's template writes empty arrays when both parameters are left empty.
  const error = badConfig(t, { ...minimal, streamNames: [], tagFilters: [] });

  // Assess
  t.equal(error.message, 'streamNames or tagFilters must name at least one stream or tag filter, got neither');
  t.equal(error.issues[0]!.key, 'streamNames');
});

t.test('tag filters alone are enough to name the streams', async (t) => {
  // Act
  const { config } = parseConfig(
    { sageMakerEndpoint: 'ep', kdsStreamName: 'kds', tagFilters: [{ key: 'Location', values: ['Front'] }] },
    { environment: env },
  );

  // Assess
  t.same(config.streamNames, []);
  t.same(config.tagFilters, [{ key: 'Location', values: ['Front'] }]);
});

t.test('a reconnect base longer than the reconnect maximum is refused, naming both keys', async (t) => {
  // Act
  const error = badConfig(t, { ...minimal, getMediaReconnectBaseMillis: 5000, getMediaReconnectMaxMillis: 1000 });

  // Assess
  t.equal(error.message, 'getMediaReconnectBaseMillis must not exceed getMediaReconnectMaxMillis, got 5000 > 1000');
});

t.test('every bad key is reported at once, not only the first', async (t) => {
  // Act
  const error = badConfig(t, { ...minimal, inferenceInterval: 'six', jpegQuality: 0, queuePolicy: 'newest' });

  // Assess
  t.same(
    error.issues.map((i) => i.key),
    ['inferenceInterval', 'jpegQuality', 'queuePolicy'],
  );
  t.match(error.message, /^3 problems: inferenceInterval must be .*; jpegQuality must be .*; queuePolicy must be/);
});

t.test('a huge bad value is shown cut short', async (t) => {
  // Act
  const error = badConfig(t, { ...minimal, sageMakerTaskThreadPoolName: ['x'.repeat(1000)] });

  // Assess
  t.ok(error.message.length < 200, `message of ${error.message.length} characters`);
  t.match(error.message, /\.\.\.$/);
});

t.test('a document that is not an object is refused', async (t) => {
  for (const document of [[], 'config', 42, null]) {
    const error = badConfig(t, document);
    t.match(error.message, /^the configuration must be a JSON object, got /);
  }
});

t.test('unknown keys are kept out of the config and listed as warnings, with the likely intended key', async (t) => {
  // Prepare: KIT users may carry keys of their own, and typos.
  const document = { ...JSON.parse(KIT_JSON), ownerTeam: 'video', InferenceInterval: 3, failoverTimeMilis: 5000 };

  // Act
  const { config, warnings } = parseConfig(document, { environment: env });

  // Assess
  t.same(warnings, [
    { key: 'ownerTeam', message: 'unknown key "ownerTeam" ignored' },
    {
      key: 'InferenceInterval',
      message: 'unknown key "InferenceInterval" ignored (did you mean "inferenceInterval"?)',
    },
    {
      key: 'failoverTimeMilis',
      message: 'unknown key "failoverTimeMilis" ignored (did you mean "failoverTimeMillis"?)',
    },
  ]);
  t.equal(config.inferenceInterval, 6);
  t.notOk('ownerTeam' in config);
});

t.test('unknown keys inside a tag filter are warnings too', async (t) => {
  // Act
  const { config, warnings } = parseConfig(
    { ...minimal, tagFilters: [{ key: 'Location', values: ['Front'], comment: 'gate' }] },
    { environment: env },
  );

  // Assess
  t.same(config.tagFilters, [{ key: 'Location', values: ['Front'] }]);
  t.same(warnings, [{ key: 'tagFilters[0].comment', message: 'unknown key "tagFilters[0].comment" ignored' }]);
});

t.test('a stream listed twice is processed once, with a warning', async (t) => {
  // Act
  const { config, warnings } = parseConfig({ ...minimal, streamNames: ['a', 'b', 'a'] }, { environment: env });

  // Assess
  t.same(config.streamNames, ['a', 'b']);
  t.equal(warnings.length, 1);
  t.equal(warnings[0]!.key, 'streamNames');
});

t.test('overrides replace document values, undefined overrides are ignored, and bad overrides are named', async (t) => {
  // Act
  const { config } = parseConfig(
    { ...minimal, appName: 'from-doc', workerId: 'doc-worker' },
    { environment: env, overrides: { appName: 'from-cli', workerId: undefined } },
  );
  const bad = (() => {
    try {
      parseConfig(minimal, { environment: env, overrides: { workerId: '' } });
    } catch (error) {
      return error as ConfigError;
    }
    return undefined;
  })();

  // Assess
  t.equal(config.appName, 'from-cli');
  t.equal(config.workerId, 'doc-worker');
  t.equal(bad?.code, 'BAD_CONFIG');
  t.equal(bad?.message, 'workerId must be a non-empty string, got ""');
});

t.test('a source, when given, prefixes the error message', async (t) => {
  // Act / Assess
  t.throws(
    () => parseConfig({ ...minimal, inferenceInterval: 'six' }, { environment: env, source: 'config file kit.json' }),
    {
      code: 'BAD_CONFIG',
      message: 'config file kit.json: inferenceInterval must be a positive integer, got "six"',
    },
  );
});

t.test('the real host supplies workerId and decodeThreadPoolSize when no environment is given', async (t) => {
  // Act
  const first = parseConfig(minimal).config;
  const second = parseConfig(minimal).config;

  // Assess: same host and pid, so only the random part tells two workers apart.
  t.match(first.workerId, new RegExp(`-${process.pid}-[0-9a-f]{6}$`));
  t.not(first.workerId, second.workerId);
  t.ok(first.decodeThreadPoolSize >= 1);
});

t.test('samplingIntervalMillis replaces inferenceInterval, and a document that sets both is warned', async (t) => {
  // Prepare: a KIT document (which writes inferenceInterval) that adds sampling by time.
  const document = { ...JSON.parse(KIT_JSON), samplingIntervalMillis: 5000 };

  // Act
  const both = parseConfig(document, { environment: env });
  const alone = parseConfig({ ...minimal, samplingIntervalMillis: 5000 }, { environment: env });

  // Assess
  t.equal(both.config.samplingIntervalMillis, 5000);
  t.same(both.warnings, [
    { key: 'inferenceInterval', message: 'inferenceInterval is ignored: samplingIntervalMillis (5000) replaces it' },
  ]);
  t.same(alone.warnings, []);
});
