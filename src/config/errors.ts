// Errors of configuration loading: one class, a stable `code` per way a config can be unusable,
// and for BAD_CONFIG every problem found (not only the first), each naming its key.

import { KvsInferError } from '../errors.js';

export type ConfigErrorCode =
  /** The document parsed but a key has a bad value, a required key is missing, or keys contradict each other. */
  | 'BAD_CONFIG'
  /** The text is not JSON; the message names the source and the line, column and offset. */
  | 'CONFIG_SYNTAX'
  /** The file or SSM parameter could not be read (missing, no permission, network). */
  | 'CONFIG_UNREADABLE'
  /** loadConfig was given neither or both of `file` and `ssmParameter`, or an SSM parameter without a client. */
  | 'BAD_CONFIG_SOURCE';

/** One problem in a config document: `key` is a path such as `tagFilters[1].values`. */
export interface ConfigIssue {
  key: string;
  message: string;
}

export class ConfigError extends KvsInferError<ConfigErrorCode> {
  /** For BAD_CONFIG, every problem found; empty for the other codes. */
  readonly issues: readonly ConfigIssue[];

  constructor(
    code: ConfigErrorCode,
    message: string,
    options: { cause?: unknown; issues?: readonly ConfigIssue[] } = {},
  ) {
    super(code, message, { cause: options.cause });
    this.issues = options.issues ?? [];
  }
}
