// The IAM actions a body of TypeScript calls, derived from the AWS SDK v3 commands, waiters and paginators it
// imports and uses, so that a test can compare them with what a role grants.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** SDK package -> IAM service prefix. A package not listed here fails the derivation: add it deliberately. */
export const SERVICE_PREFIX: Record<string, string> = {
  '@aws-sdk/client-dynamodb': 'dynamodb',
  '@aws-sdk/lib-dynamodb': 'dynamodb',
  '@aws-sdk/client-kinesis': 'kinesis',
  '@aws-sdk/client-kinesis-video': 'kinesisvideo',
  '@aws-sdk/client-kinesis-video-media': 'kinesisvideo',
  '@aws-sdk/client-kinesis-video-archived-media': 'kinesisvideo',
  '@aws-sdk/client-sagemaker-runtime': 'sagemaker',
  '@aws-sdk/client-ssm': 'ssm',
  '@aws-sdk/client-s3': 's3',
};

/** Commands whose IAM action is not their name without `Command`. */
const ACTION_OF_COMMAND: Record<string, Record<string, string>> = {
  // The DocumentClient's commands marshal and call the table operations.
  '@aws-sdk/lib-dynamodb': {
    GetCommand: 'GetItem',
    PutCommand: 'PutItem',
    UpdateCommand: 'UpdateItem',
    DeleteCommand: 'DeleteItem',
    ScanCommand: 'Scan',
    QueryCommand: 'Query',
    BatchGetCommand: 'BatchGetItem',
    BatchWriteCommand: 'BatchWriteItem',
    TransactGetCommand: 'TransactGetItems',
    TransactWriteCommand: 'TransactWriteItems',
  },
  '@aws-sdk/client-s3': {
    // S3's list operations are authorized as ListBucket; HeadObject as GetObject.
    ListObjectsV2Command: 'ListBucket',
    ListObjectsCommand: 'ListBucket',
    HeadObjectCommand: 'GetObject',
    HeadBucketCommand: 'ListBucket',
  },
};

/** Waiters poll a Describe/Get operation. */
const ACTION_OF_WAITER: Record<string, string> = {
  waitUntilTableExists: 'DescribeTable',
  waitForTableExists: 'DescribeTable',
  waitUntilTableNotExists: 'DescribeTable',
  waitUntilStreamExists: 'DescribeStream',
  waitUntilObjectExists: 'GetObject',
};

export interface SdkCall {
  file: string;
  pkg: string;
  symbol: string;
  action: string;
}

/** The calls one source text makes: imported (as values, not types) and used (`new X(`, `waitX(`, `paginateX(`). */
export function sdkCalls(text: string, file = '<text>'): SdkCall[] {
  const calls: SdkCall[] = [];
  const imports = /import\s+(type\s+)?\{([^}]*)\}\s*from\s*['"](@aws-sdk\/[^'"]+)['"]/g;
  for (const match of text.matchAll(imports)) {
    if (match[1]) continue; // import type { ... }
    const pkg = match[3]!;
    for (const raw of match[2]!.split(',')) {
      const spec = raw.trim();
      if (spec === '' || spec.startsWith('type ')) continue;
      const [imported, local = imported] = spec.split(/\s+as\s+/).map((s) => s.trim()) as [string, string?];
      const isCommand = imported.endsWith('Command');
      const isWaiter = /^wait(Until|For)[A-Z]/.test(imported);
      const isPaginator = /^paginate[A-Z]/.test(imported);
      if (!isCommand && !isWaiter && !isPaginator) continue;
      const used = isCommand
        ? new RegExp(`\\bnew\\s+${local}\\s*\\(`).test(text)
        : new RegExp(`\\b${local}\\s*\\(`).test(text);
      if (!used) continue;
      const prefix = SERVICE_PREFIX[pkg];
      if (prefix === undefined)
        throw new Error(`${file}: ${imported} comes from ${pkg}, which has no IAM prefix in SERVICE_PREFIX`);
      let action: string | undefined;
      if (isCommand) action = ACTION_OF_COMMAND[pkg]?.[imported] ?? imported.slice(0, -'Command'.length);
      else if (isWaiter) action = ACTION_OF_WAITER[imported];
      else action = imported.slice('paginate'.length);
      if (action === undefined) throw new Error(`${file}: the waiter ${imported} has no action in ACTION_OF_WAITER`);
      calls.push({ file, pkg, symbol: imported, action: `${prefix}:${action}` });
    }
  }
  return calls;
}

/** The TypeScript sources under `dir` (not declarations), minus any path starting with one of `exclude`. */
export function sourceFiles(dir: string, exclude: string[] = []): string[] {
  return (readdirSync(dir, { recursive: true }) as string[])
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
    .filter((f) => !exclude.some((e) => f === e || f.startsWith(`${e}/`)))
    .map((f) => join(dir, f))
    .sort();
}

export function callsIn(files: string[]): SdkCall[] {
  return files.flatMap((file) => sdkCalls(readFileSync(file, 'utf8'), file));
}
