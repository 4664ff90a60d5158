// What the worker's DynamoDB calls cost: every read and write asks DynamoDB for its consumed capacity (free to ask),
// and the units are handed to a callback, so that a fleet's lease-table bill can be read off its metrics.

import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';

export type CapacityKind = 'read' | 'write';

const KIND_OF_OPERATION: Readonly<Record<string, CapacityKind>> = {
  GetItemCommand: 'read',
  QueryCommand: 'read',
  ScanCommand: 'read',
  BatchGetItemCommand: 'read',
  TransactGetItemsCommand: 'read',
  PutItemCommand: 'write',
  UpdateItemCommand: 'write',
  DeleteItemCommand: 'write',
  BatchWriteItemCommand: 'write',
  TransactWriteItemsCommand: 'write',
};

/** The DocumentClient's commands carry the names of its own classes. */
const DOCUMENT_COMMANDS: Readonly<Record<string, string>> = {
  GetCommand: 'GetItemCommand',
  PutCommand: 'PutItemCommand',
  UpdateCommand: 'UpdateItemCommand',
  DeleteCommand: 'DeleteItemCommand',
  ScanCommand: 'ScanCommand',
  QueryCommand: 'QueryCommand',
  BatchGetCommand: 'BatchGetItemCommand',
  BatchWriteCommand: 'BatchWriteItemCommand',
  TransactGetCommand: 'TransactGetItemsCommand',
  TransactWriteCommand: 'TransactWriteItemsCommand',
};

interface Consumed {
  CapacityUnits?: number;
}

function units(consumed: Consumed | Consumed[] | undefined): number {
  if (consumed === undefined) return 0;
  return (Array.isArray(consumed) ? consumed : [consumed]).reduce((sum, c) => sum + (c.CapacityUnits ?? 0), 0);
}

/**
 * Adds a middleware to `client` (and so to DocumentClients built on it) that asks every read and write for its
 * consumed capacity and reports the units. A conditional write that fails still costs a write; DynamoDB does not say
 * how much, so it is counted as 1 unit (a lease item is well under 1 KB).
 */
export function meterConsumedCapacity(
  client: Pick<DynamoDBClient, 'middlewareStack'>,
  onUnits: (kind: CapacityKind, units: number) => void,
): void {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const name = context.commandName ?? '';
      const kind = KIND_OF_OPERATION[DOCUMENT_COMMANDS[name] ?? name];
      if (kind === undefined) return next(args);
      const input = args.input as { ReturnConsumedCapacity?: string };
      input.ReturnConsumedCapacity ??= 'TOTAL';
      try {
        const result = await next(args);
        const spent = units((result.output as { ConsumedCapacity?: Consumed | Consumed[] }).ConsumedCapacity);
        if (spent > 0) onUnits(kind, spent);
        return result;
      } catch (error) {
        if ((error as Error).name === 'ConditionalCheckFailedException') onUnits('write', 1);
        throw error;
      }
    },
    { step: 'initialize', name: 'meterConsumedCapacity', override: true },
  );
}
