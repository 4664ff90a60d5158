// The DynamoDB lease table (one per application): KCL's item layout, and every take, renew,
// checkpoint and release a conditional write on `leaseCounter`, so two workers never both hold a lease.

import {
  CreateTableCommand,
  DescribeTableCommand,
  type DynamoDBClient,
  type TableDescription,
  waitUntilTableExists,
} from '@aws-sdk/client-dynamodb';
import {
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  ScanCommand,
  UpdateCommand,
  type UpdateCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { LeaseError } from './lease-errors.js';
import type { Checkpoint, Lease, LeaseStore, LeaseWriteOptions } from './lease-types.js';

export interface LeaseTableOptions {
  /** The caller owns it (endpoint, retries, destroy); the table only sends through it. */
  client: DynamoDBClient;
  tableName: string;
  /** How long create() waits for a new table to become ACTIVE. Default 120 s. */
  maxWaitSeconds?: number;
}

// Names go through placeholders: several KCL attribute names are close to DynamoDB reserved words.
const NAMES = {
  '#key': 'leaseKey',
  '#owner': 'leaseOwner',
  '#counter': 'leaseCounter',
  '#checkpoint': 'checkpoint',
  '#switches': 'ownerSwitchesSinceCheckpoint',
  '#live': 'assignedLive',
  '#assigned': 'assigned',
  '#workers': 'workers',
} as const;

type Names = Partial<Record<keyof typeof NAMES, string>>;
const names = (...keys: (keyof typeof NAMES)[]): Names => Object.fromEntries(keys.map((k) => [k, NAMES[k]]));

export class LeaseTable implements LeaseStore {
  readonly tableName: string;
  readonly #doc: DynamoDBDocumentClient;

  private constructor(client: DynamoDBClient, tableName: string) {
    this.tableName = tableName;
    this.#doc = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
  }

  /** Opens the table, creating it (PAY_PER_REQUEST, key `leaseKey`) if missing, once it is ACTIVE. */
  static async create(options: LeaseTableOptions): Promise<LeaseTable> {
    const { client, tableName } = options;
    if (!tableName) throw new LeaseError('BAD_LEASE_OPTIONS', 'LeaseTable needs a tableName');
    let description = await describe(client, tableName);
    if (!description) {
      try {
        await client.send(
          new CreateTableCommand({
            TableName: tableName,
            KeySchema: [{ AttributeName: 'leaseKey', KeyType: 'HASH' }],
            AttributeDefinitions: [{ AttributeName: 'leaseKey', AttributeType: 'S' }],
            BillingMode: 'PAY_PER_REQUEST',
          }),
        );
      } catch (error) {
        // Every worker of a new application starts at once; all but one lose this race, which is fine.
        if (errorName(error) !== 'ResourceInUseException')
          throw tableFailed(`creating lease table ${tableName}`, error);
      }
      description = await describe(client, tableName);
    }
    const key = description?.KeySchema;
    if (description && (key?.length !== 1 || key[0]?.AttributeName !== 'leaseKey' || key[0]?.KeyType !== 'HASH')) {
      throw new LeaseError(
        'LEASE_TABLE_INVALID',
        `table ${tableName} exists but is not keyed by leaseKey alone: ${JSON.stringify(key)}`,
      );
    }
    if (description?.TableStatus !== 'ACTIVE') {
      try {
        // Short delays: a local emulator is ACTIVE at once, and AWS within seconds.
        await waitUntilTableExists(
          { client, maxWaitTime: options.maxWaitSeconds ?? 120, minDelay: 1, maxDelay: 5 },
          { TableName: tableName },
        );
      } catch (error) {
        throw new LeaseError('LEASE_TABLE_INVALID', `lease table ${tableName} did not become ACTIVE`, { cause: error });
      }
    }
    return new LeaseTable(client, tableName);
  }

  /**
   * Every lease; strongly consistent unless `consistentRead` is false. An eventually consistent Scan costs
   * half the read capacity and may show a lease a write or two behind: fine for a caller that only acts
   * through writes conditional on the counter it read, since a stale counter only makes its write fail.
   * `abortSignal` abandons the scan, whichever page it is on (LEASE_TABLE_FAILED).
   */
  async list({
    consistentRead = true,
    abortSignal,
  }: {
    consistentRead?: boolean;
    abortSignal?: AbortSignal;
  } = {}): Promise<Lease[]> {
    const leases: Lease[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.#send(`listing leases of ${this.tableName}`, null, null, () =>
        this.#doc.send(
          new ScanCommand({ TableName: this.tableName, ConsistentRead: consistentRead, ExclusiveStartKey: start }),
          { abortSignal },
        ),
      );
      for (const item of page.Items ?? []) {
        // An item that is not a lease (hand-edited, another tool's) is skipped rather than crash the worker.
        const lease = parseLease(item);
        if (lease) leases.push(lease);
      }
      start = page.LastEvaluatedKey;
    } while (start);
    return leases.sort((a, b) => (a.leaseKey < b.leaseKey ? -1 : a.leaseKey > b.leaseKey ? 1 : 0));
  }

  async get(
    leaseKey: string,
    { consistentRead = true }: { consistentRead?: boolean } = {},
  ): Promise<Lease | undefined> {
    checkKey(leaseKey);
    const out = await this.#send(`reading lease ${leaseKey}`, leaseKey, null, () =>
      this.#doc.send(new GetCommand({ TableName: this.tableName, Key: { leaseKey }, ConsistentRead: consistentRead })),
    );
    return out.Item ? parseLease(out.Item) : undefined;
  }

  async createLease(leaseKey: string): Promise<boolean> {
    checkKey(leaseKey);
    try {
      await this.#doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { leaseKey, leaseCounter: 0, ownerSwitchesSinceCheckpoint: 0 },
          ConditionExpression: 'attribute_not_exists(#key)',
          ExpressionAttributeNames: names('#key'),
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailed(error)) return false;
      throw tableFailed(`creating lease ${leaseKey}`, error, leaseKey);
    }
  }

  /** Unconditional, as in KCL: a holder finds out at its next renewal (LEASE_LOST, reason 'deleted'). */
  async deleteLease(leaseKey: string): Promise<void> {
    checkKey(leaseKey);
    await this.#send(`deleting lease ${leaseKey}`, leaseKey, null, () =>
      this.#doc.send(new DeleteCommand({ TableName: this.tableName, Key: { leaseKey } })),
    );
  }

  /**
   * Takes (or steals) the lease as read, for `owner` (another worker when the leader assigns it); conditional on its
   * counter alone, since the owner may be anyone. `live` marks a lease moved from a live owner (assignedLive).
   */
  take(lease: Lease, owner: string, { live = false }: { live?: boolean } = {}): Promise<Lease> {
    const switched = lease.leaseOwner !== owner ? 1 : 0;
    return this.#write(
      'take',
      lease,
      owner,
      {},
      {
        UpdateExpression:
          'SET #owner = :owner, #counter = :next, #switches = if_not_exists(#switches, :zero) + :switched' +
          (live ? ', #live = :live' : ' REMOVE #live'),
        ConditionExpression: 'attribute_exists(#key) AND #counter = :expected',
        ExpressionAttributeNames: names('#key', '#owner', '#counter', '#switches', '#live'),
        ExpressionAttributeValues: {
          ':owner': owner,
          ':next': lease.leaseCounter + 1,
          ':expected': lease.leaseCounter,
          ':zero': 0,
          ':switched': switched,
          ...(live ? { ':live': true } : {}),
        },
      },
      (current) => current.leaseOwner === owner,
    );
  }

  /** `workers`: the sync lease's holder records the live workers it listed (leaseAssignment 'leader'). */
  renew(lease: Lease, owner: string, options: LeaseWriteOptions & { workers?: string[] } = {}): Promise<Lease> {
    const { workers } = options;
    return this.#write(
      'renew',
      lease,
      owner,
      options,
      {
        UpdateExpression: workers ? 'SET #counter = :next, #workers = :workers' : 'SET #counter = :next',
        ConditionExpression: '#counter = :expected AND #owner = :owner',
        ExpressionAttributeNames: names('#owner', '#counter', ...(workers ? (['#workers'] as const) : [])),
        ExpressionAttributeValues: {
          ':owner': owner,
          ':next': lease.leaseCounter + 1,
          ':expected': lease.leaseCounter,
          ...(workers ? { ':workers': workers } : {}),
        },
      },
      (current) => current.leaseOwner === owner,
    );
  }

  /** Adds to a worker item's assigned set; an item that is gone (its worker departed) is not re-created. */
  async notifyAssigned(workerKey: string, leaseKeys: string[]): Promise<void> {
    await this.#updateAssigned('ADD', workerKey, leaseKeys);
  }

  async clearAssigned(workerKey: string, leaseKeys: string[]): Promise<void> {
    await this.#updateAssigned('DELETE', workerKey, leaseKeys);
  }

  async #updateAssigned(action: 'ADD' | 'DELETE', workerKey: string, leaseKeys: string[]): Promise<void> {
    checkKey(workerKey);
    if (leaseKeys.length === 0) return;
    try {
      await this.#doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { leaseKey: workerKey },
          UpdateExpression: `${action} #assigned :keys`,
          ConditionExpression: 'attribute_exists(#key)',
          ExpressionAttributeNames: names('#key', '#assigned'),
          ExpressionAttributeValues: { ':keys': new Set(leaseKeys) },
        }),
      );
    } catch (error) {
      if (!isConditionFailed(error))
        throw tableFailed(`updating the assigned leases of ${workerKey}`, error, workerKey);
    }
  }

  deleteIfUnchanged(lease: Lease): Promise<boolean> {
    return this.#deleteIf(lease.leaseKey, '#counter', lease.leaseCounter);
  }

  deleteIfOwned(leaseKey: string, owner: string): Promise<boolean> {
    return this.#deleteIf(leaseKey, '#owner', owner);
  }

  /** Deletes the lease only if its `attribute` is `expected`; false when it is not (or the lease is gone). */
  async #deleteIf(leaseKey: string, attribute: '#counter' | '#owner', expected: unknown): Promise<boolean> {
    checkKey(leaseKey);
    try {
      await this.#doc.send(
        new DeleteCommand({
          TableName: this.tableName,
          Key: { leaseKey },
          ConditionExpression: `${attribute} = :expected`,
          ExpressionAttributeNames: names(attribute),
          ExpressionAttributeValues: { ':expected': expected },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailed(error)) return false;
      throw tableFailed(`deleting ${leaseKey}`, error, leaseKey);
    }
  }

  /**
   * Records progress. As in KCL's updateLease it bumps the counter too: the owner's write proves it
   * alive like a renewal, and any write racing it on the same counter must fail.
   */
  checkpoint(lease: Lease, owner: string, checkpoint: Checkpoint, options: LeaseWriteOptions = {}): Promise<Lease> {
    if (typeof checkpoint?.fragmentNumber !== 'string' || !Number.isFinite(checkpoint.serverTimestamp)) {
      throw new LeaseError(
        'BAD_LEASE_OPTIONS',
        `checkpoint of lease ${lease.leaseKey} needs a fragmentNumber string and a numeric serverTimestamp`,
        {
          leaseKey: lease.leaseKey,
          owner,
        },
      );
    }
    const value: Checkpoint = {
      fragmentNumber: checkpoint.fragmentNumber,
      serverTimestamp: checkpoint.serverTimestamp,
    };
    if (Number.isInteger(checkpoint.keyframesSeen)) value.keyframesSeen = checkpoint.keyframesSeen;
    if (Number.isFinite(checkpoint.nextSampleAt)) value.nextSampleAt = checkpoint.nextSampleAt;
    if (checkpoint.inclusive === true) value.inclusive = true;
    return this.#write(
      'checkpoint',
      lease,
      owner,
      options,
      {
        UpdateExpression: 'SET #counter = :next, #checkpoint = :checkpoint, #switches = :zero',
        ConditionExpression: '#counter = :expected AND #owner = :owner',
        ExpressionAttributeNames: names('#owner', '#counter', '#checkpoint', '#switches'),
        ExpressionAttributeValues: {
          ':owner': owner,
          ':next': lease.leaseCounter + 1,
          ':expected': lease.leaseCounter,
          ':checkpoint': value,
          ':zero': 0,
        },
      },
      (current) => current.leaseOwner === owner && sameCheckpoint(current.checkpoint, value),
    );
  }

  /** Hands the lease back (owner removed) so another worker takes it at once instead of after failover. */
  release(lease: Lease, owner: string): Promise<Lease> {
    return this.#write(
      'release',
      lease,
      owner,
      {},
      {
        UpdateExpression: 'SET #counter = :next REMOVE #owner',
        ConditionExpression: '#counter = :expected AND #owner = :owner',
        ExpressionAttributeNames: names('#owner', '#counter'),
        ExpressionAttributeValues: {
          ':owner': owner,
          ':next': lease.leaseCounter + 1,
          ':expected': lease.leaseCounter,
        },
      },
      (current) => current.leaseOwner === undefined,
    );
  }

  async #write(
    operation: string,
    lease: Lease,
    owner: string,
    { abortSignal }: LeaseWriteOptions,
    input: Omit<UpdateCommandInput, 'TableName' | 'Key' | 'ReturnValues'>,
    applied: (current: Lease) => boolean,
  ): Promise<Lease> {
    checkKey(lease.leaseKey);
    if (!owner)
      throw new LeaseError('BAD_LEASE_OPTIONS', `${operation} of lease ${lease.leaseKey} needs an owner`, {
        leaseKey: lease.leaseKey,
      });
    try {
      const command = new UpdateCommand({
        ...input,
        TableName: this.tableName,
        Key: { leaseKey: lease.leaseKey },
        ReturnValues: 'ALL_NEW',
      });
      const out = await this.#doc.send(command, { abortSignal });
      const updated = out.Attributes ? parseLease(out.Attributes) : undefined;
      if (!updated) throw new Error(`UpdateItem returned no lease for ${lease.leaseKey}`);
      return updated;
    } catch (error) {
      if (!isConditionFailed(error))
        throw tableFailed(`${operation} of lease ${lease.leaseKey} by ${owner}`, error, lease.leaseKey, owner);
      const current = await this.get(lease.leaseKey);
      // The SDK retries a write whose answer was lost; the retry then fails the very condition its first
      // attempt satisfied. Exactly our write having landed shows as counter+1 with the expected outcome.
      // An earlier write of the caller's that got no answer (timed out, abandoned) and landed shows the same:
      // the coordinator, which runs one write at a time per lease, then dates its proof from that one.
      if (current && current.leaseCounter === lease.leaseCounter + 1 && applied(current)) return current;
      const found = current
        ? `found owner ${current.leaseOwner ?? '(none)'} and counter ${current.leaseCounter}, ` +
          `expected counter ${lease.leaseCounter}`
        : 'the lease no longer exists';
      throw new LeaseError('LEASE_LOST', `${operation} of lease ${lease.leaseKey} by ${owner} failed: ${found}`, {
        leaseKey: lease.leaseKey,
        owner,
        current,
        cause: error,
      });
    }
  }

  async #send<T>(what: string, leaseKey: string | null, owner: string | null, send: () => Promise<T>): Promise<T> {
    try {
      return await send();
    } catch (error) {
      throw tableFailed(what, error, leaseKey, owner);
    }
  }
}

