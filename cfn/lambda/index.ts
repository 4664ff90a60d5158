// The Lambda entry point (handler `index.handler`): the default consumer of the kvs-infer results
// stream, with its clients created once per container and its settings read from the environment.

import type { KinesisStreamBatchResponse, KinesisStreamEvent } from 'aws-lambda';
import { clientsFromEnv } from './clients.js';
import { createConsumer, settingsFromEnv } from './consumer.js';
import { stdoutLog } from './log.js';

export { type ConsumerOptions, type ConsumerSettings, createConsumer, settingsFromEnv } from './consumer.js';

const consume = createConsumer({
  ...clientsFromEnv(process.env),
  log: stdoutLog,
  settings: () => settingsFromEnv(process.env),
});

export async function handler(event: KinesisStreamEvent): Promise<KinesisStreamBatchResponse> {
  return consume(event);
}
