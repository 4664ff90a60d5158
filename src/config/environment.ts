// The facts about the host that some defaults come from (workerId, decodeThreadPoolSize), passed
// in so that tests and embedders get deterministic configs.

import { randomBytes } from 'node:crypto';
import { availableParallelism, hostname } from 'node:os';

export interface ConfigEnvironment {
  hostname: string;
  pid: number;
  /** CPU cores this process may use. */
  cpuCount: number;
  /** A short random string; tells apart two processes that share host and pid (containers restarting). */
  randomSuffix(): string;
}

export function systemEnvironment(): ConfigEnvironment {
  return {
    hostname: hostname(),
    pid: process.pid,
    cpuCount: availableParallelism(),
    randomSuffix: () => randomBytes(3).toString('hex'),
  };
}

/** hostname-pid-random: readable in the lease table, and unique even when a task restarts with the same pid. */
export function defaultWorkerId(env: ConfigEnvironment): string {
  return `${env.hostname}-${env.pid}-${env.randomSuffix()}`;
}
