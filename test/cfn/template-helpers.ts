// Shared by the template tests: cfn/template.yaml parsed with CloudFormation's short-form tags, the resource
// specification from @aws-cdk/aws-service-spec (read from its db.json.gz), and a small evaluator of the
// intrinsic functions the template uses, so that rendered values (the configuration, the dashboard) can be checked.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import YAML from 'yaml';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const TEMPLATE_PATH = join(ROOT, 'cfn', 'template.yaml');

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export interface Template {
  AWSTemplateFormatVersion?: string;
  Parameters: Record<string, JsonObject>;
  Rules?: Record<string, JsonObject>;
  Conditions: Record<string, Json>;
  Resources: Record<string, Resource>;
  Outputs: Record<string, JsonObject>;
  [section: string]: unknown;
}

export interface Resource {
  Type: string;
  Properties?: JsonObject;
  Condition?: string;
  DependsOn?: string | string[];
  [key: string]: unknown;
}

const FUNCTIONS = [
  'Base64',
  'Cidr',
  'FindInMap',
  'GetAtt',
  'GetAZs',
  'ImportValue',
  'Join',
  'Select',
  'Split',
  'Sub',
  'Transform',
  'And',
  'Equals',
  'If',
  'Not',
  'Or',
];

/** CloudFormation's short forms (`!Ref`, `!Sub`, `!GetAtt A.B`, ...) as their long forms. */
export function cfnTags(): YAML.Tags {
  const tags: YAML.Tags = [
    { tag: '!Ref', resolve: (value: string) => ({ Ref: value }) },
    { tag: '!Condition', resolve: (value: string) => ({ Condition: value }) },
  ];
  for (const f of FUNCTIONS) {
    const name = `Fn::${f}`;
    tags.push({ tag: `!${f}`, resolve: (value: string) => ({ [name]: f === 'GetAtt' ? splitGetAtt(value) : value }) });
    for (const collection of ['seq', 'map'] as const) {
      tags.push({
        tag: `!${f}`,
        collection,
        resolve: (node: YAML.YAMLSeq | YAML.YAMLMap) => ({ [name]: node.toJSON() }),
      });
    }
  }
  return tags;
}

function splitGetAtt(value: string): string[] {
  const dot = value.indexOf('.');
  return dot < 0 ? [value] : [value.slice(0, dot), value.slice(dot + 1)];
}

export function loadTemplate(path = TEMPLATE_PATH): Template {
  return YAML.parse(readFileSync(path, 'utf8'), { customTags: cfnTags(), uniqueKeys: true }) as Template;
}

export const PSEUDO_PARAMETERS = new Set([
  'AWS::AccountId',
  'AWS::NotificationARNs',
  'AWS::NoValue',
  'AWS::Partition',
  'AWS::Region',
  'AWS::StackId',
  'AWS::StackName',
  'AWS::URLSuffix',
]);

export const isObject = (value: unknown): value is JsonObject =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** `{ "Ref": x }` or `{ "Fn::X": ... }` (one key), or `{ "Condition": x }` inside a condition. */
export function intrinsicName(value: unknown): string | undefined {
  if (!isObject(value)) return undefined;
  const keys = Object.keys(value);
  if (keys.length !== 1) return undefined;
  const key = keys[0]!;
  return key === 'Ref' || key.startsWith('Fn::') ? key : undefined;
}

/** Every `${Name}` or `${Name.Attr}` of a Fn::Sub string, `${!Literal}` excluded. */
export function subVariables(text: string): string[] {
  const names: string[] = [];
  for (const match of text.matchAll(/\$\{([^}]*)\}/g)) {
    const inner = match[1]!;
    if (!inner.startsWith('!')) names.push(inner.trim());
  }
  return names;
}

// ---------------------------------------------------------------- resource specification

export interface SpecType {
  type: string;
  element?: SpecType;
  reference?: { $ref: string };
  types?: SpecType[];
}
export interface SpecProperty {
  type: SpecType;
  previousTypes?: SpecType[];
  required?: boolean;
}
export interface SpecResource {
  $id: string;
  cloudFormationType: string;
  properties: Record<string, SpecProperty>;
  attributes: Record<string, unknown>;
}
export interface SpecTypeDefinition {
  $id: string;
  name: string;
  properties: Record<string, SpecProperty>;
}

export interface Spec {
  resource(type: string): SpecResource | undefined;
  typeDefinition(id: string): SpecTypeDefinition | undefined;
}

let spec: Spec | undefined;

/** The spec DB as @aws-cdk/aws-service-spec ships it; read directly, as its loader only wraps JSON.parse. */
export function loadSpec(): Spec {
  if (spec) return spec;
  const require = createRequire(import.meta.url);
  const dbPath = join(dirname(require.resolve('@aws-cdk/aws-service-spec/package.json')), 'db.json.gz');
  const db = JSON.parse(gunzipSync(readFileSync(dbPath)).toString('utf8')) as {
    schema: { resource: { entities: SpecResource[] }; typeDefinition: { entities: SpecTypeDefinition[] } };
  };
  const resources = new Map(db.schema.resource.entities.map((r) => [r.cloudFormationType, r]));
  const types = new Map(db.schema.typeDefinition.entities.map((t) => [t.$id, t]));
  spec = { resource: (type) => resources.get(type), typeDefinition: (id) => types.get(id) };
  return spec;
}

