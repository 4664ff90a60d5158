// From a parsed JSON document (KIT's, possibly with kvs-infer's keys) to a complete, validated
// KvsInferConfig: defaults filled in, every bad value reported at once, unknown keys as warnings.

import { LEASE_ASSIGNMENTS } from '../actors/lease/lease-types.js';
import { LOG_LEVELS } from '../actors/logger.js';
import { IMAGE_CONTENT_TYPES, type ImageContentType } from '../native/types.js';
import { closestKey } from './closest-key.js';
import { type ConfigEnvironment, defaultWorkerId, systemEnvironment } from './environment.js';
import { ConfigError, type ConfigIssue } from './errors.js';
import {
  booleanValue,
  decimal,
  Invalid,
  integer,
  isPlainObject,
  list,
  nonEmptyText,
  oneOf,
  type Rule,
  type RuleContext,
  required,
  show,
  text,
  withDefault,
} from './rules.js';
import {
  CONFIG_DEFAULTS,
  type ConfigOverrides,
  type ConfigWarning,
  type KvsInferConfig,
  QUEUE_POLICIES,
  START_SELECTOR_TYPES,
  type TagFilter,
} from './schema.js';

export interface ParseConfigOptions {
  /** Laid over the document before validation; entries that are undefined are ignored. */
  overrides?: ConfigOverrides;
  /** Host facts for the host-dependent defaults; the real host by default. */
  environment?: ConfigEnvironment;
  /** Where the document came from, e.g. `config file ./kit.json`; prefixes error messages. */
  source?: string;
}

export interface ParsedConfig {
  config: KvsInferConfig;
  warnings: ConfigWarning[];
}

// KVS stream names, as CreateStream accepts them.
const STREAM_NAME = /^[a-zA-Z0-9_.-]{1,256}$/;
// appName names the DynamoDB lease table: refuse here what CreateTable would refuse later.
const TABLE_NAME = /^[a-zA-Z0-9_.-]{3,255}$/;
// AWS tag keys are 1 to 128 characters; values may be empty.
const TAG_KEY = /^.{1,128}$/su;
const TAG_VALUE = /^.{0,256}$/su;
// Larger than any frame a KVS producer sends; beyond it the resize is surely a typo.
const MAX_IMAGE_SIDE = 16_384;
// SageMaker's endpoint-name rule (at most 63 characters, letters, digits and inner '-'), in lowercase only, as
// cfn/template.yaml's AllowedPattern: SageMaker writes endpoint ARNs in lowercase and IAM compares ARNs
// case-sensitively.
const ENDPOINT_NAME = /^[a-z0-9](-*[a-z0-9]){0,62}$/;
const ENDPOINT_NAME_LENGTH = 63;

const endpointName: Rule<string> = (value, key) => {
  const valid = (name: string) => name.length <= ENDPOINT_NAME_LENGTH && ENDPOINT_NAME.test(name);
  if (typeof value === 'string' && valid(value)) return value;
  if (typeof value === 'string' && valid(value.toLowerCase())) {
    throw new Invalid(
      key,
      `${key} must be in lowercase, got ${show(value)}: SageMaker writes endpoint ARNs in lowercase and IAM compares ` +
        `ARNs case-sensitively, ` +
        'so a role allowed InvokeEndpoint on this name would be denied (the CloudFormation template refuses it too)',
    );
  }
  throw new Invalid(
    key,
    `${key} must be a SageMaker endpoint name (not an ARN): 1 to 63 of a-z, 0-9 and '-', starting and ending with a ` +
      `letter or digit, got ${show(value)}`,
  );
};

const tagFilter: Rule<TagFilter> = (value, key, ctx) => {
  if (!isPlainObject(value))
    throw new Invalid(key, `${key} must be an object like {"key":"Location","values":["Front"]}, got ${show(value)}`);
  const filterKey = required(text(TAG_KEY, 'a tag key of 1 to 128 characters'))(value.key, `${key}.key`, ctx);
  const values = required(list(text(TAG_VALUE, 'a tag value of at most 256 characters'), 'tag values'))(
    value.values,
    `${key}.values`,
    ctx,
  );
  // An empty list matches no stream at all: surely not what was meant.
  if (values.length === 0) throw new Invalid(`${key}.values`, `${key}.values must list at least one tag value, got []`);
  for (const extra of Object.keys(value)) {
    if (extra !== 'key' && extra !== 'values') ctx.warn(`${key}.${extra}`, `unknown key "${key}.${extra}" ignored`);
  }
  return { key: filterKey, values };
};

type Fields = { [K in keyof KvsInferConfig]: Rule<KvsInferConfig[K]> };

