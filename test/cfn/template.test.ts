// cfn/template.yaml against CloudFormation's resource specification (@aws-cdk/aws-service-spec) and against the
// worker itself: the configuration document it renders is one the worker's parser accepts, and every metric the
// dashboard and the alarms read is one the worker writes, with the dimensions it writes it with.

import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import t from 'tap';
import { parseConfigText } from '../../src/config/index.js';
import { METRICS, metricDefinition, PIPELINE_STAGES } from '../../src/metrics/definitions.js';
import {
  checkProperties,
  type EvalContext,
  evaluate,
  evaluateCondition,
  intrinsicName,
  isObject,
  type Json,
  type JsonObject,
  loadSpec,
  loadTemplate,
  PSEUDO_PARAMETERS,
  parameterValues,
  subVariables,
  type Template,
} from './template-helpers.js';

const template = loadTemplate();
const spec = loadSpec();

const KIT_PARAMETERS = [
  'AppName',
  'DockerImageRepository',
  'EndPointAcceptContentType',
  'LambdaFunctionBucket',
  'LambdaFunctionKey',
  'SageMakerEndpoint',
  'StreamNames',
  'TagFilters',
];
const NEW_PARAMETERS: Record<string, string> = {
  InferenceInterval: '6',
  SamplingIntervalMillis: '0',
  ImageWidth: '0',
  ImageHeight: '0',
  MaxMillisBehindNow: '0',
  GetMediaPricePerGB: '0.0085',
  TaskCpu: '1024',
  TaskMemory: '2048',
  MinTasks: '1',
  MaxTasks: '4',
  LeasesPerWorkerTarget: '40',
  VpcId: '',
  SubnetIds: '',
  LogRetentionDays: '30',
  ResultsBucket: '',
  AlarmEmail: '',
};
/** Values for the parameters without a default. */
const REQUIRED_VALUES = {
  DockerImageRepository: '123456789012.dkr.ecr.us-east-1.amazonaws.com/kvs-infer:0.1.0',
  LambdaFunctionBucket: 'my-artifacts',
  LambdaFunctionKey: 'kvs-infer/consumer.zip',
  SageMakerEndpoint: 'hardhat-endpoint',
  StreamNames: 'front-door',
};

function context(values: Record<string, string> = {}): EvalContext {
  return {
    template,
    parameters: parameterValues(template, { ...REQUIRED_VALUES, ...values }),
    ref: (id) => `ref-${id}`,
    getAtt: (id, attribute) => `getatt-${id}-${attribute}`,
  };
}

// ---------------------------------------------------------------- references

interface Reference {
  kind: 'ref' | 'getatt' | 'condition';
  name: string;
  attribute?: string;
  path: string;
  /** Conditions known true here: the true branches of the Fn::If around the reference. */
  under: ReadonlySet<string>;
}

/** Every Ref, GetAtt (also inside Fn::Sub strings) and condition name used in `value`. */
function references(
  value: Json,
  path: string,
  under: ReadonlySet<string> = new Set(),
  out: Reference[] = [],
): Reference[] {
  if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) references(v, `${path}[${i}]`, under, out);
    return out;
  }
  if (!isObject(value)) return out;
  const fn = intrinsicName(value);
  const arg = fn === undefined ? undefined : value[fn];
  switch (fn) {
    case 'Ref':
      out.push({ kind: 'ref', name: arg as string, path, under });
      return out;
    case 'Fn::GetAtt': {
      const [name, attribute] = arg as string[];
      out.push({ kind: 'getatt', name: name!, attribute: attribute!, path, under });
      return out;
    }
    case 'Fn::Sub': {
      const [text, vars] = typeof arg === 'string' ? [arg, {} as JsonObject] : (arg as [string, JsonObject]);
      for (const name of subVariables(text)) {
        if (name in vars) continue;
        const dot = name.indexOf('.');
        if (dot > 0 && !PSEUDO_PARAMETERS.has(name))
          out.push({ kind: 'getatt', name: name.slice(0, dot), attribute: name.slice(dot + 1), path, under });
        else out.push({ kind: 'ref', name, path, under });
      }
      for (const [k, v] of Object.entries(vars)) references(v, `${path}.${k}`, under, out);
      return out;
    }
    case 'Fn::If': {
      const [condition, whenTrue, whenFalse] = arg as [string, Json, Json];
      out.push({ kind: 'condition', name: condition, path, under });
      references(whenTrue, `${path}<true>`, new Set([...under, condition]), out);
      references(whenFalse, `${path}<false>`, under, out);
      return out;
    }
  }
  if (
    fn === undefined &&
    Object.keys(value).length === 1 &&
    typeof value.Condition === 'string' &&
    path.startsWith('Conditions')
  ) {
    out.push({ kind: 'condition', name: value.Condition, path, under });
    return out;
  }
  for (const [k, v] of Object.entries(value)) references(v, `${path}.${k}`, under, out);
  return out;
}

