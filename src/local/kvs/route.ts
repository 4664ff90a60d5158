// What an API operation looks like to the server: a POST path and one of three handler shapes
// (JSON in and out, JSON in and a media stream out, or the raw request for PutMedia).

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { JsonObject } from './http-io.js';
import type { StreamRegistry } from './stream-registry.js';

export interface Clock {
  now(): number;
}

export interface ApiContext {
  registry: StreamRegistry;
  clock: Clock;
  /** The base URL the request came in on (its Host header; else the server's own): the answer to GetDataEndpoint. */
  url: string;
  requestId: string;
  maxGetMediaConnections: number;
}

export type Route =
  | { path: string; kind: 'json'; handle: (input: JsonObject, ctx: ApiContext) => unknown }
  /** Validates, then starts the response itself (errors thrown before that become AWS errors). */
  | { path: string; kind: 'media'; handle: (input: JsonObject, ctx: ApiContext, res: ServerResponse) => Promise<void> }
  | {
      path: string;
      kind: 'raw';
      handle: (req: IncomingMessage, res: ServerResponse, ctx: ApiContext) => Promise<void>;
    };
