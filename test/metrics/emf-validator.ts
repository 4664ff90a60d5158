// A checker for one CloudWatch Embedded Metric Format log line, written from the EMF specification
// (docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html).
//
// Rules checked:
// - the line is a JSON object with nothing before or after it, at most 1 MB (the log event limit);
// - root `_aws` is an object with `Timestamp` (a number: epoch milliseconds; we require an integer) and
//   `CloudWatchMetrics`, a non-empty array of MetricDirective objects;
// - a MetricDirective has only `Namespace` (string, 1-255 characters), `Dimensions` (array of DimensionSets)
//   and `Metrics` (array of at most 100 MetricDefinitions);
// - a DimensionSet is an array of at most 30 strings, each the name of a root member whose value is a
//   string (1-1024 characters: CloudWatch rejects empty and longer dimension values);
// - a MetricDefinition has only `Name` (string, 1-255 characters, naming a root member), an optional `Unit`
//   (one of CloudWatch's units) and an optional `StorageResolution` (1 or 60);
// - a metric's root member (its target) is a number, an array of at most 100 numbers, or a distribution
//   object {Values, Counts, Min, Max, Count, Sum} whose Values and Counts are arrays of equal length (at
//   most 100) of numbers, counts >= 0 summing to Count, with Min <= Max and Min <= Sum / Count <= Max;
// - a member is not both a dimension and a metric, and a metric name appears once per directive.

const UNITS = new Set([
  'Seconds',
  'Microseconds',
  'Milliseconds',
  'Bytes',
  'Kilobytes',
  'Megabytes',
  'Gigabytes',
  'Terabytes',
  'Bits',
  'Kilobits',
  'Megabits',
  'Gigabits',
  'Terabits',
  'Percent',
  'Count',
  'Bytes/Second',
  'Kilobytes/Second',
  'Megabytes/Second',
  'Gigabytes/Second',
  'Terabytes/Second',
  'Bits/Second',
  'Kilobits/Second',
  'Megabits/Second',
  'Gigabits/Second',
  'Terabits/Second',
  'Count/Second',
  'None',
]);

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isName = (v: unknown): v is string => typeof v === 'string' && v.length >= 1 && v.length <= 255;

/** The rule violations of one EMF line (empty when valid). */
export function emfErrors(line: string): string[] {
  const errors: string[] = [];
  if (Buffer.byteLength(line) > 1_048_576) errors.push('larger than 1 MB');
  let root: unknown;
  try {
    root = JSON.parse(line);
  } catch (error) {
    return [`not JSON: ${(error as Error).message}`];
  }
  if (!isObject(root)) return ['root is not an object'];
  const aws = root._aws;
  if (!isObject(aws)) return ['_aws is not an object'];
  if (!(isNumber(aws.Timestamp) && Number.isInteger(aws.Timestamp) && aws.Timestamp >= 0)) {
    errors.push(`Timestamp ${JSON.stringify(aws.Timestamp)} is not epoch milliseconds`);
  }
  const directives = aws.CloudWatchMetrics;
  if (!Array.isArray(directives) || directives.length === 0)
    return [...errors, 'CloudWatchMetrics is not a non-empty array'];

  directives.forEach((directive: unknown, d) => {
    const at = `CloudWatchMetrics[${d}]`;
    if (!isObject(directive)) {
      errors.push(`${at} is not an object`);
      return;
    }
    for (const key of Object.keys(directive)) {
      if (!['Namespace', 'Dimensions', 'Metrics'].includes(key)) errors.push(`${at} has an unknown member ${key}`);
    }
    if (!isName(directive.Namespace)) errors.push(`${at}.Namespace is not a 1-255 character string`);
    const dimensionKeys = new Set<string>();
    const sets = directive.Dimensions;
    if (!Array.isArray(sets)) errors.push(`${at}.Dimensions is not an array`);
    else {
      sets.forEach((set: unknown, s) => {
        if (!Array.isArray(set)) {
          errors.push(`${at}.Dimensions[${s}] is not an array`);
          return;
        }
        if (set.length > 30) errors.push(`${at}.Dimensions[${s}] has ${set.length} keys, more than 30`);
        for (const key of set as unknown[]) {
          if (typeof key !== 'string') {
            errors.push(`${at}.Dimensions[${s}] has a key that is not a string`);
            continue;
          }
          dimensionKeys.add(key);
          const value = root[key];
          if (!(typeof value === 'string' && value.length >= 1 && value.length <= 1024)) {
            errors.push(`dimension ${key} has no 1-1024 character string value at the root`);
          }
        }
      });
    }
    const metrics = directive.Metrics;
    if (!Array.isArray(metrics)) {
      errors.push(`${at}.Metrics is not an array`);
      return;
    }
    if (metrics.length > 100) errors.push(`${at}.Metrics has ${metrics.length} definitions, more than 100`);
    const seen = new Set<string>();
    metrics.forEach((metric: unknown, m) => {
      const where = `${at}.Metrics[${m}]`;
      if (!isObject(metric)) {
        errors.push(`${where} is not an object`);
        return;
      }
      for (const key of Object.keys(metric)) {
        if (!['Name', 'Unit', 'StorageResolution'].includes(key)) errors.push(`${where} has an unknown member ${key}`);
      }
      const name = metric.Name;
      if (!isName(name)) {
        errors.push(`${where}.Name is not a 1-255 character string`);
        return;
      }
      if (seen.has(name)) errors.push(`${where}: ${name} is defined twice`);
      seen.add(name);
      if (dimensionKeys.has(name)) errors.push(`${name} is both a dimension and a metric`);
      if ('Unit' in metric && !(typeof metric.Unit === 'string' && UNITS.has(metric.Unit))) {
        errors.push(`${where}.Unit ${JSON.stringify(metric.Unit)} is not a CloudWatch unit`);
      }
      if ('StorageResolution' in metric && metric.StorageResolution !== 1 && metric.StorageResolution !== 60) {
        errors.push(`${where}.StorageResolution is neither 1 nor 60`);
      }
      errors.push(...targetErrors(name, root[name]));
    });
  });
  return errors;
}

function targetErrors(name: string, value: unknown): string[] {
  if (isNumber(value)) return [];
  if (Array.isArray(value)) {
    if (value.length > 100) return [`${name} has ${value.length} values, more than 100`];
    return value.every(isNumber) ? [] : [`${name} has a value that is not a number`];
  }
  if (!isObject(value)) return [`${name} has no number, array or distribution at the root`];
  const { Values, Counts, Min, Max, Count, Sum } = value;
  if (!(Array.isArray(Values) && Array.isArray(Counts))) return [`${name}: Values and Counts are not arrays`];
  const errors: string[] = [];
  if (Values.length !== Counts.length) errors.push(`${name}: ${Values.length} Values but ${Counts.length} Counts`);
  if (Values.length > 100) errors.push(`${name}: ${Values.length} Values, more than 100`);
  if (!Values.every(isNumber)) errors.push(`${name}: a value is not a number`);
  if (!Counts.every((c) => isNumber(c) && c >= 0)) errors.push(`${name}: a count is not a number >= 0`);
  if (!(isNumber(Min) && isNumber(Max) && isNumber(Count) && isNumber(Sum)))
    return [...errors, `${name}: Min, Max, Count and Sum are not all numbers`];
  if (Counts.reduce((a: number, c: number) => a + c, 0) !== Count)
    errors.push(`${name}: Counts do not add up to Count`);
  if (!(Min <= Max && Count > 0 && Min <= Sum / Count + 1e-9 && Sum / Count <= Max + 1e-9))
    errors.push(`${name}: impossible statistics`);
  return errors;
}
