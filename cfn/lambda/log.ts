// The consumer's log: one JSON object per line on stdout, which Lambda sends to CloudWatch Logs as is,
// so Logs Insights discovers every field (`filter event = "frame" and detections.0.label = "person"`).

export interface LogLine {
  level: 'info' | 'warn' | 'error';
  event: string;
  [field: string]: unknown;
}

export type Log = (line: LogLine) => void;

export const stdoutLog: Log = (line) => {
  process.stdout.write(`${JSON.stringify(line)}\n`);
};