function allReferences(tpl: Template): Array<Reference & { owner?: string; ownerCondition?: string }> {
  const out: Array<Reference & { owner?: string; ownerCondition?: string }> = [];
  for (const [id, resource] of Object.entries(tpl.Resources)) {
    const { Type: _type, Condition, DependsOn: _dependsOn, ...rest } = resource;
    for (const r of references(rest as Json, `Resources.${id}`))
      out.push({ ...r, owner: id, ownerCondition: Condition });
  }
  for (const [id, output] of Object.entries(tpl.Outputs)) {
    const { Condition, ...rest } = output;
    for (const r of references(rest, `Outputs.${id}`))
      out.push({ ...r, owner: `Outputs.${id}`, ownerCondition: Condition as string | undefined });
  }
  out.push(...references(tpl.Conditions as Json, 'Conditions'));
  out.push(...references((tpl.Rules ?? {}) as Json, 'Rules'));
  return out;
}

// ---------------------------------------------------------------- metrics

const allowedDimensionSets = ({ scope, byApp }: { scope: 'worker' | 'stream'; byApp?: true }) =>
  scope === 'stream'
    ? [['AppName', 'StreamName'], ['AppName']]
    : [['AppName', 'WorkerId'], ...(byApp ? [['AppName']] : [])];
const sameSet = (a: readonly string[], b: readonly string[]) =>
  a.length === b.length && [...a].sort().every((x, i) => x === [...b].sort()[i]);

/** Why the worker never writes `name` with `dimensions`, or undefined when it does. */
function metricProblem(name: string, dimensions: string[]): string | undefined {
  const definition = METRICS.find((m) => m.name === name);
  if (!definition) return `${name} is not a metric the worker exports`;
  const allowed = allowedDimensionSets(definition);
  if (!allowed.some((set) => sameSet(set, dimensions))) {
    return (
      `${name} is a ${definition.scope} metric, written with ` +
      `${allowed.map((s) => `[${s.join(', ')}]`).join(' or ')}, not [${dimensions.join(', ')}]`
    );
  }
  return undefined;
}

interface MetricUse {
  namespace: string;
  name: string;
  dimensions: string[];
  where: string;
}

/** The metrics a dashboard body reads: plain metric rows and SEARCH expressions. */
function dashboardMetrics(body: { widgets: Array<{ type: string; properties: JsonObject }> }): MetricUse[] {
  const uses: MetricUse[] = [];
  body.widgets.forEach((widget, w) => {
    if (widget.type !== 'metric') return;
    const title = String(widget.properties.title);
    const rows = widget.properties.metrics as Json[][];
    rows.forEach((row, r) => {
      const where = `widget ${w} "${title}" row ${r}`;
      const first = row[0];
      if (isObject(first) && typeof first.expression === 'string') {
        const expression = first.expression;
        const searches = [...expression.matchAll(/SEARCH\('\{([^}]*)\}([^']*)'/g)];
        if (searches.length === 0) throw new Error(`${where}: an expression without SEARCH: ${expression}`);
        for (const [, schema, terms] of searches) {
          const [namespace, ...dimensions] = schema!.split(',').map((s) => s.trim());
          const name = /MetricName="([^"]+)"/.exec(terms!)?.[1];
          if (!name) throw new Error(`${where}: a SEARCH without MetricName="...": ${expression}`);
          uses.push({ namespace: namespace!, name, dimensions, where });
        }
        return;
      }
      const values = row.filter((v): v is string => typeof v === 'string');
      const [namespace, name, ...pairs] = values;
      const dimensions = pairs.filter((_, i) => i % 2 === 0);
      uses.push({ namespace: namespace!, name: name!, dimensions, where });
    });
  });
  return uses;
}

// ---------------------------------------------------------------- tests

t.test('the template has the sections a console deployment reads', async (t) => {
  t.equal(template.AWSTemplateFormatVersion, '2010-09-09');
  for (const section of ['Parameters', 'Conditions', 'Resources', 'Outputs'])
    t.ok(isObject(template[section]), `${section} is a map`);
  const known = new Set([
    'AWSTemplateFormatVersion',
    'Description',
    'Metadata',
    'Parameters',
    'Rules',
    'Mappings',
    'Conditions',
    'Transform',
    'Resources',
    'Outputs',
  ]);
  t.same(
    Object.keys(template).filter((k) => !known.has(k)),
    [],
    'no unknown top-level section',
  );
  t.ok(Object.keys(template.Resources).length <= 500, 'at most 500 resources');
});

