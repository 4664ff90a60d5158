// How a command that failed ends: one line naming the error's code on stderr, and an exit code. Shared by
// `kvs-infer` and the bench program it starts, so both answer a bad command line the same way.

/**
 * Error codes for input the command cannot use, as opposed to a command line it cannot parse: one line, exit 2, no
 * usage.
 */
const BAD_INPUT = new Set([
  'INPUT_UNREADABLE',
  'OUTPUT_UNWRITABLE',
  'FILE_SOURCE_UNREADABLE',
  'FILE_SOURCE_UNSUPPORTED',
  'CONFIG_UNREADABLE',
  'CONFIG_SYNTAX',
  'BAD_CONFIG',
  'CONTAINER_PING_FAILED',
  'LOCAL_STACK_NOT_INSTALLED',
  'REPLAY_BAD_TIME',
  'REPLAY_BAD_RANGE',
  'REPLAY_UNKNOWN_STREAM',
  'REPLAY_UNKNOWN_DATA_STREAM',
  'REPLAY_BAD_PROGRESS',
]);

/** A command line the command cannot parse: ours, and node's parseArgs's (an unknown option, a missing value). */
const isUsageError = (code: string): boolean => code === 'USAGE' || code.startsWith('ERR_PARSE_ARGS_');

/**
 * Writes `error` to stderr (with `usage` when the command line was at fault, not after a failure at run time such as
 * an AWS call's) and returns the exit code: 2 for bad input, else 1.
 */
export function reportFailure(error: unknown, usage: string): number {
  const { code = 'ERROR', message } = error as { code?: string; message: string };
  const line = message.startsWith(code) ? message : `${code}: ${message}`;
  if (BAD_INPUT.has(code)) {
    process.stderr.write(`${line}\n`);
    return 2;
  }
  process.stderr.write(isUsageError(code) ? `${line}\nusage: ${usage}\n` : `${line}\n`);
  return 1;
}
