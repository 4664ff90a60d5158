// Least privilege in cfn/template.yaml, checked two ways:
// 1. Policy rules, as cfn-guard would check them (cfn-guard is not on npm here, so they are tap assertions):
//    no wildcard action, '*' resources only where AWS documents no resource-level permissions, scoped ARNs,
//    no admin policies, and the data at rest rules (PITR and SSE on the table, KMS on the stream, log retention).
// 2. Code and policy cannot drift: the actions the worker's code (src/, without the local stack) and the
//    Lambda's code (cfn/lambda/) call, derived from the SDK commands they import, EQUAL what their roles grant.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { callsIn, sdkCalls, sourceFiles } from './sdk-actions.js';
import {
  evaluate,
  isObject,
  type Json,
  type JsonObject,
  loadTemplate,
  parameterValues,
  ROOT,
} from './template-helpers.js';

const template = loadTemplate();

interface Statement {
  /** Where it is: resource id and policy name. */
  where: string;
  /** The Condition of the resource holding it (an AWS::IAM::Policy that may not exist). */
  condition?: string;
  Effect: string;
  Action: string[];
  Resource: Json[];
  raw: JsonObject;
}

const list = <T>(value: T | T[] | undefined): T[] =>
  value === undefined ? [] : Array.isArray(value) ? value : [value];

function statementsOf(document: Json, where: string, condition?: string): Statement[] {
  if (!isObject(document)) throw new Error(`${where}: a policy document is a map`);
  return list(document.Statement as Json).map((s, i) => {
    if (!isObject(s)) throw new Error(`${where}: statement ${i} is not a map`);
    return {
      where: `${where}[${(s.Sid as string | undefined) ?? i}]`,
      condition,
      Effect: s.Effect as string,
      Action: list(s.Action as string | string[]),
      Resource: list(s.Resource as Json),
      raw: s,
    };
  });
}

/** The permission statements of every role, inline policy, managed policy and AWS::IAM::Policy of the template. */
function permissionStatements(): Array<Statement & { role: string }> {
  const out: Array<Statement & { role: string }> = [];
  for (const [id, resource] of Object.entries(template.Resources)) {
    const p = resource.Properties ?? {};
    if (resource.Type === 'AWS::IAM::Role') {
      for (const policy of list(p.Policies as JsonObject[])) {
        for (const s of statementsOf(policy.PolicyDocument!, `${id}/${policy.PolicyName}`, resource.Condition))
          out.push({ ...s, role: id });
      }
    } else if (resource.Type === 'AWS::IAM::Policy' || resource.Type === 'AWS::IAM::ManagedPolicy') {
      const roles = list(p.Roles as Json[]).map((r) => (isObject(r) && typeof r.Ref === 'string' ? r.Ref : String(r)));
      if (roles.length === 0) throw new Error(`${id}: a policy attached to no role of this template`);
      for (const role of roles)
        for (const s of statementsOf(p.PolicyDocument!, `${id}`, resource.Condition)) out.push({ ...s, role });
    } else if (resource.Type.startsWith('AWS::IAM::') && resource.Type !== 'AWS::IAM::Role') {
      throw new Error(`${id}: ${resource.Type} is not looked at by this test`);
    }
  }
  return out;
}

const statements = permissionStatements();

/** Actions AWS documents as supporting no resource-level permissions: only these may have Resource '*'. */
const NO_RESOURCE_LEVEL: ReadonlySet<string> = new Set([
  // Service Authorization Reference, Amazon Kinesis Video Streams: ListStreams has no resource type.
  'kinesisvideo:ListStreams',
]);

/** AWS managed policies the template may attach, and to which role. */
const ALLOWED_MANAGED_POLICIES: Record<string, string> = {
  TaskExecutionRole: 'service-role/AmazonECSTaskExecutionRolePolicy',
};

t.test('policy rules (what cfn-guard would check)', async (t) => {
  t.ok(statements.length >= 8, `${statements.length} statements`);
  for (const s of statements) {
    t.equal(s.Effect, 'Allow', `${s.where}: Allow (nothing here needs Deny)`);
    t.equal(s.raw.NotAction, undefined, `${s.where}: no NotAction`);
    t.equal(s.raw.NotResource, undefined, `${s.where}: no NotResource`);
    t.ok(s.Action.length > 0, `${s.where}: has actions`);
    for (const action of s.Action) {
      t.type(action, 'string', `${s.where}: ${JSON.stringify(action)} is a literal action`);
      t.notOk(String(action).includes('*'), `${s.where}: ${action} has no wildcard`);
      t.match(action, /^[a-z0-9-]+:[A-Za-z0-9]+$/, `${s.where}: ${action} is service:Action`);
    }
    t.ok(s.Resource.length > 0, `${s.where}: has resources`);
    for (const resource of s.Resource) {
      if (resource === '*') {
        const unscoped = s.Action.filter((a) => !NO_RESOURCE_LEVEL.has(a));
        t.same(unscoped, [], `${s.where}: Resource '*' only for actions without resource-level permissions`);
        continue;
      }
      // Scoped: a resource of this template, or an ARN in this partition, region and account (S3 names are global).
      const text = JSON.stringify(resource);
      const fromTemplate = isObject(resource) && ('Ref' in resource || 'Fn::GetAtt' in resource);
      const arn = isObject(resource) && typeof resource['Fn::Sub'] === 'string' ? resource['Fn::Sub'] : undefined;
      if (fromTemplate) {
        t.pass(`${s.where}: ${text} is a resource of this stack`);
      } else if (arn !== undefined) {
        t.match(arn, /^arn:\$\{AWS::Partition\}:/, `${s.where}: ${arn} is in this partition`);
        if (!arn.includes(':s3:::'))
          t.match(arn, /:\$\{AWS::Region\}:\$\{AWS::AccountId\}:/, `${s.where}: ${arn} is in this region and account`);
        t.notMatch(arn, /:\*:|:\*$/, `${s.where}: ${arn} has no wildcard region, account or resource type`);
        const name = arn.split(':').slice(5).join(':');
        t.not(name, '*', `${s.where}: ${arn} names a resource type`);
      } else {
        t.fail(`${s.where}: ${text} is neither '*', a resource of this stack, nor an ARN built with Fn::Sub`);
      }
    }
  }
});

