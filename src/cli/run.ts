// `kvs-infer run`: the production entrypoint, one worker per process: reads its streams, infers,
// publishes and checkpoints until SIGTERM or SIGINT. AWS endpoints come from the
// SDK's standard variables, so the same command runs against AWS or against `kvs-infer local`.

import { parseArgs } from 'node:util';
import { jsonLinesLogger, Worker } from '../actors/index.js';
import { ssmClient } from '../aws/clients.js';
import { workerClients } from '../aws/worker-clients.js';
import { loadConfig, redactConfig, systemEnvironment } from '../config/index.js';
import type { DebugServer } from '../debug/server.js';
import { debugPort, startDebugServer } from './debug-server.js';

/** How long the process may outlive its shutdown, for its last lines to be written. */
const EXIT_GRACE_MS = 1000;

export async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      config: { type: 'string' },
      'ssm-parameter': { type: 'string' },
      'app-name': { type: 'string' },
      'worker-id': { type: 'string' },
      'debug-port': { type: 'string' },
      'debug-host': { type: 'string', default: '127.0.0.1' },
      // Simulation and debugging: leases are taken, renewed and released, but no stream is read.
      'lease-only': { type: 'boolean', default: false },
    },
  });
  // The container's default: the parameter its task definition names, as KIT's container reads its configuration.
  const ssmParameter =
    values['ssm-parameter'] ?? (values.config === undefined ? process.env.KVS_INFER_SSM_PARAMETER : undefined);
  const ssm = ssmParameter === undefined ? undefined : ssmClient();
  const loaded = await loadConfig({
    file: values.config,
    ssmParameter,
    ssmClient: ssm,
    overrides: { appName: values['app-name'], workerId: values['worker-id'] },
    environment: systemEnvironment(),
  }).finally(() => ssm?.destroy());
  // Checked before anything starts: 0 picks a free port (the `debug-server` log line says which).
  const port = values['debug-port'] === undefined ? undefined : debugPort(values['debug-port']);
  const { config } = loaded;
  const log = jsonLinesLogger(config.logLevel);
  log({ level: 'info', event: 'config', worker: config.workerId, source: loaded.source, config: redactConfig(config) });
  for (const warning of loaded.warnings)
    log({ level: 'warn', event: 'config-warning', worker: config.workerId, ...warning });

  // Deadlines on every call (the SSM client above, built before the configuration exists, has the defaults).
  const { destroy, ...clients } = workerClients(config);
  const stopSignal = new Promise<string>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  let debug: DebugServer | undefined;
  try {
    const worker = await Worker.start({ config, ...clients, log, leaseOnly: values['lease-only'] });
    if (port !== undefined) {
      debug = await startDebugServer(worker, port, values['debug-host']);
      log({ level: 'info', event: 'debug-server', worker: config.workerId, url: `${debug.url}/debug` });
    }
    const signal = await stopSignal;
    log({ level: 'info', event: 'signal', worker: config.workerId, signal });
    await worker.shutdown();
    return 0;
  } finally {
    await debug?.close();
    destroy();
    // A shutdown cut off at shutdownTimeoutMillis leaves lease writes retrying (DynamoDB unreachable), each for its
    // whole retry budget, and they would hold the process that long. What is not done by now is left to expire: the
    // process goes, once its last lines are out, whatever still holds it.
    setTimeout(() => process.exit(), EXIT_GRACE_MS).unref();
  }
}
