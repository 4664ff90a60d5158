// GetDataEndpoint answers, cached per stream for the life KVS documents for them (call it about every 45 minutes;
// a cached endpoint is safe when it is fetched again on failure): a reconnect or a lease taken again costs no
// control-plane call, which matters under GetDataEndpoint's quota (300 per second per account, 5 per stream).

import { GetDataEndpointCommand, type KinesisVideoClient } from '@aws-sdk/client-kinesis-video';

/** How long an answer is used: the KVS service quotas page's "once every 45 minutes". */
export const DATA_ENDPOINT_TTL_MS = 45 * 60 * 1000;

export interface DataEndpointsOptions {
  control: Pick<KinesisVideoClient, 'send'>;
  /** The API the endpoints are for, e.g. GET_MEDIA. */
  apiName: 'GET_MEDIA' | 'LIST_FRAGMENTS' | 'GET_MEDIA_FOR_FRAGMENT_LIST';
  /** Default DATA_ENDPOINT_TTL_MS. */
  ttlMs?: number;
  /** Monotonic ms; default performance.now. */
  now?: () => number;
}

export class DataEndpoints {
  readonly #options: DataEndpointsOptions;
  readonly #ttlMs: number;
  readonly #now: () => number;
  readonly #cache = new Map<string, { endpoint: string; fetchedAt: number }>();

  constructor(options: DataEndpointsOptions) {
    this.#options = options;
    this.#ttlMs = options.ttlMs ?? DATA_ENDPOINT_TTL_MS;
    this.#now = options.now ?? (() => performance.now());
  }

  /** The stream's data endpoint: cached while younger than the TTL, else asked for (and cached). */
  async resolve(streamName: string, signal?: AbortSignal): Promise<string> {
    const cached = this.#cache.get(streamName);
    if (cached !== undefined && this.#now() - cached.fetchedAt < this.#ttlMs) return cached.endpoint;
    const { DataEndpoint } = await this.#options.control.send(
      new GetDataEndpointCommand({ StreamName: streamName, APIName: this.#options.apiName }),
      { abortSignal: signal },
    );
    if (!DataEndpoint) throw new Error('GetDataEndpoint answered no DataEndpoint');
    this.#cache.set(streamName, { endpoint: DataEndpoint, fetchedAt: this.#now() });
    return DataEndpoint;
  }

  /**
   * Forgets a stream's endpoint after `error` from a call to it, when the error may mean the endpoint is wrong or
   * gone: no HTTP answer at all (connection refused, DNS, deadline) or a 5xx. A KVS error answered by the endpoint
   * (a 4xx such as ResourceNotFoundException) proves it right, and keeps it.
   */
  forgetAfter(streamName: string, error: unknown): void {
    const status = (error as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata?.httpStatusCode;
    if (status === undefined || status >= 500) this.#cache.delete(streamName);
  }
}
