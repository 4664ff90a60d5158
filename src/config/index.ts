// kvs-infer's configuration: KIT's JSON document (valid as it is) plus kvs-infer's keys with
// defaults, loaded from a file or an SSM parameter and validated with errors naming the key.

export { type ConfigEnvironment, defaultWorkerId, systemEnvironment } from './environment.js';
export { ConfigError, type ConfigErrorCode, type ConfigIssue } from './errors.js';
export { type LoadConfigOptions, type LoadedConfig, loadConfig, parseConfigText } from './load.js';
export { type ParseConfigOptions, type ParsedConfig, parseConfig } from './parse.js';
export { REDACTED, redactConfig } from './redact.js';
export {
  CONFIG_DEFAULTS,
  type ConfigOverrides,
  type ConfigWarning,
  KIT_KEYS,
  type KvsInferConfig,
  type PipelineConfig,
  QUEUE_POLICIES,
  type QueuePolicy,
  START_SELECTOR_TYPES,
  type StartSelectorType,
  type TagFilter,
} from './schema.js';