/** The lease an item holds, or undefined for an item that is not one. */
export function parseLease(item: Record<string, unknown>): Lease | undefined {
  const { leaseKey, leaseOwner, leaseCounter, checkpoint, ownerSwitchesSinceCheckpoint, assigned, workers } = item;
  if (typeof leaseKey !== 'string' || typeof leaseCounter !== 'number' || !Number.isInteger(leaseCounter))
    return undefined;
  const lease: Lease = {
    leaseKey,
    leaseCounter,
    ownerSwitchesSinceCheckpoint: typeof ownerSwitchesSinceCheckpoint === 'number' ? ownerSwitchesSinceCheckpoint : 0,
  };
  if (typeof leaseOwner === 'string' && leaseOwner !== '') lease.leaseOwner = leaseOwner;
  if (item.assignedLive === true) lease.assignedLive = true;
  // A string set comes back as a Set; anything else that is not a list of strings is ignored.
  const strings = (value: unknown): string[] | undefined => {
    const list = value instanceof Set ? [...value] : Array.isArray(value) ? value : undefined;
    return list?.every((v) => typeof v === 'string') ? list.sort() : undefined;
  };
  const assignedKeys = strings(assigned);
  if (assignedKeys) lease.assigned = assignedKeys;
  const workerIds = strings(workers);
  if (workerIds) lease.workers = workerIds;
  const cp = checkpoint as Partial<Checkpoint> | undefined;
  if (cp && typeof cp.fragmentNumber === 'string' && typeof cp.serverTimestamp === 'number') {
    lease.checkpoint = { fragmentNumber: cp.fragmentNumber, serverTimestamp: cp.serverTimestamp };
    if (typeof cp.keyframesSeen === 'number' && Number.isInteger(cp.keyframesSeen) && cp.keyframesSeen >= 0)
      lease.checkpoint.keyframesSeen = cp.keyframesSeen;
    // Anything else starts sampling by time afresh (the next I-frame), as a checkpoint without it does.
    if (typeof cp.nextSampleAt === 'number' && Number.isFinite(cp.nextSampleAt))
      lease.checkpoint.nextSampleAt = cp.nextSampleAt;
    // Only `true` counts: anything else reads as a completed fragment, which resumes after it (the older behaviour).
    if (cp.inclusive === true) lease.checkpoint.inclusive = true;
  }
  return lease;
}

