// Structured logs: one JSON object per line, which is how operators (CloudWatch Logs) and the
// multi-process tests observe a worker.

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** One log record; `event` names what happened (fragment, acquired, lost, released, checkpoint, ...). */
export interface LogRecord {
  level: LogLevel;
  event: string;
  [field: string]: unknown;
}

export type Logger = (record: LogRecord) => void;

/** Writes each record as one JSON line, stamped with the time; the default writes to stdout. */
export function jsonLinesLogger(write: (line: string) => void = (line) => void process.stdout.write(line)): Logger {
  return (record) => write(`${JSON.stringify({ time: new Date().toISOString(), ...record })}\n`);
}

/** Code and message of an error, for a log record. */
export function errorFields(error: unknown): { code: string | null; message: string } {
  const code = typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string' ? error.code : null;
  return { code, message: error instanceof Error ? error.message : String(error) };
}
