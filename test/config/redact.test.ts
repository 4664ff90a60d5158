// redactConfig: what the startup log may show of a config or a raw document.

import t from 'tap';
import { parseConfig, REDACTED, redactConfig } from '../../src/config/index.js';
import { env } from './helpers.js';

t.test('values under secret-looking keys are replaced at any depth, the rest kept', async (t) => {
  // Prepare
  const document = {
    sageMakerEndpoint: 'hardhat-endpoint',
    dbPassword: 'hunter2',
    nested: { apiKey: 'k', list: [{ authToken: 't', note: 'fine' }], client_secret: 's' },
    privateKey: '-----BEGIN',
    // Errs on the side of hiding: a key merely containing "token" is redacted too.
    tokenBucketSize: 10,
  };

  // Act
  const redacted = redactConfig(document);

  // Assess
  t.same(redacted, {
    sageMakerEndpoint: 'hardhat-endpoint',
    dbPassword: REDACTED,
    nested: { apiKey: REDACTED, list: [{ authToken: REDACTED, note: 'fine' }], client_secret: REDACTED },
    privateKey: REDACTED,
    tokenBucketSize: REDACTED,
  });
  t.equal(document.dbPassword, 'hunter2', 'the original is untouched');
});

t.test('a parsed config, which holds none of these, comes back equal', async (t) => {
  // Prepare
  const { config } = parseConfig(
    { streamNames: ['a'], sageMakerEndpoint: 'ep', kdsStreamName: 'k' },
    { environment: env },
  );

  // Act / Assess
  t.same(redactConfig(config), config);
  t.not(redactConfig(config), config);
});
