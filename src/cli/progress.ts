// Progress of a long command on stderr: a bar (cli-progress) on a terminal, a plain line every few
// seconds otherwise (CI logs, pipes), so that output captured to a file stays readable.

import cliProgress from 'cli-progress';

export interface Progress {
  /** `total` may change as the job learns more (frames served so far, say). */
  update(done: number, total: number, detail?: string): void;
  /** Shows the final state and ends the bar. */
  stop(): void;
}

export interface ProgressOptions {
  /** Default process.stderr. */
  stream?: NodeJS.WriteStream;
  /** Minimum time between plain lines when not on a terminal, ms; default 5000. */
  lineIntervalMs?: number;
}

export function progress(label: string, options: ProgressOptions = {}): Progress {
  const stream = options.stream ?? process.stderr;
  return stream.isTTY ? terminalBar(label, stream) : plainLines(label, stream, options.lineIntervalMs ?? 5000);
}

function terminalBar(label: string, stream: NodeJS.WriteStream): Progress {
  const bar = new cliProgress.SingleBar(
    {
      stream,
      format: `${label} [{bar}] {value}/{total} {detail}`,
      hideCursor: true,
      clearOnComplete: false,
      barsize: 30,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(done, total, detail = '') {
      if (!started) {
        bar.start(total, done, { detail });
        started = true;
      }
      bar.setTotal(total);
      bar.update(done, { detail });
    },
    stop() {
      if (started) bar.stop();
    },
  };
}

function plainLines(label: string, stream: NodeJS.WriteStream, intervalMs: number): Progress {
  let latest: string | null = null;
  let written: string | null = null;
  let writtenAt = 0;
  const write = () => {
    if (latest === null || latest === written) return;
    stream.write(`${latest}\n`);
    written = latest;
    writtenAt = Date.now();
  };
  return {
    update(done, total, detail = '') {
      latest = `${label}: ${done}/${total}${detail ? ` ${detail}` : ''}`;
      if (Date.now() - writtenAt >= intervalMs) write();
    },
    stop: write,
  };
}