t.test('no admin or broad managed policies; roles trust only their service', async (t) => {
  const broad = /AdministratorAccess|PowerUserAccess|FullAccess|IAMFullAccess/;
  for (const [id, resource] of Object.entries(template.Resources)) {
    if (resource.Type !== 'AWS::IAM::Role') continue;
    const p = resource.Properties!;
    for (const arn of list(p.ManagedPolicyArns as Json[])) {
      const text = JSON.stringify(arn);
      t.notMatch(text, broad, `${id}: ${text} is not an admin or full-access policy`);
      t.ok(
        ALLOWED_MANAGED_POLICIES[id] !== undefined && text.includes(ALLOWED_MANAGED_POLICIES[id]!),
        `${id}: ${text} is one this role may have`,
      );
    }
    const trust = statementsOf(p.AssumeRolePolicyDocument!, `${id}/trust`);
    for (const s of trust) {
      t.same(s.Action, ['sts:AssumeRole'], `${id}: trust is sts:AssumeRole only`);
      const principal = s.raw.Principal as JsonObject;
      t.same(Object.keys(principal), ['Service'], `${id}: trusts a service, not an account or '*'`);
      t.ok(
        ['ecs-tasks.amazonaws.com', 'lambda.amazonaws.com'].includes(principal.Service as string),
        `${id}: trusts ${principal.Service}`,
      );
      // ECS documents aws:SourceAccount / aws:SourceArn for task roles; the execution and Lambda roles go without.
      if (id === 'TaskRole')
        t.ok(isObject(s.raw.Condition), `${id}: the trust is bound to this account's ECS (confused deputy)`);
    }
  }
  t.equal(
    Object.values(template.Resources).filter(
      (r) => r.Type === 'AWS::IAM::User' || r.Type === 'AWS::IAM::Group' || r.Type === 'AWS::IAM::AccessKey',
    ).length,
    0,
    'no users, groups or access keys',
  );
});

t.test('data at rest and logs (what cfn-guard would check)', async (t) => {
  const table = template.Resources.LeaseTable!.Properties!;
  t.same(table.PointInTimeRecoverySpecification, { PointInTimeRecoveryEnabled: true }, 'the lease table has PITR');
  t.same(table.SSESpecification, { SSEEnabled: true }, 'the lease table is encrypted with KMS');
  for (const [id, r] of Object.entries(template.Resources)) {
    if (r.Type === 'AWS::Kinesis::Stream')
      t.same(
        r.Properties!.StreamEncryption,
        { EncryptionType: 'KMS', KeyId: 'alias/aws/kinesis' },
        `${id} is encrypted`,
      );
    if (r.Type === 'AWS::Logs::LogGroup') t.ok(r.Properties!.RetentionInDays !== undefined, `${id} has a retention`);
    if (r.Type === 'AWS::DynamoDB::Table') t.ok(r.Properties!.SSESpecification !== undefined, `${id} has SSE`);
  }
  t.equal(
    template.Resources.ConfigParameter!.Properties!.Type,
    'String',
    'the configuration holds no secret (String, as KIT)',
  );
});

/** The actions a role is granted; with `parameters`, only the statements whose policy exists then. */
function granted(role: string, parameters?: Record<string, string>): Set<string> {
  const ctx = parameters === undefined ? undefined : { template, parameters: parameterValues(template, parameters) };
  return new Set(
    statements
      .filter((s) => s.role === role)
      .filter((s) => ctx === undefined || s.condition === undefined || evaluate({ Condition: s.condition }, ctx))
      .flatMap((s) => s.Action),
  );
}

const sorted = (set: Iterable<string>) => [...new Set(set)].sort();