t.test("parameters: KIT's names, each with a Type; the new ones with their defaults", async (t) => {
  for (const [name, definition] of Object.entries(template.Parameters)) {
    t.ok(
      ['String', 'Number', 'CommaDelimitedList'].includes(definition.Type as string),
      `${name} has a Type (${definition.Type})`,
    );
    t.ok(typeof definition.Description === 'string' && definition.Description.length > 0, `${name} is described`);
  }
  for (const name of KIT_PARAMETERS) t.ok(name in template.Parameters, `KIT's ${name} is there`);
  for (const [name, value] of Object.entries(NEW_PARAMETERS))
    t.equal(String(template.Parameters[name]?.Default), value, `${name} defaults to "${value}"`);
  t.same(
    template.Parameters.EndPointAcceptContentType!.AllowedValues,
    ['image/jpeg', 'image/png', 'image/bmp', 'image/gif', 'application/x-image'],
    "EndPointAcceptContentType allows KIT's content types",
  );
  // The parameters used in an ARN or a name have patterns that keep those valid.
  for (const name of ['AppName', 'SageMakerEndpoint'])
    t.type(template.Parameters[name]!.AllowedPattern, 'string', `${name} has an AllowedPattern`);
  t.match(
    'kvs-infer',
    new RegExp(template.Parameters.AppName!.AllowedPattern as string),
    'the default AppName matches its pattern',
  );
  t.notMatch(
    'My-Endpoint',
    new RegExp(template.Parameters.SageMakerEndpoint!.AllowedPattern as string),
    'endpoint names are lowercase (their ARNs are)',
  );
});

t.test('every resource type exists, with known and required properties (recursively)', async (t) => {
  for (const [id, resource] of Object.entries(template.Resources)) {
    const definition = spec.resource(resource.Type);
    if (!t.ok(definition, `${id}: ${resource.Type} is a CloudFormation resource type`)) continue;
    const problems = checkProperties(spec, resource.Properties ?? {}, definition!.properties, id);
    t.same(problems, [], `${id} (${resource.Type}) properties match the spec`);
    const attributes = new Set([
      'Type',
      'Properties',
      'Condition',
      'DependsOn',
      'Metadata',
      'DeletionPolicy',
      'UpdateReplacePolicy',
      'UpdatePolicy',
      'CreationPolicy',
    ]);
    t.same(
      Object.keys(resource).filter((k) => !attributes.has(k)),
      [],
      `${id} has only resource attributes CloudFormation knows`,
    );
  }
});

t.test('the nested checks do look inside property types', async (t) => {
  // A sanity check of the checker itself, on a copy of the task definition with a misspelt nested property.
  const taskDefinition = template.Resources.WorkerTaskDefinition!;
  const definition = spec.resource('AWS::ECS::TaskDefinition')!;
  const broken = structuredClone(taskDefinition.Properties!) as JsonObject;
  const container = (broken.ContainerDefinitions as JsonObject[])[0]!;
  (container.HealthCheck as JsonObject).Intervall = 30;
  delete container.Name;
  const problems = checkProperties(spec, broken, definition.properties, 'WorkerTaskDefinition');
  t.ok(
    problems.some((p) => p.includes('Intervall: no such property')),
    'an unknown property of HealthCheck is found',
  );
  t.ok(
    problems.some((p) => p.includes('required property Name is missing')),
    'a missing required property of a container definition is found',
  );
  const policy = structuredClone(template.Resources.WorkerCpuScalingPolicy!.Properties!) as JsonObject;
  delete (policy.TargetTrackingScalingPolicyConfiguration as JsonObject).TargetValue;
  t.ok(
    checkProperties(spec, policy, spec.resource('AWS::ApplicationAutoScaling::ScalingPolicy')!.properties, 'p').some(
      (p) => p.includes('required property TargetValue'),
    ),
    'TargetTrackingScalingPolicyConfiguration is checked too',
  );
});

