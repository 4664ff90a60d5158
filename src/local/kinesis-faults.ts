// An HTTP proxy in front of kinesalite that rejects a seeded share of the records of each PutRecords
// call, the way Kinesis throttles a hot shard, so that partial-failure retries can be tested end to end.

import { randomUUID } from 'node:crypto';
import { Agent, createServer, type IncomingMessage, request, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface KinesisFaultProxyOptions {
  /** kinesalite's URL, e.g. http://127.0.0.1:4567. */
  target: string;
  /** Chance that each record of a PutRecords call is rejected, [0, 1). */
  putRecordsFailureRate: number;
  /** Returns [0, 1); seeded, so that a run replays exactly. */
  random: () => number;
  host: string;
  port?: number;
}

const PUT_RECORDS = 'Kinesis_20131202.PutRecords';
const AMZ_JSON = 'application/x-amz-json-1.1';

interface PutRecordsResult {
  FailedRecordCount?: number;
  Records?: Record<string, unknown>[];
  [key: string]: unknown;
}

export class KinesisFaultProxy {
  readonly url: string;
  readonly #server: Server;
  readonly #agent: Agent;
  #injected = 0;

  private constructor(server: Server, agent: Agent, url: string) {
    this.#server = server;
    this.#agent = agent;
    this.url = url;
  }

  static async start(options: KinesisFaultProxyOptions): Promise<KinesisFaultProxy> {
    const target = new URL(options.target);
    const agent = new Agent({ keepAlive: true });
    let proxy: KinesisFaultProxy | undefined;
    const server = createServer((req, res) => {
      proxy!.#handle(req, res, target, options).catch((error: Error) => {
        if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
        res.end(`kinesis fault proxy: ${error.message}`);
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, options.host, () => resolve());
    });
    const { port } = server.address() as AddressInfo;
    proxy = new KinesisFaultProxy(server, agent, `http://${options.host}:${port}`);
    return proxy;
  }

  /** Records rejected so far. */
  get injected(): number {
    return this.#injected;
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#agent.destroy();
  }

  async #handle(
    req: IncomingMessage,
    res: ServerResponse,
    target: URL,
    options: KinesisFaultProxyOptions,
  ): Promise<void> {
    const body = await readBody(req);
    const contentType = (req.headers['content-type'] ?? '').split(';')[0]!.trim();
    // The JS SDK v3 sends awsJson1_1. Clients that send CBOR (the Java SDK's default) pass through
    // untouched: decoding CBOR would need a dependency for a case no test here has.
    const parsed =
      req.headers['x-amz-target'] === PUT_RECORDS && contentType === AMZ_JSON ? parseJson(body) : undefined;
    const records = parsed?.Records;
    if (!parsed || !Array.isArray(records) || records.length === 0 || options.putRecordsFailureRate <= 0) {
      const upstream = await forward(req, body, target, this.#agent);
      res.writeHead(upstream.status, upstream.headers);
      res.end(upstream.body);
      return;
    }

    const rejected = records.map(() => options.random() < options.putRecordsFailureRate);
    const accepted = records.filter((_, i) => !rejected[i]);
    this.#injected += records.length - accepted.length;
    const throttled = {
      ErrorCode: 'ProvisionedThroughputExceededException',
      ErrorMessage:
        `Rate exceeded for shard shardId-000000000000 in stream ${String(parsed.StreamName)} under ` +
        `account 000000000000. (injected)`,
    };

    let upstreamResults: Record<string, unknown>[] = [];
    let upstreamFailed = 0;
    let headers: Headers = { 'content-type': AMZ_JSON, 'x-amzn-requestid': randomUUID() };
    // All rejected: kinesalite is not called, as Kinesis throttling a call writes nothing.
    if (accepted.length > 0) {
      const upstream = await forward(
        req,
        Buffer.from(JSON.stringify({ ...parsed, Records: accepted })),
        target,
        this.#agent,
      );
      const result = upstream.status === 200 ? (parseJson(upstream.body) as PutRecordsResult | undefined) : undefined;
      if (!result || !Array.isArray(result.Records)) {
        // A whole-call error (no such stream, bad request) is the answer, injected or not.
        res.writeHead(upstream.status, upstream.headers);
        res.end(upstream.body);
        return;
      }
      upstreamResults = result.Records;
      upstreamFailed = result.FailedRecordCount ?? 0;
      headers = upstream.headers;
    }

    let next = 0;
    const merged = rejected.map((isRejected) => (isRejected ? throttled : upstreamResults[next++]));
    const answer = Buffer.from(
      JSON.stringify({ FailedRecordCount: records.length - accepted.length + upstreamFailed, Records: merged }),
    );
    res.writeHead(200, { ...headers, 'content-length': String(answer.length) });
    res.end(answer);
  }
}

interface Upstream {
  status: number;
  headers: Headers;
  body: Buffer;
}

/**
 * Sends the request on to kinesalite with `body` (which may differ from what the client sent: no signature is checked).
 */
function forward(req: IncomingMessage, body: Buffer, target: URL, agent: Agent): Promise<Upstream> {
  return new Promise((resolve, reject) => {
    const headers = withoutHopByHop({ ...req.headers, host: target.host, 'content-length': String(body.length) });
    const upstream = request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers, agent },
      (res) => {
        readBody(res).then((responseBody) => {
          resolve({
            status: res.statusCode ?? 502,
            headers: withoutHopByHop({ ...res.headers, 'content-length': String(responseBody.length) }),
            body: responseBody,
          });
        }, reject);
      },
    );
    upstream.once('error', reject);
    upstream.end(body);
  });
}

type Headers = Record<string, string | string[] | undefined>;

/** Each side of the proxy has its own connection, so these headers stay on theirs. */
function withoutHopByHop(headers: Headers): Headers {
  const {
    connection: _connection,
    'keep-alive': _keepAlive,
    'transfer-encoding': _transferEncoding,
    ...rest
  } = headers;
  return rest;
}

function readBody(stream: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.once('end', () => resolve(Buffer.concat(chunks)));
    stream.once('error', reject);
  });
}

function parseJson(body: Buffer): PutRecordsResult | undefined {
  try {
    const value: unknown = JSON.parse(body.toString('utf8'));
    return typeof value === 'object' && value !== null ? (value as PutRecordsResult) : undefined;
  } catch {
    return undefined;
  }
}