t.test('the action extraction understands imports, aliases, types, waiters and DocumentClient commands', async (t) => {
  const text = `
    import {
      CreateTableCommand, DescribeTableCommand as Describe, type DynamoDBClient, waitUntilTableExists,
    } from '@aws-sdk/client-dynamodb';
    import type { PutRecordsCommand } from '@aws-sdk/client-kinesis';
    import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
    import { ListObjectsV2Command } from '@aws-sdk/client-s3';
    new CreateTableCommand({}); new Describe({}); await waitUntilTableExists({}, {});
    new UpdateCommand({}); new ListObjectsV2Command({});`;
  t.same(
    sorted(sdkCalls(text).map((c) => c.action)),
    ['dynamodb:CreateTable', 'dynamodb:DescribeTable', 'dynamodb:UpdateItem', 's3:ListBucket'],
    'GetCommand is imported but never sent; PutRecords is only a type',
  );
  t.throws(
    () => sdkCalls(`import { SendEmailCommand } from '@aws-sdk/client-ses'; new SendEmailCommand({});`),
    /no IAM prefix/,
  );
});

t.test("the worker's task role grants exactly the actions src/ calls", async (t) => {
  // src/local/ is the local stack (emulators, demo), not the worker.
  const files = sourceFiles(join(ROOT, 'src'), ['local']);
  const calls = callsIn(files);
  const called = sorted(calls.map((c) => c.action));
  t.ok(called.length >= 10, `the worker calls ${called.join(', ')}`);
  t.same(called, sorted(granted('TaskRole')), 'called == granted');
  // The waiter is how DescribeTable is reached besides DescribeTableCommand; GetMedia goes through its own client.
  t.ok(
    called.includes('dynamodb:DescribeTable') &&
      called.includes('kinesisvideo:GetMedia') &&
      called.includes('ssm:GetParameter'),
  );

  // And each is granted on the resource it is about.
  const expectedResource: Record<string, (resource: string) => boolean> = {
    dynamodb: (r) => r === '{"Fn::GetAtt":["LeaseTable","Arn"]}',
    kinesis: (r) => r === '{"Fn::GetAtt":["ResultsStream","Arn"]}',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a CloudFormation Fn::Sub placeholder, not a JS template
    sagemaker: (r) => r.includes(':endpoint/${SageMakerEndpoint}"'),
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a CloudFormation Fn::Sub placeholder, not a JS template
    ssm: (r) => r.includes(':parameter/${ConfigParameter}"'),
    kinesisvideo: (r) => r.includes(':stream/*"') || r === '"*"',
  };
  for (const s of statements.filter((x) => x.role === 'TaskRole')) {
    for (const action of s.Action) {
      const check = expectedResource[action.split(':')[0]!];
      for (const r of s.Resource) t.ok(check?.(JSON.stringify(r)), `${s.where}: ${action} on ${JSON.stringify(r)}`);
    }
  }
  t.same(granted('TaskExecutionRole'), new Set(), 'the execution role has only its managed policy');
});

// The Lambda consumer is written alongside this template; when it is absent this part has nothing to compare.
const LAMBDA_DIR = join(ROOT, 'cfn', 'lambda');
const lambdaFiles = existsSync(LAMBDA_DIR) ? sourceFiles(LAMBDA_DIR) : [];

t.test(
  "the Lambda's role grants exactly what its code and its event source mapping need",
  { skip: lambdaFiles.length === 0 ? 'cfn/lambda has no sources yet' : false },
  async (t) => {
    const called = sorted(callsIn(lambdaFiles).map((c) => c.action));
    t.ok(called.length > 0, `the Lambda calls ${called.join(', ')}`);
    // What Lambda's poller calls for a Kinesis event source mapping (shared throughput, no enhanced fan-out),
    // and what its runtime calls to ship the function's logs.
    const eventSource = [
      'kinesis:DescribeStream',
      'kinesis:DescribeStreamSummary',
      'kinesis:GetRecords',
      'kinesis:GetShardIterator',
      'kinesis:ListShards',
    ];
    const logging = ['logs:CreateLogStream', 'logs:PutLogEvents'];
    // Not called, but needed by one that is: without ListBucket, GetObject of a missing key is 403, not 404 NoSuchKey.
    const implied = called.includes('s3:GetObject') ? ['s3:ListBucket'] : [];
    const needed = sorted([...called, ...eventSource, ...logging, ...implied]);
    t.same(sorted(granted('ConsumerRole')), needed, 'needed == granted (with a results bucket)');

    // Without a bucket the Lambda never reaches S3 or KVS, and their statements are gone.
    const withoutBucket = sorted(granted('ConsumerRole', { ResultsBucket: '', ...REQUIRED }));
    t.same(withoutBucket, sorted([...eventSource, ...logging]), 'without ResultsBucket: only the stream and the logs');
    const withBucket = sorted(granted('ConsumerRole', { ResultsBucket: 'my-results', ...REQUIRED }));
    t.same(withBucket, needed, 'with ResultsBucket: everything');
  },
);

const REQUIRED = {
  DockerImageRepository: 'image',
  LambdaFunctionBucket: 'bucket',
  LambdaFunctionKey: 'key',
  SageMakerEndpoint: 'endpoint',
  StreamNames: 'front-door',
};