t.test(
  // biome-ignore lint/suspicious/noTemplateCurlyInString: CloudFormation's Fn::Sub ${} syntax, not a JS template
  'every Ref, ${} and GetAtt names something that exists; conditional resources only under their condition',
  async (t) => {
    const refs = allReferences(template);
    t.ok(refs.length > 50, `found ${refs.length} references`);
    for (const r of refs) {
      if (r.kind === 'condition') {
        t.ok(r.name in template.Conditions, `${r.path}: condition ${r.name} exists`);
        continue;
      }
      if (r.kind === 'ref') {
        const known = PSEUDO_PARAMETERS.has(r.name) || r.name in template.Parameters || r.name in template.Resources;
        t.ok(known, `${r.path}: Ref ${r.name} is a parameter, resource or pseudo parameter`);
        if (r.path.startsWith('Rules'))
          t.ok(r.name in template.Parameters, `${r.path}: rules refer to parameters only`);
      } else {
        const target = template.Resources[r.name];
        if (!t.ok(target, `${r.path}: GetAtt ${r.name}.${r.attribute} names a resource`)) continue;
        const attributes = spec.resource(target!.Type)?.attributes ?? {};
        t.ok(
          r.attribute! in attributes,
          `${r.path}: ${target!.Type} has attribute ${r.attribute} (it has ${Object.keys(attributes).join(', ')})`,
        );
      }
      const target = template.Resources[r.name];
      if (target?.Condition !== undefined && 'owner' in r) {
        const guarded =
          (r as { ownerCondition?: string }).ownerCondition === target.Condition || r.under.has(target.Condition);
        t.ok(
          guarded,
          `${r.path}: ${r.name} exists only when ${target.Condition}, and this reference is under that condition`,
        );
      }
    }
    for (const [id, resource] of Object.entries(template.Resources)) {
      if (resource.Condition !== undefined)
        t.ok(resource.Condition in template.Conditions, `${id}: condition ${resource.Condition} exists`);
      for (const dependency of [resource.DependsOn ?? []].flat()) {
        t.ok(dependency in template.Resources, `${id} depends on ${dependency}, which exists`);
        const condition = template.Resources[dependency]?.Condition;
        t.ok(
          condition === undefined || condition === resource.Condition,
          `${id} depends on ${dependency}, which exists whenever ${id} does`,
        );
      }
    }
    for (const name of Object.keys(template.Conditions)) {
      t.ok(
        refs.some((r) => r.kind === 'condition' && r.name === name) ||
          Object.values(template.Resources).some((r) => r.Condition === name),
        `condition ${name} is used`,
      );
    }
  },
);

t.test("the SSM parameter renders KIT's document, and the worker's parser accepts it", async (t) => {
  const cases: Array<{
    title: string;
    values: Record<string, string>;
    streamNames: string[];
    tagFilters: Array<{ key: string; values: string[] }>;
  }> = [
    {
      title: 'bare names',
      values: { StreamNames: 'front-door, parking' },
      streamNames: ['front-door', 'parking'],
      tagFilters: [],
    },
    {
      title: "KIT's quoted names",
      values: { StreamNames: '"front-door","parking"' },
      streamNames: ['front-door', 'parking'],
      tagFilters: [],
    },
    {
      title: 'tag filters only',
      values: { StreamNames: '', TagFilters: '{"key":"Location","values":["Front","Parking"]}' },
      streamNames: [],
      tagFilters: [{ key: 'Location', values: ['Front', 'Parking'] }],
    },
    {
      title: "both, with KIT's two-filter default",
      values: {
        StreamNames: 'cam-1',
        TagFilters: '{"key":"kit1","values":["value1","value2"]},{"key":"kit2","values":["value1","value2"]}',
      },
      streamNames: ['cam-1'],
      tagFilters: [
        { key: 'kit1', values: ['value1', 'value2'] },
        { key: 'kit2', values: ['value1', 'value2'] },
      ],
    },
  ];
  for (const c of cases) {
    const ctx = context({
      ...c.values,
      AppName: 'my-app',
      InferenceInterval: '4',
      EndPointAcceptContentType: 'image/png',
    });
    const text = evaluate(template.Resources.ConfigParameter!.Properties!.Value!, ctx) as string;
    const { config, warnings } = parseConfigText(text, { source: 'the SSM parameter' });
    t.same(warnings, [], `${c.title}: no warnings`);
    t.same(config.streamNames, c.streamNames, `${c.title}: streamNames`);
    t.same(config.tagFilters, c.tagFilters, `${c.title}: tagFilters`);
    t.equal(config.sageMakerEndpoint, 'hardhat-endpoint');
    t.equal(config.endPointAcceptContentType, 'image/png');
    t.equal(config.kdsStreamName, 'ref-ResultsStream', 'kdsStreamName is the data stream (its Ref is its name)');
    t.equal(config.inferenceInterval, 4);
    t.equal(config.appName, 'my-app');
    t.equal(config.metricsNamespace, 'my-app', 'metrics go to namespace AppName, which the dashboard and alarms read');
    t.equal(config.sageMakerTaskQueueSize, 5000, "KIT's other keys as KIT writes them");
  }
  const parameter = template.Resources.ConfigParameter!.Properties!;
  const defaults = parseConfigText(evaluate(parameter.Value!, context()) as string, {
    source: 'the SSM parameter',
  }).config;
  t.match(
    defaults,
    { samplingIntervalMillis: undefined, imageWidth: undefined, imageHeight: undefined, maxMillisBehindNow: undefined },
    "kvs-infer's parameters at 0 leave their keys at the worker's defaults",
  );
  t.equal(defaults.inferenceInterval, 6);
  t.equal(defaults.getMediaPricePerGB, 0.0085);
  t.same(parameter.Name, { Ref: 'AppName' }, 'the parameter is named after AppName, as in KIT');
  t.equal(parameter.Type, 'String');
});