/**
 * Problems of `value` against the spec type `type` at `path`: unknown properties, missing required ones,
 * a literal of the wrong shape. Values that are intrinsic functions are not looked into (their result is
 * checked by the deployment, not here), except Fn::If, whose branches are.
 */
export function checkValue(
  s: Spec,
  value: Json,
  type: SpecType,
  path: string,
  alternatives: SpecType[] = [],
): string[] {
  const fn = intrinsicName(value);
  if (fn === 'Fn::If') {
    const args = (value as JsonObject)['Fn::If'] as Json[];
    return [1, 2].flatMap((i) =>
      isNoValue(args[i]!)
        ? []
        : checkValue(s, args[i]!, type, `${path}<If ${i === 1 ? 'true' : 'false'}>`, alternatives),
    );
  }
  if (fn !== undefined) return [];
  const tried = [type, ...alternatives];
  let best: string[] | undefined;
  for (const candidate of tried) {
    const problems = checkOne(s, value, candidate, path);
    if (problems.length === 0) return [];
    if (best === undefined || problems.length < best.length) best = problems;
  }
  return best ?? [];
}

const isNoValue = (value: Json) => isObject(value) && value.Ref === 'AWS::NoValue';

function checkOne(s: Spec, value: Json, type: SpecType, path: string): string[] {
  switch (type.type) {
    case 'json':
      return [];
    case 'string':
      return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean'
        ? []
        : [`${path}: expected a string, got ${JSON.stringify(value)}`];
    case 'number':
    case 'integer':
      return typeof value === 'number' ||
        (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value)))
        ? []
        : [`${path}: expected a number, got ${JSON.stringify(value)}`];
    case 'boolean':
      return typeof value === 'boolean' || value === 'true' || value === 'false'
        ? []
        : [`${path}: expected a boolean, got ${JSON.stringify(value)}`];
    case 'array':
      if (!Array.isArray(value)) return [`${path}: expected a list, got ${JSON.stringify(value)}`];
      return value.flatMap((item, i) => checkValue(s, item, type.element!, `${path}[${i}]`));
    case 'map':
      if (!isObject(value)) return [`${path}: expected a map, got ${JSON.stringify(value)}`];
      return Object.entries(value).flatMap(([k, v]) => checkValue(s, v, type.element!, `${path}.${k}`));
    case 'tag':
      if (!isObject(value)) return [`${path}: expected a tag, got ${JSON.stringify(value)}`];
      return [
        ...Object.keys(value)
          .filter((k) => k !== 'Key' && k !== 'Value')
          .map((k) => `${path}.${k}: not a property of a tag`),
        ...['Key', 'Value'].filter((k) => !(k in value)).map((k) => `${path}: the tag has no ${k}`),
      ];
    case 'union':
      return checkValue(s, value, type.types![0]!, path, type.types!.slice(1));
    case 'ref': {
      const definition = s.typeDefinition(type.reference!.$ref);
      if (!definition) return [`${path}: the spec has no type ${type.reference!.$ref}`];
      if (!isObject(value)) return [`${path}: expected a ${definition.name} object, got ${JSON.stringify(value)}`];
      return checkProperties(s, value, definition.properties, `${path}(${definition.name})`);
    }
    default:
      return [`${path}: spec type ${type.type} is not handled by this test`];
  }
}

export function checkProperties(
  s: Spec,
  value: JsonObject,
  properties: Record<string, SpecProperty>,
  path: string,
): string[] {
  const problems: string[] = [];
  for (const [name, v] of Object.entries(value)) {
    const property = properties[name];
    if (!property) {
      problems.push(`${path}.${name}: no such property (known: ${Object.keys(properties).sort().join(', ')})`);
      continue;
    }
    if (isNoValue(v)) continue;
    problems.push(...checkValue(s, v, property.type, `${path}.${name}`, property.previousTypes ?? []));
  }
  for (const [name, property] of Object.entries(properties)) {
    if (property.required && !(name in value)) problems.push(`${path}: required property ${name} is missing`);
  }
  return problems;
}

// ---------------------------------------------------------------- evaluation

export interface EvalContext {
  template: Template;
  /** Parameter values (defaults filled in by `parameterValues`). */
  parameters: Record<string, string | string[]>;
  /** What a Ref to a resource gives, and GetAtt `Resource.Attr`; a placeholder by default. */
  ref?: (logicalId: string) => string;
  getAtt?: (logicalId: string, attribute: string) => string;
  region?: string;
  accountId?: string;
}

