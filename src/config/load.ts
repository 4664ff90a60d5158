// Reads the configuration document from where KIT keeps it (an SSM parameter) or from a file,
// lays the CLI's overrides on top, and validates it.

import { readFile } from 'node:fs/promises';
import { GetParameterCommand, type SSMClient } from '@aws-sdk/client-ssm';
import { ConfigError } from './errors.js';
import { type ParseConfigOptions, type ParsedConfig, parseConfig } from './parse.js';

export interface LoadConfigOptions extends Omit<ParseConfigOptions, 'source'> {
  /** A JSON file; exactly one of `file` and `ssmParameter`. */
  file?: string;
  /** Name or ARN of the SSM parameter holding the JSON (KIT names it after AppName); read with decryption. */
  ssmParameter?: string;
  /** Required with `ssmParameter`. */
  ssmClient?: Pick<SSMClient, 'send'>;
}

export interface LoadedConfig extends ParsedConfig {
  /** Where the document came from, e.g. `SSM parameter "kit-app"`, for the startup log. */
  source: string;
}

/** JSON text to a validated config; a syntax error names `source` and the line, column and offset. */
export function parseConfigText(text: string, options: ParseConfigOptions & { source: string }): ParsedConfig {
  // Editors on Windows save a byte-order mark that JSON.parse refuses.
  const body = text.startsWith('\uFEFF') ? text.slice(1) : text;
  let document: unknown;
  try {
    document = JSON.parse(body);
  } catch (error) {
    throw new ConfigError(
      'CONFIG_SYNTAX',
      `${options.source} is not valid JSON: ${withLineAndColumn((error as Error).message, body)}`,
      { cause: error },
    );
  }
  return parseConfig(document, options);
}

async function readSource(options: LoadConfigOptions): Promise<{ text: string; source: string }> {
  const { file, ssmParameter, ssmClient } = options;
  if ((file === undefined) === (ssmParameter === undefined)) {
    throw new ConfigError('BAD_CONFIG_SOURCE', 'give exactly one of a config file and an SSM parameter name');
  }
  if (file !== undefined) {
    const source = `config file ${file}`;
    try {
      return { text: await readFile(file, 'utf8'), source };
    } catch (error) {
      throw new ConfigError('CONFIG_UNREADABLE', `cannot read ${source}: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }
  const source = `SSM parameter "${ssmParameter}"`;
  if (ssmClient === undefined) throw new ConfigError('BAD_CONFIG_SOURCE', `reading ${source} needs an SSM client`);
  let value: string | undefined;
  try {
    // KIT's template writes a String parameter; WithDecryption lets users move it to a SecureString.
    const answer = await ssmClient.send(new GetParameterCommand({ Name: ssmParameter, WithDecryption: true }));
    value = answer.Parameter?.Value;
  } catch (error) {
    const name = (error as Error).name;
    const message =
      name === 'ParameterNotFound'
        ? `${source} does not exist`
        : `cannot read ${source}: ${name}: ${(error as Error).message}`;
    throw new ConfigError('CONFIG_UNREADABLE', message, { cause: error });
  }
  if (value === undefined) throw new ConfigError('CONFIG_UNREADABLE', `${source} has no value`);
  return { text: value, source };
}

/**
 * Loads, validates and completes the configuration. Throws ConfigError: BAD_CONFIG_SOURCE,
 * CONFIG_UNREADABLE, CONFIG_SYNTAX or BAD_CONFIG; unknown keys come back in `warnings`.
 */
export async function loadConfig(options: LoadConfigOptions): Promise<LoadedConfig> {
  const { text, source } = await readSource(options);
  return {
    ...parseConfigText(text, { overrides: options.overrides, environment: options.environment, source }),
    source,
  };
}

/** JSON.parse says "at position N"; people editing a file or a parameter want the line and column too. */
function withLineAndColumn(message: string, text: string): string {
  const match = / at position (\d+)/.exec(message);
  if (!match) return message;
  const offset = Number(match[1]);
  const before = text.slice(0, offset).split('\n');
  return `${message} (line ${before.length}, column ${before.at(-1)!.length + 1})`;
}