/** The same position: the same fragment, both inclusive or neither (the sampler's state follows from the fragment). */
function sameCheckpoint(a: Checkpoint | undefined, b: Checkpoint): boolean {
  return a?.fragmentNumber === b.fragmentNumber && a.inclusive === b.inclusive;
}

async function describe(client: DynamoDBClient, tableName: string): Promise<TableDescription | undefined> {
  try {
    return (await client.send(new DescribeTableCommand({ TableName: tableName }))).Table;
  } catch (error) {
    if (errorName(error) === 'ResourceNotFoundException') return undefined;
    throw tableFailed(`describing lease table ${tableName}`, error);
  }
}

function checkKey(leaseKey: string): void {
  if (typeof leaseKey !== 'string' || leaseKey === '')
    throw new LeaseError(
      'BAD_LEASE_OPTIONS',
      `a lease key must be a non-empty string, got ${JSON.stringify(leaseKey)}`,
    );
}

// By name, not instanceof: a second copy of the SDK in node_modules would defeat instanceof.
const errorName = (error: unknown): string | undefined => (error instanceof Error ? error.name : undefined);
const isConditionFailed = (error: unknown): boolean => errorName(error) === 'ConditionalCheckFailedException';

function tableFailed(
  what: string,
  error: unknown,
  leaseKey: string | null = null,
  owner: string | null = null,
): LeaseError {
  if (error instanceof LeaseError) return error;
  const detail = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return new LeaseError('LEASE_TABLE_FAILED', `${what} failed: ${detail}`, { leaseKey, owner, cause: error });
}