function fields(env: ConfigEnvironment): Fields {
  const d = CONFIG_DEFAULTS;
  const positive = integer(1);
  return {
    streamNames: withDefault(
      list(text(STREAM_NAME, "a stream name (1 to 256 of a-z, A-Z, 0-9, '_', '.', '-')"), 'stream names'),
      d.streamNames,
    ),
    tagFilters: withDefault(list(tagFilter, 'tag filters'), d.tagFilters),
    sageMakerEndpoint: required(endpointName),
    endPointAcceptContentType: withDefault(oneOf<ImageContentType>(IMAGE_CONTENT_TYPES), d.endPointAcceptContentType),
    kdsStreamName: required(nonEmptyText),
    inferenceInterval: withDefault(positive, d.inferenceInterval),
    sageMakerTaskQueueSize: withDefault(positive, d.sageMakerTaskQueueSize),
    sageMakerTaskThreadPoolSize: withDefault(positive, d.sageMakerTaskThreadPoolSize),
    sageMakerTaskTimeoutInMilli: withDefault(positive, d.sageMakerTaskTimeoutInMilli),
    sageMakerTaskThreadPoolName: withDefault(nonEmptyText, d.sageMakerTaskThreadPoolName),
    appName: withDefault(
      text(TABLE_NAME, "a DynamoDB table name (3 to 255 of a-z, A-Z, 0-9, '_', '.', '-')"),
      d.appName,
    ),
    workerId: withDefault(nonEmptyText, defaultWorkerId(env)),
    // Below a second, renewals (every third of it) and DynamoDB's deadline (80% of a renewal interval) leave no room
    // for a slow call.
    failoverTimeMillis: withDefault(integer(1000, 3_600_000), d.failoverTimeMillis),
    maxLeasesPerWorker: withDefault(positive, d.maxLeasesPerWorker),
    leaseAssignment: withDefault(oneOf(LEASE_ASSIGNMENTS), d.leaseAssignment),
    discoveryIntervalMillis: withDefault(integer(1000), d.discoveryIntervalMillis),
    discoveryTagRequestsPerSecond: withDefault(integer(1, 50), d.discoveryTagRequestsPerSecond),
    discoveryTagRefreshMillis: withDefault(integer(0, 86_400_000), d.discoveryTagRefreshMillis),
    shutdownTimeoutMillis: withDefault(integer(1000, 3_600_000), d.shutdownTimeoutMillis),
    checkpointIntervalMillis: withDefault(integer(0, 3_600_000), d.checkpointIntervalMillis),
    samplingIntervalMillis: withDefault(integer(1, 86_400_000), d.samplingIntervalMillis),
    maxMillisBehindNow: withDefault(integer(1000, 604_800_000), d.maxMillisBehindNow),
    getMediaPricePerGB: withDefault(decimal(0, 1000), d.getMediaPricePerGB),
    decodeThreadPoolSize: withDefault(positive, env.cpuCount),
    imageWidth: withDefault(integer(1, MAX_IMAGE_SIDE), d.imageWidth),
    imageHeight: withDefault(integer(1, MAX_IMAGE_SIDE), d.imageHeight),
    jpegQuality: withDefault(integer(1, 100), d.jpegQuality),
    queuePolicy: withDefault(oneOf(QUEUE_POLICIES), d.queuePolicy),
    startSelectorType: withDefault(oneOf(START_SELECTOR_TYPES), d.startSelectorType),
    sageMakerTaskMaxAttempts: withDefault(integer(1, 1_000_000), d.sageMakerTaskMaxAttempts),
    sageMakerTaskRetryBudgetMillis: withDefault(integer(0, 86_400_000), d.sageMakerTaskRetryBudgetMillis),
    sageMakerTaskQueueBytes: withDefault(integer(1024 * 1024), d.sageMakerTaskQueueBytes),
    publishTimeoutMillis: withDefault(integer(100, 600_000), d.publishTimeoutMillis),
    awsConnectTimeoutMillis: withDefault(integer(100, 600_000), d.awsConnectTimeoutMillis),
    awsRequestTimeoutMillis: withDefault(integer(100, 600_000), d.awsRequestTimeoutMillis),
    getMediaIdleTimeoutMillis: withDefault(integer(1000, 3_600_000), d.getMediaIdleTimeoutMillis),
    missingStreamRetryMaxMillis: withDefault(integer(1000, 86_400_000), d.missingStreamRetryMaxMillis),
    healthCheckStallFactor: withDefault(integer(2, 1000), d.healthCheckStallFactor),
    publishFailedFrames: withDefault(booleanValue, d.publishFailedFrames),
    statsIntervalMillis: withDefault(integer(0), d.statsIntervalMillis),
    logLevel: withDefault(oneOf(LOG_LEVELS), d.logLevel),
    metricsNamespace: withDefault(
      text(/^[^:]{1,255}$/, 'a CloudWatch namespace (1 to 255 characters, no colon)'),
      d.metricsNamespace,
    ),
    metricsIntervalMillis: withDefault(integer(0), d.metricsIntervalMillis),
    getMediaReconnectBaseMillis: withDefault(integer(1, 600_000), d.getMediaReconnectBaseMillis),
    getMediaReconnectMaxMillis: withDefault(integer(1, 3_600_000), d.getMediaReconnectMaxMillis),
  };
}

