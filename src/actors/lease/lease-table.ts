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
import type { Checkpoint, Lease, LeaseItemProblem, LeaseStore, LeaseWriteOptions } from './lease-types.js';

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
        // Every item is a lease (the key is a string); a malformed one (hand-edited, another tool's or version's)
        // comes with its problems, which the coordinator reports, rather than being skipped and never read.
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
    const liveClause = live ? ', #live = :live' : ' REMOVE #live';
    const at = counterAt(lease);
    return this.#write(
      'take',
      lease,
      owner,
      {},
      {
        // The switches as read, plus one: every write of them moves the counter this take is conditional on, so the
        // read is what the item holds; and a malformed value (which `+` would refuse) is set afresh.
        UpdateExpression: `SET #owner = :owner, #counter = :next, #switches = :switches${liveClause}`,
        ConditionExpression: `attribute_exists(#key) AND ${at.condition}`,
        ExpressionAttributeNames: names('#key', '#owner', '#counter', '#switches', '#live'),
        ExpressionAttributeValues: {
          ':owner': owner,
          ':next': at.next,
          ...at.values,
          ':switches': lease.ownerSwitchesSinceCheckpoint + switched,
          ...(live ? { ':live': true } : {}),
        },
      },
      (current) => current.leaseOwner === owner,
    );
  }

  /** `workers`: the sync lease's holder records the live workers it listed (leaseAssignment 'leader'). */
  renew(lease: Lease, owner: string, options: LeaseWriteOptions & { workers?: string[] } = {}): Promise<Lease> {
    const { workers } = options;
    const at = counterAt(lease);
    return this.#write(
      'renew',
      lease,
      owner,
      options,
      {
        UpdateExpression: workers ? 'SET #counter = :next, #workers = :workers' : 'SET #counter = :next',
        ConditionExpression: `${at.condition} AND #owner = :owner`,
        ExpressionAttributeNames: names('#owner', '#counter', ...(workers ? (['#workers'] as const) : [])),
        ExpressionAttributeValues: {
          ':owner': owner,
          ':next': at.next,
          ...at.values,
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
    const at = counterAt(lease);
    return this.#deleteIf(
      lease.leaseKey,
      `attribute_exists(#key) AND ${at.condition}`,
      ['#key', '#counter'],
      at.values,
    );
  }

  deleteIfOwned(leaseKey: string, owner: string): Promise<boolean> {
    return this.#deleteIf(leaseKey, '#owner = :owner', ['#owner'], { ':owner': owner });
  }

  /** Deletes the lease only if `condition` holds; false when it does not (or the lease is gone). */
  async #deleteIf(
    leaseKey: string,
    condition: string,
    attributes: (keyof typeof NAMES)[],
    values: Record<string, unknown>,
  ): Promise<boolean> {
    checkKey(leaseKey);
    try {
      await this.#doc.send(
        new DeleteCommand({
          TableName: this.tableName,
          Key: { leaseKey },
          ConditionExpression: condition,
          ExpressionAttributeNames: names(...attributes),
          ...(Object.keys(values).length > 0 ? { ExpressionAttributeValues: values } : {}),
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
    const at = counterAt(lease);
    return this.#write(
      'checkpoint',
      lease,
      owner,
      options,
      {
        UpdateExpression: 'SET #counter = :next, #checkpoint = :checkpoint, #switches = :zero',
        ConditionExpression: `${at.condition} AND #owner = :owner`,
        ExpressionAttributeNames: names('#owner', '#counter', '#checkpoint', '#switches'),
        ExpressionAttributeValues: {
          ':owner': owner,
          ':next': at.next,
          ...at.values,
          ':checkpoint': value,
          ':zero': 0,
        },
      },
      (current) => current.leaseOwner === owner && sameCheckpoint(current.checkpoint, value),
    );
  }

  /** Hands the lease back (owner removed) so another worker takes it at once instead of after failover. */
  release(lease: Lease, owner: string): Promise<Lease> {
    const at = counterAt(lease);
    return this.#write(
      'release',
      lease,
      owner,
      {},
      {
        UpdateExpression: 'SET #counter = :next REMOVE #owner',
        ConditionExpression: `${at.condition} AND #owner = :owner`,
        ExpressionAttributeNames: names('#owner', '#counter'),
        ExpressionAttributeValues: { ':owner': owner, ':next': at.next, ...at.values },
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
      // the coordinator, which runs one write at a time per lease, then dates its proof from that one. Never a
      // malformed counter: none of our writes leaves one, so it proves nothing.
      const next = counterAt(lease).next;
      if (current && !current.malformedCounter && current.leaseCounter === next && applied(current)) return current;
      const found = current
        ? `found owner ${current.leaseOwner ?? '(none)'} and counter ${counterText(current)}, ` +
          `expected counter ${counterText(lease)}`
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

/**
 * The lease an item holds, or undefined for an object without a string `leaseKey` (never a table item: it is the
 * key). A malformed attribute, which KIT users, other tools and older versions may leave, is never skipped silently:
 * each one goes into `problems` with what is made of it, and the coordinator reports it (LEASE_ITEM_INVALID). What
 * can be read exactly is kept: the worker must neither leave a stream unread nor resume it past its checkpoint.
 */
export function parseLease(item: Record<string, unknown>): Lease | undefined {
  const { leaseKey, leaseOwner, leaseCounter, checkpoint, ownerSwitchesSinceCheckpoint, assigned, workers } = item;
  if (typeof leaseKey !== 'string') return undefined;
  const problems: LeaseItemProblem[] = [];
  const problem: Problem = (field, value, handling) => void problems.push({ field, found: shown(value), handling });
  const counted = typeof leaseCounter === 'number' && Number.isInteger(leaseCounter);
  const switches = ownerSwitchesSinceCheckpoint;
  const lease: Lease = {
    leaseKey,
    leaseCounter: counted ? leaseCounter : standIn(leaseCounter),
    ownerSwitchesSinceCheckpoint: typeof switches === 'number' && Number.isFinite(switches) ? switches : 0,
  };
  if (!counted) {
    // Skipped, it would stay unread for good: createLease finds it there. Repaired in place, it could be under
    // another worker's writes. Taken like any lease once expired or ownerless, conditional on the value as found.
    lease.malformedCounter = { value: leaseCounter };
    problem(
      'leaseCounter',
      leaseCounter,
      'not an integer number: the lease is taken over like any expired or ownerless one, by a write conditional on ' +
        `this exact value that sets the counter to ${counterAfter(leaseCounter)}; until then nobody reads it`,
    );
  }
  if (switches !== undefined && switches !== null && lease.ownerSwitchesSinceCheckpoint !== switches)
    problem('ownerSwitchesSinceCheckpoint', switches, 'read as 0; the next take sets it afresh');
  if (typeof leaseOwner === 'string' && leaseOwner !== '') lease.leaseOwner = leaseOwner;
  else if (leaseOwner !== undefined && leaseOwner !== null && leaseOwner !== '')
    problem('leaseOwner', leaseOwner, 'not a string: read as no owner, so the lease is free to take');
  // Read as live when in doubt: the new owner then waits out the old one's handover rather than overlap it.
  if (item.assignedLive === true) lease.assignedLive = true;
  else if (item.assignedLive !== undefined && item.assignedLive !== null && item.assignedLive !== false) {
    lease.assignedLive = true;
    problem('assignedLive', item.assignedLive, 'read as true: the new owner waits out the old one before reading');
  }
  // A string set comes back as a Set; anything else that is not a list of strings is ignored.
  const strings = (field: string, value: unknown): string[] | undefined => {
    const list = value instanceof Set ? [...value] : Array.isArray(value) ? value : undefined;
    if (list?.every((v) => typeof v === 'string')) return list.sort();
    if (value !== undefined && value !== null) problem(field, value, 'not a list of strings: ignored');
    return undefined;
  };
  const assignedKeys = strings('assigned', assigned);
  if (assignedKeys) lease.assigned = assignedKeys;
  const workerIds = strings('workers', workers);
  if (workerIds) lease.workers = workerIds;
  const parsed = parseCheckpoint(checkpoint, problem);
  if (parsed) lease.checkpoint = parsed;
  if (problems.length > 0) lease.problems = problems;
  return lease;
}

type Problem = (field: string, value: unknown, handling: string) => void;

const UNUSABLE =
  'the checkpoint cannot be used: the stream is read from the configured startSelectorType (NOW by default) as if ' +
  'never checkpointed, and its first checkpoint replaces this one; what came in between is not read';

/**
 * The checkpoint of an item, as exactly as it can be read. Reading resumes after `fragmentNumber` (at it when
 * `inclusive`, found by `serverTimestamp`), so a fragment number that can be read keeps the checkpoint: a number
 * spelled as a string is read as that number, and a `serverTimestamp` that cannot be read is NaN (unknown), which
 * only an inclusive checkpoint needs. Without a fragment number nothing says where to resume: the configured start.
 */
function parseCheckpoint(value: unknown, problem: Problem): Checkpoint | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isMap(value)) {
    problem('checkpoint', value, `not a map: ${UNUSABLE}`);
    return undefined;
  }
  const { fragmentNumber: number, serverTimestamp: time, keyframesSeen, nextSampleAt, inclusive } = value;
  let fragmentNumber: string;
  if (typeof number === 'string' && number !== '') fragmentNumber = number;
  else if (typeof number === 'bigint' || (typeof number === 'number' && Number.isSafeInteger(number))) {
    fragmentNumber = String(number);
    problem('checkpoint.fragmentNumber', number, `a number: read as "${fragmentNumber}"`);
  } else {
    problem('checkpoint.fragmentNumber', number, `not a fragment number: ${UNUSABLE}`);
    return undefined;
  }
  // Resuming at the fragment reads it again; resuming after it, when `inclusive` was meant, would skip it.
  const atFragment = inclusive !== undefined && inclusive !== null && inclusive !== false;
  if (atFragment && inclusive !== true)
    problem('checkpoint.inclusive', inclusive, 'read as true: the fragment is read again rather than skipped');
  let serverTimestamp = numberIn(time);
  if (serverTimestamp !== undefined && typeof time !== 'number')
    problem('checkpoint.serverTimestamp', time, `read as ${serverTimestamp}`);
  if (serverTimestamp === undefined) {
    serverTimestamp = Number.NaN;
    problem(
      'checkpoint.serverTimestamp',
      time,
      atFragment
        ? `not a number, and the inclusive fragment ${fragmentNumber} can only be found by it: reading resumes ` +
            'after that fragment instead, which is not read'
        : `not a number, which resuming after fragment ${fragmentNumber} does not need: read as unknown (NaN)`,
    );
  }
  const checkpoint: Checkpoint = { fragmentNumber, serverTimestamp };
  if (atFragment && Number.isFinite(serverTimestamp)) checkpoint.inclusive = true;
  if (keyframesSeen !== undefined && keyframesSeen !== null) {
    const count = numberIn(keyframesSeen);
    if (count !== undefined && Number.isSafeInteger(count) && count >= 0) {
      checkpoint.keyframesSeen = count;
      if (typeof keyframesSeen !== 'number') problem('checkpoint.keyframesSeen', keyframesSeen, `read as ${count}`);
    } else {
      problem(
        'checkpoint.keyframesSeen',
        keyframesSeen,
        'not a count: ignored, so the I-frame count restarts at 0 (with inferenceInterval above 1, other I-frames ' +
          'are sampled than the previous owner would have)',
      );
    }
  }
  if (nextSampleAt !== undefined && nextSampleAt !== null) {
    const at = numberIn(nextSampleAt);
    if (at !== undefined) {
      checkpoint.nextSampleAt = at;
      if (typeof nextSampleAt !== 'number') problem('checkpoint.nextSampleAt', nextSampleAt, `read as ${at}`);
    } else {
      problem('checkpoint.nextSampleAt', nextSampleAt, 'not a number: ignored, sampling by time starts afresh');
    }
  }
  return checkpoint;
}

const isMap = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' &&
  value !== null &&
  !Array.isArray(value) &&
  !(value instanceof Set) &&
  !(value instanceof Uint8Array);

/** A finite number, or a string that spells one exactly (decimal digits, as DynamoDB would store it); else none. */
function numberIn(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value !== 'string' || !/^-?\d+(\.\d+)?$/.test(value)) return undefined;
  const number = Number(value);
  return Number.isFinite(number) ? number : undefined;
}

/**
 * The condition that the item's counter is what `lease` was read with, the values it uses, and the counter a write
 * on it sets. A malformed counter is matched as found, value and type: any write of ours that landed meanwhile
 * (each writes a number) or any edit fails the condition, as a moved counter does, so one reader per stream holds.
 */
function counterAt(lease: Lease): { condition: string; values: Record<string, unknown>; next: number } {
  const malformed = lease.malformedCounter;
  if (!malformed)
    return {
      condition: '#counter = :expected',
      values: { ':expected': lease.leaseCounter },
      next: lease.leaseCounter + 1,
    };
  const next = counterAfter(malformed.value);
  if (malformed.value === undefined) return { condition: 'attribute_not_exists(#counter)', values: {}, next };
  return { condition: '#counter = :expected', values: { ':expected': malformed.value }, next };
}

/** The counter a take writes over a malformed one: one more than the whole number it spells, else 1. */
function counterAfter(value: unknown): number {
  const number = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
  const next = typeof number === 'number' ? Math.floor(number) + 1 : 1;
  return Number.isSafeInteger(next) && next > 0 ? next : 1;
}

const counterText = (lease: Lease): string =>
  lease.malformedCounter ? shown(lease.malformedCounter.value) : String(lease.leaseCounter);

/**
 * The stand-in counter of a malformed one: negative (ours never are) and a hash of the value, so that it moves
 * when the value does and another worker's expiry judgement sees the change.
 */
function standIn(value: unknown): number {
  const text = `${typeof value}:${canonical(value)}`;
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return -1 - hash;
}

/** Longest value a LEASE_ITEM_INVALID message quotes. */
const SHOWN_MAX = 120;

/** A value found, as JSON (sets as lists, big numbers as digits), cut short past SHOWN_MAX characters. */
function shown(value: unknown): string {
  if (value === undefined) return 'absent';
  const text = canonical(value);
  return text.length > SHOWN_MAX ? `${text.slice(0, SHOWN_MAX)}... (${text.length} characters)` : text;
}

function canonical(value: unknown): string {
  if (value instanceof Uint8Array) return `binary of ${value.length} bytes`;
  // A number too long for a double comes back from DynamoDB as a bigint.
  if (typeof value === 'bigint') return `${value}`;
  const json = JSON.stringify(value, (_key, v: unknown) =>
    typeof v === 'bigint'
      ? `${v}`
      : v instanceof Set
        ? [...v]
        : v instanceof Uint8Array
          ? `binary of ${v.length} bytes`
          : v,
  );
  return json ?? String(value);
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