t.test("kvs-infer's processing parameters reach the configuration document", async (t) => {
  // Prepare
  const ctx = context({
    InferenceInterval: '4',
    SamplingIntervalMillis: '2000',
    ImageWidth: '512',
    MaxMillisBehindNow: '60000',
    GetMediaPricePerGB: '0.0119',
  });

  // Act
  const text = evaluate(template.Resources.ConfigParameter!.Properties!.Value!, ctx) as string;
  const { config, warnings } = parseConfigText(text, { source: 'the SSM parameter' });

  // Assess
  t.same(warnings, [], 'inferenceInterval is left out when SamplingIntervalMillis replaces it');
  t.match(config, {
    samplingIntervalMillis: 2000,
    imageWidth: 512,
    imageHeight: undefined,
    maxMillisBehindNow: 60000,
    getMediaPricePerGB: 0.0119,
  });
});

t.test('the worker task: command, stop timeout, health check, logs', async (t) => {
  const properties = template.Resources.WorkerTaskDefinition!.Properties!;
  t.same(properties.RequiresCompatibilities, ['FARGATE']);
  t.equal(properties.NetworkMode, 'awsvpc');
  const containers = properties.ContainerDefinitions as JsonObject[];
  t.equal(containers.length, 1);
  const container = containers[0]!;
  t.same(container.Command, [
    'run',
    '--ssm-parameter',
    { Ref: 'ConfigParameter' },
    '--debug-port',
    '8080',
    '--debug-host',
    '127.0.0.1',
  ]);
  t.equal(container.StopTimeout, 30, 'SIGKILL 30 s after SIGTERM; the worker shuts down within 25 s');
  const healthCheck = container.HealthCheck as JsonObject;
  const command = healthCheck.Command as string[];
  t.same(command.slice(0, 3), ['CMD', 'node', '-e']);
  t.equal(command.length, 4);
  t.match(command[3], 'http://127.0.0.1:8080/healthz');
  t.ok(Number(healthCheck.Timeout) < Number(healthCheck.Interval));

  const log = container.LogConfiguration as JsonObject;
  t.equal(log.LogDriver, 'awslogs');
  const options = log.Options as JsonObject;
  t.same(options['awslogs-group'], { Ref: 'WorkerLogGroup' });
  t.same(options['awslogs-region'], { Ref: 'AWS::Region' });
  for (const id of ['WorkerLogGroup', 'ConsumerLogGroup']) {
    t.same(template.Resources[id]!.Properties!.RetentionInDays, { Ref: 'LogRetentionDays' }, `${id} has a retention`);
  }
  t.equal(container.PortMappings, undefined, 'no port is published');
  t.notOk(JSON.stringify(container.Environment ?? []).includes('AWS_REGION'), 'AWS_REGION comes from Fargate');
});