/** Parameter values: the defaults, overridden by `values`. CommaDelimitedList values become lists. */
export function parameterValues(
  template: Template,
  values: Record<string, string> = {},
): Record<string, string | string[]> {
  const result: Record<string, string | string[]> = {};
  for (const [name, definition] of Object.entries(template.Parameters)) {
    const raw =
      name in values ? values[name]! : definition.Default === undefined ? undefined : String(definition.Default);
    if (raw === undefined) throw new Error(`parameter ${name} has no default; give it a value`);
    result[name] = definition.Type === 'CommaDelimitedList' ? raw.split(',').map((s) => s.trim()) : raw;
  }
  return result;
}

const NO_VALUE = Symbol('AWS::NoValue');

export function evaluateCondition(name: string, ctx: EvalContext): boolean {
  const condition = ctx.template.Conditions[name];
  if (condition === undefined) throw new Error(`no condition ${name}`);
  return Boolean(evaluate(condition, ctx));
}

/** Evaluates the intrinsic functions of `value` (those this template uses) to a plain value. */
export function evaluate(value: Json, ctx: EvalContext): unknown {
  const result = evaluateInner(value, ctx);
  return result === NO_VALUE ? undefined : result;
}

function evaluateInner(value: Json, ctx: EvalContext): unknown {
  if (Array.isArray(value)) return value.map((v) => evaluateInner(v, ctx)).filter((v) => v !== NO_VALUE);
  if (!isObject(value)) return value;
  const fn = intrinsicName(value);
  if (fn === undefined) {
    if (Object.keys(value).length === 1 && typeof value.Condition === 'string')
      return evaluateCondition(value.Condition, ctx);
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      const r = evaluateInner(v, ctx);
      if (r !== NO_VALUE) out[k] = r;
    }
    return out;
  }
  const arg = value[fn]!;
  const args = Array.isArray(arg) ? arg : [arg];
  switch (fn) {
    case 'Ref':
      return ref(arg as string, ctx);
    case 'Fn::GetAtt': {
      const [id, attribute] = arg as string[];
      return (ctx.getAtt ?? ((r, a) => `${r}.${a}`))(id!, attribute!);
    }
    case 'Fn::Sub': {
      const [text, vars] = typeof arg === 'string' ? [arg, {}] : (arg as [string, JsonObject]);
      const local: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(vars ?? {})) local[k] = evaluateInner(v, ctx);
      return text.replace(/\$\{([^}]*)\}/g, (_whole, inner: string) => {
        if (inner.startsWith('!')) return `\${${inner.slice(1)}}`;
        const name = inner.trim();
        if (name in local) return String(local[name]);
        if (name.includes('.') && !PSEUDO_PARAMETERS.has(name)) {
          const [id, attribute] = splitGetAtt(name) as [string, string];
          return (ctx.getAtt ?? ((r, a) => `${r}.${a}`))(id, attribute);
        }
        const r = ref(name, ctx);
        return Array.isArray(r) ? r.join(',') : String(r);
      });
    }
    case 'Fn::Join': {
      const [delimiter, list] = args as [string, Json];
      return (evaluateInner(list, ctx) as unknown[]).join(delimiter);
    }
    case 'Fn::Split': {
      const [delimiter, text] = args as [string, Json];
      return String(evaluateInner(text, ctx)).split(delimiter);
    }
    case 'Fn::Select': {
      const [index, list] = args as [Json, Json];
      return (evaluateInner(list, ctx) as unknown[])[Number(evaluateInner(index, ctx))];
    }
    case 'Fn::GetAZs':
      return ['az-a', 'az-b', 'az-c'];
    case 'Fn::If': {
      const [condition, whenTrue, whenFalse] = args as [string, Json, Json];
      return evaluateCondition(condition, ctx) ? evaluateInner(whenTrue, ctx) : evaluateInner(whenFalse, ctx);
    }
    case 'Fn::Equals': {
      const [a, b] = args.map((v) => evaluateInner(v, ctx));
      return JSON.stringify(a) === JSON.stringify(b);
    }
    case 'Fn::Not':
      return !evaluateInner(args[0]!, ctx);
    case 'Fn::And':
      return args.every((v) => evaluateInner(v, ctx));
    case 'Fn::Or':
      return args.some((v) => evaluateInner(v, ctx));
    default:
      throw new Error(`the test's evaluator does not handle ${fn}`);
  }
}

function ref(name: string, ctx: EvalContext): unknown {
  switch (name) {
    case 'AWS::NoValue':
      return NO_VALUE;
    case 'AWS::Region':
      return ctx.region ?? 'us-east-1';
    case 'AWS::AccountId':
      return ctx.accountId ?? '123456789012';
    case 'AWS::Partition':
      return 'aws';
    case 'AWS::URLSuffix':
      return 'amazonaws.com';
    case 'AWS::StackName':
      return 'kvs-infer-stack';
  }
  if (name in ctx.parameters) return ctx.parameters[name];
  if (name in ctx.template.Resources) return (ctx.ref ?? ((id) => `${id}-ref`))(name);
  throw new Error(`Ref to unknown ${name}`);
}
