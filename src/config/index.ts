// kvs-infer's configuration: KIT's JSON document (valid as it is) plus kvs-infer's keys with
// defaults, loaded from a file or an SSM parameter and validated with errors naming the key.

export { loadConfig, parseConfigText, type LoadConfigOptions, type LoadedConfig } from './load.js';
export { parseConfig, type ParseConfigOptions, type ParsedConfig } from './parse.js';
export {
  CONFIG_DEFAULTS,
  KIT_KEYS,
  QUEUE_POLICIES,
  START_SELECTOR_TYPES,
  type ConfigOverrides,
  type ConfigWarning,
  type KvsInferConfig,
  type QueuePolicy,
  type StartSelectorType,
  type TagFilter,
} from './schema.js';
export { defaultWorkerId, systemEnvironment, type ConfigEnvironment } from './environment.js';
export { redactConfig, REDACTED } from './redact.js';
export { ConfigError, type ConfigErrorCode, type ConfigIssue } from './errors.js';