t.test('the health check command exits 0 on a 200 from /healthz and 1 otherwise', async (t) => {
  const script = (template.Resources.WorkerTaskDefinition!.Properties!.ContainerDefinitions as JsonObject[])[0]!
    .HealthCheck as JsonObject;
  const source = (script.Command as string[])[3]!;
  let status = 200;
  const seen: string[] = [];
  const server = createServer((req, res) => {
    seen.push(req.url ?? '');
    res.writeHead(status, { 'content-type': 'application/json' }).end('{"status":"alive"}');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const run = async (code: string) => {
    try {
      await promisify(execFile)(process.execPath, ['-e', code], { timeout: 10_000 });
      return 0;
    } catch (error) {
      return (error as { code?: number }).code ?? -1;
    }
  };
  const onPort = source.replace('127.0.0.1:8080', `127.0.0.1:${port}`);
  t.equal(await run(onPort), 0, 'healthy');
  t.same(seen, ['/healthz']);
  status = 503;
  t.equal(await run(onPort), 1, 'unhealthy status');
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  t.equal(await run(onPort), 1, 'nothing listening');
});

t.test('the service: Fargate, no inbound, public IP only in the VPC it made, CPU target tracking', async (t) => {
  const service = template.Resources.WorkerService!.Properties!;
  t.equal(service.LaunchType, 'FARGATE');
  const network = (service.NetworkConfiguration as JsonObject).AwsvpcConfiguration as JsonObject;
  for (const [createVpc, values] of [
    [true, {}],
    [false, { VpcId: 'vpc-1234', SubnetIds: 'subnet-a,subnet-b' }],
  ] as const) {
    const ctx = context(values);
    t.equal(evaluateCondition('CreateVpc', ctx), createVpc);
    t.equal(evaluate(network.AssignPublicIp!, ctx), createVpc ? 'ENABLED' : 'DISABLED');
    t.same(
      evaluate(network.Subnets!, ctx),
      createVpc ? ['ref-PublicSubnet1', 'ref-PublicSubnet2'] : ['subnet-a', 'subnet-b'],
    );
  }
  const group = template.Resources.WorkerSecurityGroup!.Properties!;
  t.equal(group.SecurityGroupIngress, undefined, 'no inbound rule');
  t.same(group.SecurityGroupEgress, [
    { IpProtocol: '-1', CidrIp: '0.0.0.0/0', Description: (group.SecurityGroupEgress as JsonObject[])[0]!.Description },
  ]);
  const vpcResources = Object.entries(template.Resources).filter(
    ([, r]) => r.Type.startsWith('AWS::EC2::') && r.Type !== 'AWS::EC2::SecurityGroup',
  );
  t.ok(vpcResources.length >= 8, 'VPC, gateway, attachment, two subnets, route table, route, associations');
  for (const [id, r] of vpcResources)
    t.equal(r.Condition, 'CreateVpc', `${id} exists only when the stack makes the VPC`);

  // In a VPC it makes, the service waits for the default route and the subnets' route table associations.
  t.equal(template.Resources.WorkerService!.DependsOn, 'NetworkReady');
  const gate = evaluate(template.Resources.NetworkReady!.Metadata as Json, context()) as Record<string, string>;
  t.same(Object.values(gate).sort(), [
    'ref-PublicDefaultRoute',
    'ref-PublicSubnet1RouteTableAssociation',
    'ref-PublicSubnet2RouteTableAssociation',
  ]);

  const target = template.Resources.WorkerScalableTarget!.Properties!;
  t.same([target.MinCapacity, target.MaxCapacity], [{ Ref: 'MinTasks' }, { Ref: 'MaxTasks' }]);
  const policy = template.Resources.WorkerCpuScalingPolicy!.Properties!;
  const tracking = policy.TargetTrackingScalingPolicyConfiguration as JsonObject;
  t.equal(
    (tracking.PredefinedMetricSpecification as JsonObject).PredefinedMetricType,
    'ECSServiceAverageCPUUtilization',
  );
  t.equal(tracking.TargetValue, 60);

  const leases = template.Resources.WorkerLeaseScalingPolicy!;
  t.equal(leases.Condition, 'ScalesOnLeases');
  t.equal(evaluateCondition('ScalesOnLeases', context()), true, 'on by default');
  t.equal(evaluateCondition('ScalesOnLeases', context({ LeasesPerWorkerTarget: '0' })), false);
  const leaseTracking = leases.Properties!.TargetTrackingScalingPolicyConfiguration as JsonObject;
  t.same(leaseTracking.TargetValue, { Ref: 'LeasesPerWorkerTarget' });
  const metric = evaluate(leaseTracking.CustomizedMetricSpecification!, context({ AppName: 'my-app' })) as JsonObject;
  t.match(metric, { Namespace: 'my-app', MetricName: 'CurrentLeases', Statistic: 'Average' });
  const dimensions = (metric.Dimensions as JsonObject[]).map((d) => d.Name as string);
  t.same(metric.Dimensions, [{ Name: 'AppName', Value: 'my-app' }]);
  t.equal(metricProblem('CurrentLeases', dimensions), undefined, 'a metric the worker writes with that dimension');
});

t.test('the lease table, the data stream, the Lambda and its event source', async (t) => {
  const table = template.Resources.LeaseTable!.Properties!;
  t.same(table.TableName, { Ref: 'AppName' });
  t.equal(table.BillingMode, 'PAY_PER_REQUEST');
  t.same(table.KeySchema, [{ AttributeName: 'leaseKey', KeyType: 'HASH' }], 'the key the worker checks for');
  t.same(table.AttributeDefinitions, [{ AttributeName: 'leaseKey', AttributeType: 'S' }]);

  const fn = template.Resources.ConsumerFunction!.Properties!;
  t.equal(
    fn.Runtime,
    'nodejs24.x',
    'a Node.js runtime AWS still creates functions with (nodejs20.x: not since 2026-06-01)',
  );
  t.equal(fn.Handler, 'index.handler');
  t.same(fn.Code, { S3Bucket: { Ref: 'LambdaFunctionBucket' }, S3Key: { Ref: 'LambdaFunctionKey' } });
  t.same(evaluate(fn.Environment!, context({ ResultsBucket: 'my-results' })), {
    Variables: { RESULTS_BUCKET: 'my-results' },
  });
  t.equal(evaluate(fn.Environment!, context()), undefined, 'no RESULTS_BUCKET without a bucket');

  const mapping = template.Resources.ConsumerEventSourceMapping!.Properties!;
  t.same(mapping.EventSourceArn, { 'Fn::GetAtt': ['ResultsStream', 'Arn'] });
  t.equal(mapping.StartingPosition, 'LATEST');
  t.equal(mapping.BatchSize, 100);
  t.equal(mapping.BisectBatchOnFunctionError, true);
  t.type(mapping.MaximumRetryAttempts, 'number');
  t.ok(Number(mapping.MaximumRetryAttempts) >= 0 && Number(mapping.MaximumRetryAttempts) <= 10000);
});

type DashboardBody = {
  widgets: Array<{ type: string; properties: JsonObject; x: number; y: number; width: number; height: number }>;
};

/** The dashboard's body as CloudFormation renders it for AppName my-app. */
function renderedDashboard(): { text: string; body: DashboardBody } {
  const text = evaluate(
    template.Resources.Dashboard!.Properties!.DashboardBody!,
    context({ AppName: 'my-app' }),
  ) as string;
  return { text, body: JSON.parse(text) as DashboardBody };
}

t.test(
  'the dashboard is JSON once rendered, and reads only metrics the worker writes, with their dimensions',
  async (t) => {
    const { text, body } = renderedDashboard();
    // biome-ignore lint/suspicious/noTemplateCurlyInString: CloudFormation's Fn::Sub ${} syntax, not a JS template
    t.notMatch(text, /\$\{/, 'every ${} is substituted');
    t.ok(Array.isArray(body.widgets) && body.widgets.length > 0);

    const titles = body.widgets.map((w) => w.properties.title);
    for (const title of [
      'Frame Metrics',
      'IngestToProcessLatency',
      'Current Lease Total',
      'LeaseCount per Worker',
      'Number of Workers',
      'Lease Sync Metrics',
      'ECS Service Utilization',
      'KinesisDataStream',
      'SageMaker',
      'Lambda',
    ]) {
      t.ok(titles.includes(title), `KIT's widget "${title}" is there`);
    }
    for (const w of body.widgets) t.ok(w.x + w.width <= 24, `"${w.properties.title}" fits the 24-column grid`);

    const uses = dashboardMetrics(body);
    const ours = uses.filter((u) => u.namespace === 'my-app');
    t.ok(ours.length >= 10, `${ours.length} metrics of namespace AppName`);
    for (const use of ours)
      t.equal(
        metricProblem(use.name, use.dimensions),
        undefined,
        `${use.where}: ${use.name} [${use.dimensions.join(', ')}]`,
      );
    for (const use of uses.filter((u) => u.namespace !== 'my-app'))
      t.match(use.namespace, /^AWS\//, `${use.where}: ${use.namespace} is AWS's or ours`);
    for (const name of [
      'FramesSampled',
      'FramesInferred',
      'FramesPublished',
      'FramesFailed',
      'FramesDropped',
      'IngestToProcessLatency',
      'CurrentLeases',
      'NumWorkers',
      'LeaseSyncs',
      'LeaseSyncLatency',
    ]) {
      t.ok(
        ours.some((u) => u.name === name),
        `${name} is on the dashboard`,
      );
    }
    const external = new Set(uses.filter((u) => u.namespace !== 'my-app').map((u) => `${u.namespace} ${u.name}`));
    for (const m of [
      'AWS/ECS CPUUtilization',
      'AWS/ECS MemoryUtilization',
      'AWS/Kinesis IncomingRecords',
      'AWS/SageMaker Invocations',
      'AWS/SageMaker ModelLatency',
      'AWS/Lambda Invocations',
      'AWS/Lambda Errors',
      'AWS/Lambda Duration',
    ]) {
      t.ok(external.has(m), `${m} is on the dashboard`);
    }
    // The checker itself: it would catch a metric the worker does not write, and a wrong dimension set.
    t.ok(metricProblem('LeaseCountPerWorker', ['AppName', 'WorkerId']));
    t.ok(metricProblem('LeasesTaken', ['AppName']));
    t.ok(metricProblem('FramesFailed', ['AppName', 'WorkerId']));
  },
);

t.test(
  "KIT's latency widget and the latency alarm read KIT's IngestToProcessLatency; another widget shows each stage's p99",
  async (t) => {
    const { body } = renderedDashboard();
    const widget = (title: string) => body.widgets.filter((w) => w.properties.title === title);
    const names = (title: string) => dashboardMetrics({ widgets: widget(title) }).map((u) => u.name);

    t.match(
      metricDefinition('IngestToProcessLatency')?.help,
      /^KIT's definition/,
      "the worker's IngestToProcessLatency is KIT's",
    );
    t.same(
      names('IngestToProcessLatency'),
      ['IngestToProcessLatency', 'IngestToProcessLatency'],
      "KIT's widget reads it alone (p50, p99)",
    );
    t.equal(
      template.Resources.IngestLatencyAlarm!.Properties!.MetricName,
      'IngestToProcessLatency',
      'and so does the alarm',
    );
    t.same(
      names('Latency by stage (p99)'),
      [...PIPELINE_STAGES.map((s) => s.metric), 'EndToEndLatency'],
      'every stage in order, then the whole',
    );
    t.match(widget('Latency by stage (p99)')[0]?.properties, { stat: 'p99', period: 60 });
  },
);

t.test("the template's descriptions name the Node.js the Lambda runs on, and no other", async (t) => {
  const runtime = template.Resources.ConsumerFunction!.Properties!.Runtime as string;
  const version = /^nodejs(\d+)\.x$/.exec(runtime)?.[1];
  const descriptions = [
    template.Description,
    ...[...Object.values(template.Parameters), ...Object.values(template.Outputs)].map((x) => x.Description),
  ];
  const named = descriptions.flatMap((d) =>
    [...String(d ?? '').matchAll(/\bnode(?:\.?js)?\s*v?(\d+)/gi)].map((m) => m[1]),
  );

  t.ok(version, `${runtime} is a Node.js runtime`);
  t.match(template.Parameters.LambdaFunctionKey!.Description, runtime, "the zip's parameter names the runtime");
  t.same([...new Set(named)], [version], `every Node.js version named is ${version}`);
});

t.test(
  'alarms: latency p99 > 5 s for 5 of 5 minutes, failed frames, Lambda errors; e-mail only when given',
  async (t) => {
    const alarms = Object.entries(template.Resources).filter(([, r]) => r.Type === 'AWS::CloudWatch::Alarm');
    for (const [id, alarm] of alarms) {
      const p = alarm.Properties!;
      t.same(p.AlarmActions, [{ Ref: 'AlarmTopic' }], `${id} notifies the topic`);
      if (isObject(p.Namespace) && p.Namespace.Ref === 'AppName') {
        const dimensions = (p.Dimensions as JsonObject[]).map((d) => d.Name as string);
        t.equal(
          metricProblem(p.MetricName as string, dimensions),
          undefined,
          `${id}: ${p.MetricName} [${dimensions.join(', ')}] is written by the worker`,
        );
      }
    }
    const latency = template.Resources.IngestLatencyAlarm!.Properties!;
    t.match(latency, {
      MetricName: 'IngestToProcessLatency',
      ExtendedStatistic: 'p99',
      Period: 60,
      EvaluationPeriods: 5,
      DatapointsToAlarm: 5,
      Threshold: 5000,
      ComparisonOperator: 'GreaterThanThreshold',
    });
    const failed = template.Resources.FramesFailedAlarm!.Properties!;
    t.match(failed, {
      MetricName: 'FramesFailed',
      Statistic: 'Sum',
      Period: 300,
      EvaluationPeriods: 1,
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
    });
    const lambda = template.Resources.ConsumerErrorsAlarm!.Properties!;
    t.match(lambda, { Namespace: 'AWS/Lambda', MetricName: 'Errors' });
    t.same(lambda.Dimensions, [{ Name: 'FunctionName', Value: { Ref: 'ConsumerFunction' } }]);
    t.equal(template.Resources.AlarmEmailSubscription!.Condition, 'HasAlarmEmail');
    t.equal(evaluateCondition('HasAlarmEmail', context()), false);
    t.equal(evaluateCondition('HasAlarmEmail', context({ AlarmEmail: 'ops@example.com' })), true);
  },
);

t.test('outputs: cluster, service, table, data stream, parameter, dashboard URL, log group', async (t) => {
  const outputs = Object.fromEntries(Object.entries(template.Outputs).map(([k, v]) => [k, v.Value as Json]));
  const expected: Record<string, Json> = {
    ClusterName: { Ref: 'Cluster' },
    ServiceName: { 'Fn::GetAtt': ['WorkerService', 'Name'] },
    LeaseTableName: { Ref: 'LeaseTable' },
    ResultsStreamName: { Ref: 'ResultsStream' },
    ConfigParameterName: { Ref: 'ConfigParameter' },
    WorkerLogGroupName: { Ref: 'WorkerLogGroup' },
  };
  for (const [name, value] of Object.entries(expected)) t.same(outputs[name], value, name);
  t.equal(
    evaluate(outputs.DashboardUrl!, context()),
    'https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#dashboards:name=ref-Dashboard',
  );
  for (const [name, output] of Object.entries(template.Outputs))
    t.type(output.Description, 'string', `${name} is described`);
});

t.test('the template fits a console upload (51,200 bytes)', async (t) => {
  const { statSync } = await import('node:fs');
  const { TEMPLATE_PATH } = await import('./template-helpers.js');
  t.ok(statSync(TEMPLATE_PATH).size <= 51_200, `${statSync(TEMPLATE_PATH).size} bytes`);
});