/** Rules between keys, checked only when each key involved is valid on its own. */
function crossChecks(config: KvsInferConfig, valid: (key: keyof KvsInferConfig) => boolean): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  if (
    valid('streamNames') &&
    valid('tagFilters') &&
    config.streamNames.length === 0 &&
    config.tagFilters.length === 0
  ) {
    issues.push({
      key: 'streamNames',
      message: 'streamNames or tagFilters must name at least one stream or tag filter, got neither',
    });
  }
  if (
    valid('getMediaReconnectBaseMillis') &&
    valid('getMediaReconnectMaxMillis') &&
    config.getMediaReconnectBaseMillis > config.getMediaReconnectMaxMillis
  ) {
    issues.push({
      key: 'getMediaReconnectBaseMillis',
      message:
        `getMediaReconnectBaseMillis must not exceed getMediaReconnectMaxMillis, got ` +
        `${config.getMediaReconnectBaseMillis} > ${config.getMediaReconnectMaxMillis}`,
    });
  }
  return issues;
}

/**
 * Validates `document` and fills in defaults. Throws ConfigError `BAD_CONFIG` listing every
 * problem (its `issues` name each key); keys kvs-infer does not know come back as warnings.
 */
export function parseConfig(document: unknown, options: ParseConfigOptions = {}): ParsedConfig {
  const prefix = options.source === undefined ? '' : `${options.source}: `;
  if (!isPlainObject(document)) {
    const message = `the configuration must be a JSON object, got ${show(document)}`;
    throw new ConfigError('BAD_CONFIG', prefix + message, { issues: [{ key: '', message }] });
  }
  const merged: Record<string, unknown> = { ...document };
  for (const [key, value] of Object.entries(options.overrides ?? {})) {
    if (value !== undefined) merged[key] = value;
  }

  const warnings: ConfigWarning[] = [];
  const ctx: RuleContext = { warn: (key, message) => warnings.push({ key, message }) };
  const rules = fields(options.environment ?? systemEnvironment());
  const known = Object.keys(rules);
  for (const key of Object.keys(merged)) {
    if (known.includes(key)) continue;
    const near = closestKey(key, known);
    warnings.push({
      key,
      message: `unknown key "${key}" ignored${near === undefined ? '' : ` (did you mean "${near}"?)`}`,
    });
  }

  const issues: ConfigIssue[] = [];
  const failed = new Set<string>();
  const config = {} as Record<string, unknown>;
  for (const [key, rule] of Object.entries(rules) as [keyof KvsInferConfig, Rule<unknown>][]) {
    try {
      config[key] = rule(Object.hasOwn(merged, key) ? merged[key] : undefined, key, ctx);
    } catch (error) {
      if (!(error instanceof Invalid)) throw error;
      issues.push({ key: error.key, message: error.message });
      failed.add(key);
    }
  }
  const result = config as unknown as KvsInferConfig;
  issues.push(...crossChecks(result, (key) => !failed.has(key)));
  if (issues.length > 0) {
    const message =
      issues.length === 1
        ? issues[0]!.message
        : `${issues.length} problems: ${issues.map((i) => i.message).join('; ')}`;
    throw new ConfigError('BAD_CONFIG', prefix + message, { issues });
  }

  if (result.samplingIntervalMillis !== undefined && merged.inferenceInterval != null) {
    warnings.push({
      key: 'inferenceInterval',
      message: `inferenceInterval is ignored: samplingIntervalMillis (${result.samplingIntervalMillis}) replaces it`,
    });
  }
  const unique = [...new Set(result.streamNames)];
  if (unique.length !== result.streamNames.length) {
    warnings.push({
      key: 'streamNames',
      message: 'streamNames lists some streams more than once; each is processed once',
    });
    result.streamNames = unique;
  }
  return { config: result, warnings };
}
