// The debug server as `run` and `demo` start it for a worker: its view, its metrics, the lease machine's diagram,
// the fleet from its lease table.

import type { Worker } from '../actors/index.js';
import { FleetWatch } from '../debug/fleet.js';
import { describeDiagram } from '../debug/machine-diagram.js';
import { toSvg } from '../debug/machine-svg.js';
import { DebugServer } from '../debug/server.js';
import { KvsInferError } from '../errors.js';
import { leaseMachine } from '../machines/index.js';
import { PROMETHEUS_CONTENT_TYPE, prometheusText } from '../metrics/index.js';

/** `--debug-port`: a port number, 0 for any free one. */
export function debugPort(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0 || parsed > 65535)
    throw new KvsInferError('USAGE', `--debug-port must be a port number (0 for any free one), got "${value}"`);
  return parsed;
}

export async function startDebugServer(worker: Worker, port: number, host: string): Promise<DebugServer> {
  // Drawn once: the machine's definition does not change while the worker runs.
  const svg = toSvg(describeDiagram(leaseMachine));
  return DebugServer.start({
    source: worker,
    metrics: () => ({ body: prometheusText(worker.metrics), contentType: PROMETHEUS_CONTENT_TYPE }),
    machineSvg: () => svg,
    fleet: new FleetWatch({ table: worker.leaseTable, failoverTimeMillis: worker.coordinator.failoverTimeMillis }),
    port,
    host,
  });
}
