// Structured logs: one JSON object per line, which is how operators (CloudWatch Logs) and the
// multi-process tests observe a worker.

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** One log record; `event` names what happened (fragment, acquired, lost, released, checkpoint, ...). */
export interface LogRecord {
  level: LogLevel;
  event: string;
  [field: string]: unknown;
}

export type Logger = (record: LogRecord) => void;

/**
 * Writes each record at `level` or above as one JSON line, stamped with the time; the default writes to stdout.
 * `debug` adds a line per fragment read, which at hundreds of streams is more than a log should carry.
 */
export function jsonLinesLogger(
  level: LogLevel = 'info',
  write: (line: string) => void = (line) => void process.stdout.write(line),
): Logger {
  const least = LOG_LEVELS.indexOf(level);
  return (record) => {
    if (LOG_LEVELS.indexOf(record.level) >= least)
      write(`${JSON.stringify({ time: new Date().toISOString(), ...record })}\n`);
  };
}

/** Code and message of an error, for a log record. */
export function errorFields(error: unknown): { code: string | null; message: string } {
  const code =
    typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string'
      ? error.code
      : null;
  return { code, message: error instanceof Error ? error.message : String(error) };
}
